package mysql_test

import (
	"context"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/audittest"
	"github.com/flamingock/flamingock-go/audit/mysql"
)

func TestConformance(t *testing.T) {
	srv := newServer(t) // skips without MySQL
	t.Run("stores opened from a store URL", func(t *testing.T) {
		audittest.Run(t, func(t *testing.T) audittest.Namespace {
			p := prefix(t)
			return audittest.Namespace{
				Open: func(ctx context.Context) (audit.Store, error) {
					return mysql.Open(ctx, srv.url, mysql.WithTablePrefix(p))
				},
				Tamper: tamperer{srv.admin, p + "_audit"},
			}
		})
	})
	// New on the caller's handle, with neither parseTime nor loc=UTC nor
	// the store's sql_mode: the store must not depend on them.
	t.Run("stores on the caller's handle", func(t *testing.T) {
		db := srv.handle(t, "")
		audittest.Run(t, func(t *testing.T) audittest.Namespace {
			p := prefix(t)
			return audittest.Namespace{
				Open: func(ctx context.Context) (audit.Store, error) {
					return mysql.New(ctx, db, mysql.WithTablePrefix(p))
				},
				Tamper: tamperer{srv.admin, p + "_audit"},
			}
		})
	})
}
