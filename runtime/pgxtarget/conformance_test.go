package pgxtarget_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/targettest"
)

// TestConformance runs the conformance suite of targets against the pgx
// target: built by Shared on the audit store's pool, and by New on a pool
// of its own.
func TestConformance(t *testing.T) {
	srv := pgtest.New(t) // skips without PostgreSQL
	fixture := func(t *testing.T, shared bool) targettest.Fixture[pgx.Tx] {
		schema := srv.Schema(t)
		store := newStore(t, srv.Pool(t, pgtest.MaxConns(2)), schema)
		if _, err := store.Snapshot(t.Context()); err != nil {
			t.Fatal(err)
		}
		pool, tg, disconnect := store.Pool(), pgxtarget.Shared(store), func() {}
		if !shared {
			pool = srv.Pool(t, pgtest.SearchPath(schema), pgtest.MaxConns(2))
			tg, disconnect = pgxtarget.New(pool), pool.Close
		}
		table := pgx.Identifier{schema, "effects"}.Sanitize()
		if _, err := pool.Exec(t.Context(), "CREATE TABLE "+table+" (id text PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		return targettest.Fixture[pgx.Tx]{
			Target: tg,
			Store:  store,
			Apply: func(ctx context.Context, tx pgx.Tx, id string) error {
				_, err := tx.Exec(ctx, "INSERT INTO "+table+" (id) VALUES ($1)", id)
				return err
			},
			Undo: func(ctx context.Context, tx pgx.Tx, id string) error {
				_, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE id = $1", id)
				return err
			},
			Has: func(ctx context.Context, id string) (bool, error) {
				var n int
				err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE id = $1", id).Scan(&n)
				return n > 0, err
			},
			Disconnect: disconnect,
		}
	}
	t.Run("Shared on the audit store's pool", func(t *testing.T) {
		targettest.Run(t, targettest.Harness[pgx.Tx]{
			New:              func(t *testing.T) targettest.Fixture[pgx.Tx] { return fixture(t, true) },
			Transactional:    audit.StrategySharedTx,
			NonTransactional: audit.StrategyNonTx,
		})
	})
	t.Run("New on a pool of its own", func(t *testing.T) {
		targettest.Run(t, targettest.Harness[pgx.Tx]{
			New:              func(t *testing.T) targettest.Fixture[pgx.Tx] { return fixture(t, false) },
			Transactional:    audit.StrategySeparateTx,
			NonTransactional: audit.StrategyNonTx,
		})
	})
}
