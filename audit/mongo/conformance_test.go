package mongo_test

import (
	"context"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/audittest"
	"github.com/flamingock/flamingock-go/audit/mongo"
)

func TestConformance(t *testing.T) {
	newServer(t) // skips without MongoDB
	t.Run("stores opened from a URI, each with its own client", func(t *testing.T) {
		audittest.Run(t, func(t *testing.T) audittest.Namespace {
			srv := newServer(t)
			db := srv.database(t)
			return audittest.Namespace{
				Open: func(ctx context.Context) (audit.Store, error) {
					return mongo.Open(ctx, srv.uri, mongo.WithDatabase(db))
				},
				Tamper: newTamperer(srv, db, mongo.DefaultCollectionPrefix),
			}
		})
	})
	// New exercises stores sharing the caller's client, with a prefix, in a
	// database that already holds another store's populated trail: the
	// prefix keeps the trails apart.
	t.Run("stores on the caller's client beside another trail", func(t *testing.T) {
		audittest.Run(t, func(t *testing.T) audittest.Namespace {
			srv := newServer(t)
			name := srv.database(t)
			db := srv.admin.Database(name)
			other, err := mongo.New(t.Context(), db)
			if err != nil {
				t.Fatalf("New for the other trail: %v", err)
			}
			l, err := other.Acquire(t.Context(), "pipeline", "runner-other", time.Minute)
			if err != nil {
				t.Fatalf("acquire in the other trail: %v", err)
			}
			if _, err := other.Append(t.Context(), l, validEntry("other")); err != nil {
				t.Fatalf("append to the other trail: %v", err)
			}
			return audittest.Namespace{
				Open: func(ctx context.Context) (audit.Store, error) {
					return mongo.New(ctx, db, mongo.WithCollectionPrefix("app.trail"))
				},
				Tamper: newTamperer(srv, name, "app.trail"),
			}
		})
	})
}
