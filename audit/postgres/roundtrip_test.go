package postgres_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

// TestRoundTrips pins how many statements and round trips each operation
// costs on a connected pool (DESIGN §7 fast path, issue 3 item 4). Counts,
// not times: they do not depend on the machine.
func TestRoundTrips(t *testing.T) {
	srv := newServer(t)
	schema := srv.schema(t)
	pool, c := pgtest.New(t).CountedPool(t)
	ctx := t.Context()

	var s *postgres.Store
	var lease audit.Lease
	var tx pgx.Tx
	var sqlTx *sql.Tx
	steps := []struct {
		name       string
		statements int
		roundTrips int
		run        func() error
	}{
		// Opening sends nothing: the start of an up-to-date pipeline costs
		// its snapshot alone.
		{"New", 0, 0, func() (err error) {
			s, err = postgres.New(ctx, pool, postgres.WithSchema(schema))
			return err
		}},
		// The snapshot fails (no schema), so the store inspects the
		// catalog, creates what is missing (one multi-statement
		// transaction), inspects again and reads again.
		{"Snapshot on a fresh schema", 5, 5, func() error { _, err := s.Snapshot(ctx); return err }},
		// A store on existing tables reads without looking at them.
		{"New on existing tables", 0, 0, func() (err error) {
			s, err = postgres.New(ctx, pool, postgres.WithSchema(schema))
			return err
		}},
		{"Snapshot on existing tables", 1, 1, func() error { _, err := s.Snapshot(ctx); return err }},
		// Its first write checks the tables first, once.
		{"Acquire on a free key, the store's first write", 2, 2, func() (err error) {
			lease, err = s.Acquire(ctx, "k", "runner-a", time.Minute)
			return err
		}},
		{"Snapshot", 1, 1, func() error { _, err := s.Snapshot(ctx); return err }},
		{"History", 1, 1, func() error { _, err := s.History(ctx, audit.Filter{Stage: "s1"}); return err }},
		{"Lock", 1, 1, func() error { _, err := s.Lock(ctx, "k"); return err }},
		// The refused statement, then the read of who holds the key.
		{"Acquire on a held key", 2, 2, func() error {
			if _, err := s.Acquire(ctx, "k", "runner-b", time.Minute); err == nil {
				t.Error("Acquire on a held key succeeded")
			}
			return nil
		}},
		{"Refresh", 1, 1, func() (err error) {
			lease, err = s.Refresh(ctx, lease)
			return err
		}},
		// Appends run as a prepared statement: the first on a connection
		// prepares it (one more round trip), the next ones only execute it.
		{"Append, the first on the connection", 1, 2, func() error { _, err := s.Append(ctx, lease, validEntry("a")); return err }},
		{"Append again", 1, 1, func() error { _, err := s.Append(ctx, lease, validEntry("b")); return err }},
		// The refused insert, then the read that says why, before which pgx
		// deallocates the prepared append (it drops a cached statement
		// after any error), so the next append prepares it again.
		{"Append with a fenced lease", 2, 3, func() error {
			stale := lease
			stale.Epoch--
			if _, err := s.Append(ctx, stale, validEntry("c")); err == nil {
				t.Error("Append with a stale epoch succeeded")
			}
			return nil
		}},
		{"Begin", 1, 1, func() (err error) { tx, err = pool.Begin(ctx); return err }},
		{"AppendTx, preparing the append again", 1, 2, func() error { _, err := s.AppendTx(ctx, tx, lease, validEntry("d")); return err }},
		{"Commit", 1, 1, func() error { return tx.Commit(ctx) }},
		// database/sql over the same pool and connection: the same costs, the
		// same prepared statement.
		{"Begin on DB", 1, 1, func() (err error) { sqlTx, err = s.DB().BeginTx(ctx, nil); return err }},
		{"AppendSQLTx", 1, 1, func() error { _, err := s.AppendSQLTx(ctx, sqlTx, lease, validEntry("e")); return err }},
		{"Commit on DB", 1, 1, func() error { return sqlTx.Commit() }},
		// CommitTx sends the append and COMMIT as one batch: one round trip,
		// which the counter sees, and no statement it traces (it traces
		// queries, not batches). The first batch on the connection prepares
		// COMMIT too, in one more round trip.
		{"Begin for CommitTx", 1, 1, func() (err error) { tx, err = pool.Begin(ctx); return err }},
		{"CommitTx, the first on the connection", 0, 2, func() error { _, err := s.CommitTx(ctx, tx, lease, validEntry("f")); return err }},
		// The pgxpool.Tx still holds the connection: Rollback releases it,
		// at the cost of a round trip that does nothing.
		{"Rollback after CommitTx", 1, 1, func() error { return tx.Rollback(ctx) }},
		{"Begin for CommitTx again", 1, 1, func() (err error) { tx, err = pool.Begin(ctx); return err }},
		{"CommitTx", 0, 1, func() error { _, err := s.CommitTx(ctx, tx, lease, validEntry("g")); return err }},
		{"Rollback after CommitTx again", 1, 1, func() error { return tx.Rollback(ctx) }},
		{"Release", 1, 1, func() error { return s.Release(ctx, lease) }},
		{"Acquire on a released key", 1, 1, func() error {
			_, err := s.Acquire(ctx, "k", "runner-b", time.Minute)
			return err
		}},
		{"Snapshot of a trail", 1, 1, func() error {
			got, err := s.Snapshot(ctx)
			if len(got) != 6 {
				t.Errorf("Snapshot holds %d entries, want 6", len(got))
			}
			return err
		}},
	}
	for _, step := range steps {
		c.Reset()
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		statements, roundTrips := c.Counts()
		if statements != step.statements || roundTrips != step.roundTrips {
			t.Errorf("%s: %d statements in %d round trips, want %d in %d",
				step.name, statements, roundTrips, step.statements, step.roundTrips)
		}
	}
}
