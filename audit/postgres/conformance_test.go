package postgres_test

import (
	"context"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/audittest"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

func TestConformance(t *testing.T) {
	newServer(t) // skips without PostgreSQL
	t.Run("stores opened from a DSN", func(t *testing.T) {
		audittest.Run(t, func(t *testing.T) audittest.Namespace {
			srv := newServer(t)
			schema := srv.schema(t)
			return audittest.Namespace{
				Open: func(ctx context.Context) (audit.Store, error) {
					return postgres.Open(ctx, srv.dsn, postgres.WithSchema(schema))
				},
				Tamper: newTamperer(srv, schema, "flamingock"),
			}
		})
	})
	// Mixed case and a custom prefix exercise the quoting of every name;
	// New exercises stores on a pool the caller owns.
	t.Run("stores on the caller's pool with quoted names", func(t *testing.T) {
		audittest.Run(t, func(t *testing.T) audittest.Namespace {
			srv := newServer(t)
			schema := srv.schemaNamed(t, pgtest.Name(t, "Mixed"))
			return audittest.Namespace{
				Open: func(ctx context.Context) (audit.Store, error) {
					return postgres.New(ctx, srv.admin, postgres.WithSchema(schema), postgres.WithTablePrefix("Trail"))
				},
				Tamper: newTamperer(srv, schema, "Trail"),
			}
		})
	})
}
