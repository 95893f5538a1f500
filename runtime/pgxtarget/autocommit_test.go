package pgxtarget_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestHandleWithoutTransaction(t *testing.T) {
	e := newEnv(t)
	fx := effects(t, e.pool, e.schema)
	tg := pgxtarget.New(e.pool)
	// begin starts the unit of work of a change declared
	// transactional=false, as the runner does.
	begin := func(t *testing.T) pipeline.Work[pgx.Tx] {
		t.Helper()
		w, err := tg.BeginNonTx(t.Context(), pipeline.BeginRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	// seen counts the rows of id as another connection sees them.
	seen := func(t *testing.T, id string) int {
		t.Helper()
		return ran(t, e.srv.Admin, fx, id)
	}

	t.Run("each statement commits when it runs, and Commit and Rollback change nothing", func(t *testing.T) {
		w := begin(t)
		h := w.Handle()
		if err := effect(fx, "autocommit")(t.Context(), h); err != nil {
			t.Fatal(err)
		}
		if n := seen(t, "autocommit"); n != 1 {
			t.Fatalf("another connection sees %d rows while the change runs, want 1", n)
		}
		if err := h.Rollback(t.Context()); err != nil {
			t.Errorf("Rollback = %v, want nil", err)
		}
		if err := h.Commit(t.Context()); err != nil {
			t.Errorf("Commit = %v, want nil", err)
		}
		if err := w.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := seen(t, "autocommit"); n != 1 {
			t.Errorf("%d rows after Rollback and Commit of the handle, want 1", n)
		}
	})

	t.Run("the change keeps one connection, so session settings carry over", func(t *testing.T) {
		w := begin(t)
		defer w.Commit(t.Context())
		h := w.Handle()
		if _, err := h.Exec(t.Context(), "SET application_name = 'flamingock-cic'"); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := h.QueryRow(t.Context(), "SHOW application_name").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name != "flamingock-cic" {
			t.Errorf("application_name = %q in the next statement, want the one just set", name)
		}
		if h.Conn() == nil {
			t.Error("Conn() = nil")
		}
	})

	t.Run("Begin starts a real transaction", func(t *testing.T) {
		w := begin(t)
		defer w.Commit(t.Context())
		tx, err := w.Handle().Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := effect(fx, "nested")(t.Context(), tx); err != nil {
			t.Fatal(err)
		}
		if n := seen(t, "nested"); n != 0 {
			t.Errorf("another connection sees %d uncommitted rows, want 0", n)
		}
		if err := tx.Rollback(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := seen(t, "nested"); n != 0 {
			t.Errorf("%d rows after rolling the transaction back, want 0", n)
		}
	})

	t.Run("large objects, which need a transaction, fail instead of misbehaving", func(t *testing.T) {
		w := begin(t)
		defer w.Commit(t.Context())
		lo := w.Handle().LargeObjects()
		if _, err := lo.Create(t.Context(), 0); !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("LargeObjects().Create = %v, want pgx.ErrTxClosed", err)
		}
	})

	t.Run("a change that leaves a transaction open fails, and the transaction is rolled back", func(t *testing.T) {
		leaves := func(ctx context.Context, h pgx.Tx) error {
			tx, err := h.Begin(ctx)
			if err != nil {
				return err
			}
			return effect(fx, "left-open")(ctx, tx)
		}
		_, err := runner(t, e.store, stages(change("left-open", 1, tg, false, leaves))).Run(t.Context())
		if !errors.Is(err, pipeline.ErrChangeFailed) || !strings.Contains(err.Error(), "still open; it was rolled back") {
			t.Fatalf("Run error = %v, want the open transaction reported", err)
		}
		if n := seen(t, "left-open"); n != 0 {
			t.Errorf("%d rows of the transaction left open, want 0", n)
		}
		if diff := cmp.Diff([]string{"STARTED NON_TX", "FAILED NON_TX"}, states(history(t, e.store, "left-open"))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

// TestCreateIndexConcurrentlyUnderTheLock is the proof of issue 3 item 2.
// CREATE INDEX CONCURRENTLY waits, before it finishes, for every transaction
// of its database that holds a snapshot older than its own. Tools whose lock
// keeps a transaction open on a second connection (or that run every
// change in a transaction) make it wait for them while they wait for it:
// the deadlock users hit. Here the lock is a lease row written by single
// statements, so while a change declared transactional=false runs, nothing
// of the runner's is inside a transaction, and the index gets built.
func TestCreateIndexConcurrentlyUnderTheLock(t *testing.T) {
	srv := pgtest.New(t)

	// run applies, in db, a table with rows (in a shared transaction), then
	// an index on it built concurrently (without a transaction), with the
	// audit store and the target on one pool. During the second change it
	// lists the other sessions of db that are inside a transaction. The
	// index waits for others at most wait. Each run has a database of its
	// own: CREATE INDEX CONCURRENTLY waits for the transactions of its
	// database only, so other tests cannot disturb it.
	run := func(t *testing.T, db, wait string) (others []string, err error) {
		pool := srv.Pool(t, pgtest.Database(db))
		store := newStore(t, pool, "public")
		tg := pgxtarget.Shared(store)
		table := func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) AS g")
			return err
		}
		index := func(ctx context.Context, h pgx.Tx) error {
			rows, err := h.Query(ctx, `SELECT pid || ' ' || state || ': ' || coalesce(query, '') FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND (xact_start IS NOT NULL OR backend_xmin IS NOT NULL)`)
			if err != nil {
				return err
			}
			if others, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			// A bound, so that a regression fails instead of hanging.
			if _, err := h.Exec(ctx, "SET lock_timeout = '"+wait+"'"); err != nil {
				return err
			}
			_, err = h.Exec(ctx, "CREATE INDEX CONCURRENTLY items_id ON items (id)")
			return err
		}
		st := stages(change("items", 1, tg, true, table), change("items-index", 2, tg, false, index))
		_, err = runner(t, store, st).Run(t.Context())
		return others, err
	}

	t.Run("it runs under the lock and completes", func(t *testing.T) {
		db := srv.Database(t)
		others, err := run(t, db, "60s")
		if err != nil {
			t.Fatal(err)
		}
		if len(others) > 0 {
			t.Errorf("inside the change, other sessions of the database were in a transaction: %q", others)
		}
		var valid bool
		check := srv.Pool(t, pgtest.Database(db), pgtest.MaxConns(1))
		if err := check.QueryRow(t.Context(), "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_id'::regclass").Scan(&valid); err != nil {
			t.Fatal(err)
		}
		if !valid {
			t.Error("the index is not valid")
		}
	})

	// The control: what the first subtest checks does catch a transaction
	// held open elsewhere, as a lock held in a transaction would be.
	t.Run("a transaction held open elsewhere in the database would block it", func(t *testing.T) {
		db := srv.Database(t)
		holder := srv.Pool(t, pgtest.Database(db), pgtest.MaxConns(1))
		tx, err := holder.BeginTx(t.Context(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		var one int
		if err := tx.QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil { // takes the snapshot
			t.Fatal(err)
		}

		others, err := run(t, db, "200ms")

		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
			t.Fatalf("Run error = %v, want CREATE INDEX CONCURRENTLY to give up waiting (SQLSTATE 55P03)", err)
		}
		if len(others) != 1 {
			t.Errorf("inside the change, sessions in a transaction = %q, want the holder's only", others)
		}
	})
}
