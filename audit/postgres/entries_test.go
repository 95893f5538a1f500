package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/audittest"
	"github.com/flamingock/flamingock-go/audit/postgres"
)

// insertRow writes a row behind the store's back: a valid APPLIED entry
// with the columns of set changed. It returns the row's seq.
func (s *server) insertRow(t *testing.T, auditTable string, set map[string]any) int64 {
	t.Helper()
	row := map[string]any{
		"schema_version": 1, "execution_id": "exec-1", "stage": "s1", "change_id": "a",
		"change_order": 1, "author": "", "state": "APPLIED", "occurred_at": time.Now(),
		"duration_ns": 0, "host": "", "runner_id": "", "target_id": "", "strategy": "NON_TX",
		"recovery": "MANUAL", "checksum": "", "error_message": "", "error_kind": "",
		"operator": "", "reason": "", "metadata": nil,
	}
	for k, v := range set {
		if _, ok := row[k]; !ok {
			t.Fatalf("insertRow: no column %s", k)
		}
		row[k] = v
	}
	var cols, params []string
	var args []any
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range row {
			if !yield(k) {
				return
			}
		}
	}) {
		cols = append(cols, k)
		args = append(args, row[k])
		params = append(params, fmt.Sprintf("$%d", len(args)))
	}
	var seq int64
	err := s.admin.QueryRow(t.Context(), "INSERT INTO "+auditTable+" ("+strings.Join(cols, ", ")+") VALUES ("+
		strings.Join(params, ", ")+") RETURNING seq", args...).Scan(&seq)
	if err != nil {
		t.Fatalf("insert row %v: %v", set, err)
	}
	return seq
}

func TestCorruptRowsFailTheWholeRead(t *testing.T) {
	tests := []struct {
		name string
		prep string // run first, {audit} being the table
		set  map[string]any
		want string
	}{
		{"an order that is no order, once its CHECK is dropped", "ALTER TABLE {audit} DROP CONSTRAINT change_order_non_negative_integer",
			map[string]any{"change_order": 1.5}, `invalid order "1.5"`},
		{"an unknown state", "", map[string]any{"state": "DONE"}, `unknown state "DONE"`},
		{"a row written by a newer release", "", map[string]any{"schema_version": 2}, "newer flamingock-go"},
		{"an invalid row layout", "", map[string]any{"schema_version": 0}, "invalid row layout 0"},
		{"a missing execution id", "", map[string]any{"execution_id": ""}, "missing execution id"},
		{"an unknown strategy", "", map[string]any{"strategy": "MAGIC"}, `unknown strategy "MAGIC"`},
		{"metadata that is an array", "", map[string]any{"metadata": `[1, 2]`}, "metadata is not a JSON object"},
		{"metadata that is a string", "", map[string]any{"metadata": `"x"`}, "metadata is not a JSON object"},
		{"a manual mark without its operator", "", map[string]any{"state": "MANUAL_MARKED_AS_APPLIED", "reason": "why"},
			"needs an operator and a reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			s, schema := srv.open(t)
			auditTable, _ := tables(schema, "flamingock")
			srv.insertRow(t, auditTable, map[string]any{"change_id": "fine"})
			// The control: the unchanged row reads back.
			if got, err := s.Snapshot(t.Context()); err != nil || len(got) != 1 {
				t.Fatalf("Snapshot of a valid row: %d entries, %v", len(got), err)
			}
			if tt.prep != "" {
				srv.exec(t, strings.ReplaceAll(tt.prep, "{audit}", auditTable))
			}
			seq := srv.insertRow(t, auditTable, tt.set)
			reads := map[string]func() ([]audit.Entry, error){
				"Snapshot": func() ([]audit.Entry, error) { return s.Snapshot(t.Context()) },
				"History":  func() ([]audit.Entry, error) { return s.History(t.Context(), audit.Filter{}) },
			}
			for name, read := range reads {
				got, err := read()
				if !errors.Is(err, audit.ErrCorrupt) {
					t.Errorf("%s = %d entries, %v; want ErrCorrupt", name, len(got), err)
					continue
				}
				var corrupt *audit.CorruptError
				if !errors.As(err, &corrupt) {
					t.Fatalf("%s: %T is not a *audit.CorruptError", name, err)
				}
				if want := fmt.Sprintf("entry seq %d in %s", seq, auditTable); corrupt.Where != want {
					t.Errorf("%s: Where = %q, want %q", name, corrupt.Where, want)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: error %q does not say %q", name, err, tt.want)
				}
			}
		})
	}
}

// TestTrailOverTheBoundsStaysReadable shows that the bounds are checked by
// the appends only: entries longer than them, written before the bounds
// existed, are read back.
func TestTrailOverTheBoundsStaysReadable(t *testing.T) {
	srv := newServer(t)
	s, schema := srv.open(t)
	auditTable, _ := tables(schema, "flamingock")
	l, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Append(t.Context(), l, validEntry("old"))
	if err != nil {
		t.Fatal(err)
	}
	want = audittest.OverTheBounds(want)
	srv.exec(t, "UPDATE "+auditTable+" SET stage = $1, change_id = $2, target_id = $3, author = $4 WHERE seq = $5",
		want.Stage, want.ChangeID, want.TargetID, want.Author, want.Seq)
	audittest.ReadsBack(t, s, want)
}

func TestAppendReturnsTheEntryAsStored(t *testing.T) {
	srv := newServer(t)
	s, _ := srv.open(t)
	l, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	in := validEntry("a")
	in.Time = time.Date(2025, 6, 1, 12, 0, 0, 123_456_789, time.FixedZone("CEST", 2*3600))
	in.Duration = 1500*time.Millisecond + 7
	in.Metadata = json.RawMessage(`{"b":  [1, 2], "a": {"x": null}}`)
	got, err := s.Append(t.Context(), l, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 6, 1, 10, 0, 0, 123_456_000, time.UTC); !got.Time.Equal(want) || got.Time.Location() != time.UTC {
		t.Errorf("Append returned time %s, want %s: truncated to PostgreSQL's microseconds, in UTC", got.Time, want)
	}
	if got.Duration != in.Duration {
		t.Errorf("Append returned duration %s, want %s (nanoseconds are kept)", got.Duration, in.Duration)
	}
	// Exact equality, no tolerance: what Append returns is what reads return.
	for name, read := range map[string]func() ([]audit.Entry, error){
		"Snapshot": func() ([]audit.Entry, error) { return s.Snapshot(t.Context()) },
		"History":  func() ([]audit.Entry, error) { return s.History(t.Context(), audit.Filter{Stage: "s1"}) },
	} {
		stored, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]audit.Entry{got}, stored); diff != "" {
			t.Errorf("%s differs from what Append returned (-append +%s):\n%s", name, name, diff)
		}
	}
}

// changeTx is a transaction of the store's database running a change and
// recording it: a pgx one with AppendTx, or a database/sql one with
// AppendSQLTx.
type changeTx struct {
	exec     func(ctx context.Context, sql string) error
	append   func(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error)
	commit   func(ctx context.Context) error
	rollback func(ctx context.Context) error
}

var changeTxs = []struct {
	name  string
	begin func(t *testing.T, s *postgres.Store) changeTx
}{
	{"a pgx transaction on Pool, with AppendTx", func(t *testing.T, s *postgres.Store) changeTx {
		tx, err := s.Pool().Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return changeTx{
			exec: func(ctx context.Context, sql string) error { _, err := tx.Exec(ctx, sql); return err },
			append: func(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
				return s.AppendTx(ctx, tx, l, e)
			},
			commit: tx.Commit, rollback: tx.Rollback,
		}
	}},
	{"a database/sql transaction on DB, with AppendSQLTx", func(t *testing.T, s *postgres.Store) changeTx {
		tx, err := s.DB().BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return changeTx{
			exec: func(ctx context.Context, sql string) error { _, err := tx.ExecContext(ctx, sql); return err },
			append: func(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
				return s.AppendSQLTx(ctx, tx, l, e)
			},
			commit:   func(context.Context) error { return tx.Commit() },
			rollback: func(context.Context) error { return tx.Rollback() },
		}
	}},
}

func TestAppendInsideTheChangeTransaction(t *testing.T) {
	srv := newServer(t)
	for _, kind := range changeTxs {
		t.Run(kind.name, func(t *testing.T) {
			s, schema := srv.open(t)
			auditTable, _ := tables(schema, "flamingock")
			target := pgx.Identifier{schema, "accounts"}.Sanitize()
			srv.exec(t, "CREATE TABLE "+target+" (id int)")
			lease, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}

			// apply runs a change and records it in one transaction, then
			// commits it, or rolls it back when commit is false. It returns
			// the entry as the append returned it.
			apply := func(t *testing.T, l audit.Lease, e audit.Entry, commit bool) (audit.Entry, error) {
				t.Helper()
				tx := kind.begin(t, s)
				defer tx.rollback(context.Background())
				if err := tx.exec(t.Context(), "INSERT INTO "+target+" VALUES (1)"); err != nil {
					t.Fatal(err)
				}
				stored, err := tx.append(t.Context(), l, e)
				if err != nil {
					return audit.Entry{}, err
				}
				if commit {
					return stored, tx.commit(t.Context())
				}
				return stored, tx.rollback(t.Context())
			}

			t.Run("the change and its entry commit together", func(t *testing.T) {
				e := validEntry("committed")
				e.Metadata = json.RawMessage(`{"ticket": "OPS-1", "n": 2}`)
				got, err := apply(t, lease, e, true)
				if err != nil {
					t.Fatal(err)
				}
				if a, c := srv.count(t, auditTable), srv.count(t, target); a != 1 || c != 1 {
					t.Errorf("after commit: %d entries and %d target rows, want 1 and 1", a, c)
				}
				h, err := s.History(t.Context(), audit.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]audit.Entry{got}, h); diff != "" {
					t.Errorf("the entry the append returned differs from the one stored (-returned +stored):\n%s", diff)
				}
			})
			t.Run("a rollback loses both", func(t *testing.T) {
				if _, err := apply(t, lease, validEntry("rolled-back"), false); err != nil {
					t.Fatal(err)
				}
				if a, c := srv.count(t, auditTable), srv.count(t, target); a != 1 || c != 1 {
					t.Errorf("after rollback: %d entries and %d target rows, want still 1 and 1", a, c)
				}
			})
			t.Run("a fenced lease is refused inside the transaction", func(t *testing.T) {
				stale := lease
				stale.Epoch--
				_, err := apply(t, stale, validEntry("fenced"), true)
				if !errors.Is(err, audit.ErrFenced) {
					t.Fatalf("append with a stale epoch: got %v, want ErrFenced", err)
				}
				// The reason is read through the pool: the refusal aborted the
				// transaction.
				if want := fmt.Sprintf(`it was taken over by "runner-a" at epoch %d`, lease.Epoch); !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal %q does not say %q", err, want)
				}
				if a, c := srv.count(t, auditTable), srv.count(t, target); a != 1 || c != 1 {
					t.Errorf("after a fenced append: %d entries and %d target rows, want still 1 and 1", a, c)
				}
			})
			t.Run("an entry over a bound is refused inside the transaction", func(t *testing.T) {
				_, err := apply(t, lease, validEntry(strings.Repeat("x", audit.MaxIDLen+1)), true)
				if want := fmt.Sprintf("change id of %d bytes", audit.MaxIDLen+1); err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("append of a change id over the bound: got %v, want an error saying %q", err, want)
				}
				if a, c := srv.count(t, auditTable), srv.count(t, target); a != 1 || c != 1 {
					t.Errorf("after a refused append: %d entries and %d target rows, want still 1 and 1", a, c)
				}
			})
		})
	}
	t.Run("a nil transaction is an error", func(t *testing.T) {
		s, _ := srv.open(t)
		if _, err := s.AppendTx(t.Context(), nil, audit.Lease{}, validEntry("x")); err == nil {
			t.Error("AppendTx accepted a nil transaction")
		}
		if _, err := s.AppendSQLTx(t.Context(), nil, audit.Lease{}, validEntry("x")); err == nil {
			t.Error("AppendSQLTx accepted a nil transaction")
		}
	})
}

// TestAppendWaitsForATakeoverInProgress shows the fence check cannot read
// around a takeover that has not committed yet: Append waits for it, then
// sees the lock moved on.
func TestAppendWaitsForATakeoverInProgress(t *testing.T) {
	srv := newServer(t)
	s, schema := srv.open(t)
	auditTable, lockTable := tables(schema, "flamingock")
	lease, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	takeover, err := srv.admin.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer takeover.Rollback(context.Background())
	// What Acquire does to a free lease row, uncommitted.
	if _, err := takeover.Exec(t.Context(), "UPDATE "+lockTable+" SET owner = 'runner-b', epoch = epoch + 1 WHERE key = 'k'"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(t.Context(), lease, validEntry("a"))
		done <- err
	}()
	// A store reading the last committed lock row would return now, with
	// the entry stored; the right one blocks on the row lock.
	select {
	case err := <-done:
		t.Fatalf("Append returned (%v) while a takeover of its lease was in progress, want it to wait", err)
	case err := <-srv.waitingOn(ctx, auditTable):
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := takeover.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	err = <-done
	wantMessage(t, err, `taken over by "runner-b" at epoch 2`)
	if !errors.Is(err, audit.ErrFenced) {
		t.Errorf("Append after the takeover: got %v, want ErrFenced", err)
	}
	if n := srv.count(t, auditTable); n != 0 {
		t.Errorf("the audit table holds %d rows, want none", n)
	}
}

// TestTakeoverWaitsForASharedTransaction shows the other order: once
// AppendTx has checked the lease, nobody can take the lock over until the
// caller's transaction ends, so the next owner reads the entry.
func TestTakeoverWaitsForASharedTransaction(t *testing.T) {
	srv := newServer(t)
	s, schema := srv.open(t)
	_, lockTable := tables(schema, "flamingock")
	lease, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := s.AppendTx(t.Context(), tx, lease, validEntry("a")); err != nil {
		t.Fatal(err)
	}

	// The row lock a takeover needs (UPDATE and ON CONFLICT DO UPDATE take
	// FOR NO KEY UPDATE) is not available.
	_, err = srv.admin.Exec(t.Context(), "SELECT 1 FROM "+lockTable+" WHERE key = 'k' FOR NO KEY UPDATE NOWAIT")
	wantMessage(t, err, "SQLSTATE 55P03")

	// A real contender waits for the transaction, then sees the holder.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Acquire(t.Context(), "k", "runner-b", time.Minute)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Acquire returned (%v) while the holder's transaction had the lease row share-locked, want it to wait", err)
	case err := <-srv.waitingOn(ctx, lockTable):
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	var held *audit.LockHeldError
	if err := <-done; !errors.As(err, &held) || held.Info.Owner != "runner-a" {
		t.Errorf("contender's Acquire: got %v, want a LockHeldError naming runner-a", err)
	}
}

// waitingOn returns a channel that receives nil once some backend waits for
// a lock while running a statement that mentions table, or an error if none
// does within 30 seconds. It stops polling when ctx ends.
func (s *server) waitingOn(ctx context.Context, table string) <-chan error {
	ch := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for ctx.Err() == nil {
			var n int
			err := s.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND position($1 in query) > 0`,
				table).Scan(&n)
			switch {
			case err != nil:
				ch <- fmt.Errorf("pg_stat_activity: %w", err)
				return
			case n > 0:
				ch <- nil
				return
			case time.Now().After(deadline):
				ch <- fmt.Errorf("no statement on %s waited for a lock within 30s", table)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return ch
}
