package pgxtarget_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// statement names what a statement of a run is, from its SQL.
func statement(sql string) string {
	for _, k := range []struct{ has, name string }{
		{"DISTINCT ON", "snapshot"},
		{"c.digest = $1", "checkpoint"},
		{"pg_catalog.pg_namespace", "check tables"},
		{"digest, seq, saved_at", "save checkpoint"},
		{"ON CONFLICT (key)", "acquire"},
		{"FOR SHARE", "append"},
		{"SET owner = ''", "release"},
		{"to_regclass", "look up marker table"},
		{"ON CONFLICT (stage, change_id)", "write marker"},
		{"DELETE FROM", "clear marker"},
		{"effects", "change statement"},
		{"BEGIN; SET LOCAL idle_in_transaction_session_timeout", "begin"},
	} {
		if strings.Contains(sql, k.has) {
			return k.name
		}
	}
	return sql // begin, commit: pgx's own words
}

// TestRoundTrips counts what starting a pipeline costs, with pgx's tracer
// and on the wire (issue 3 item 4): a fresh process (a new store and
// runner) on a database where the store's tables exist. Counts, not
// times: they do not depend on the machine. The pool has the two
// connections a pool shared by the store and the target needs; nothing runs
// concurrently with the run (its lease refresher would fire after 20s only).
func TestRoundTrips(t *testing.T) {
	srv := pgtest.New(t)
	schema := srv.Schema(t)
	setup := srv.Pool(t, pgtest.MaxConns(2))
	// The state before the process starts: the store's tables, and change
	// c0 applied.
	store := newStore(t, setup, schema)
	if _, err := store.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx := effects(t, setup, schema)
	st := stages(change("c0", 0, pgxtarget.Shared(store), true, effect(fx, "c0")))
	if _, err := runner(t, store, st).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// k statements of change id.
	body := func(id string, k int) func(context.Context, pgx.Tx) error {
		return func(ctx context.Context, tx pgx.Tx) error {
			for range k {
				if err := effect(fx, id)(ctx, tx); err != nil {
					return err
				}
			}
			return nil
		}
	}

	t.Run("an up-to-date pipeline starts with one round trip and takes no lock", func(t *testing.T) {
		pool, c := srv.CountedPool(t, pgtest.MaxConns(2))
		c.Reset()
		store := newStore(t, pool, schema)
		st := stages(change("c0", 0, pgxtarget.Shared(store), true, effect(fx, "c0")))
		res, err := runner(t, store, st).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"s1/c0=skipped"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if n, rt := c.Counts(); n != 1 || rt != 1 {
			t.Errorf("%d statements in %d round trips (%q), want 1 in 1", n, rt, c.Statements())
		}
		if got := statement(c.Statements()[0]); got != "checkpoint" {
			t.Errorf("the statement is %q, want the checkpoint's", got)
		}
		if lock, err := store.Lock(t.Context(), "flamingock"); err != nil || lock.Epoch != 1 {
			t.Errorf("lock = %+v, %v; want the setup's epoch 1: no acquisition", lock, err)
		}
	})

	// Applying pending changes: the run costs what its fixed part does
	// (the checkpoint, not current, then the snapshot; the store's first
	// write checks its tables; acquire; snapshot again under the lock; save
	// the checkpoint; release) plus,
	// per change of k statements, k+2 round trips: BEGIN, the statements,
	// and the APPLIED entry with its fence check sent together with COMMIT
	// as one batch (postgres.Store.CommitTx). The counter traces queries,
	// not batches: the batch shows in the round trips only. The first batch
	// on a connection also prepares the append and COMMIT, once: one more
	// round trip. The pool hands out the connection released last, so every
	// change of a run takes the same one and only the first prepares.
	tests := []struct {
		name    string
		changes []int // the number of statements of each pending change
	}{
		{"one change of one statement", []int{1}},
		{"one change of three statements", []int{3}},
		{"two changes of one statement", []int{1, 1}},
		{"three changes of two statements", []int{2, 2, 2}},
	}
	for i, tt := range tests {
		t.Run(tt.name+" in a shared transaction costs k+2 round trips per change", func(t *testing.T) {
			pool, c := srv.CountedPool(t, pgtest.MaxConns(2))
			store := newStore(t, pool, schema)
			tg := pgxtarget.Shared(store)
			changes := []pipeline.Change{change("c0", 0, tg, true, effect(fx, "c0"))}
			want := []string{"checkpoint", "snapshot", "check tables", "acquire", "snapshot"}
			const fixed, prepare = 7, 1
			perChange := 0
			for j, k := range tt.changes {
				id := fmt.Sprintf("case%d-change%d", i, j)
				changes = append(changes, change(id, uint64(j+1), tg, true, body(id, k)))
				want = append(want, "begin")
				for range k {
					want = append(want, "change statement")
				}
				perChange += k + 2
			}
			want = append(want, "save checkpoint", "release")
			c.Reset()

			res, err := runner(t, store, stages(changes...)).Run(t.Context())

			if err != nil {
				t.Fatal(err)
			}
			if n := len(res.Applied()); n != len(tt.changes) {
				t.Errorf("%d changes applied, want %d", n, len(tt.changes))
			}
			var got []string
			for _, sql := range c.Statements() {
				got = append(got, statement(sql))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("statements (-want +got):\n%s", diff)
			}
			if _, rt := c.Counts(); rt != fixed+perChange+prepare {
				t.Errorf("%d round trips, want %d (%d fixed, %d for the changes, %d to prepare the append)",
					rt, fixed+perChange+prepare, fixed, perChange, prepare)
			}
		})
	}

	t.Run("one change of one statement in a separate transaction costs k+6 round trips", func(t *testing.T) {
		marker := pgxtarget.WithMarkerTable(schema + ".flamingock_marker")
		// The marker table exists already, as it does after the first run.
		if w, err := pgxtarget.New(setup, marker).BeginSeparate(t.Context(), pipeline.BeginRequest{}); err != nil {
			t.Fatal(err)
		} else if err := w.Abort(t.Context()); err != nil {
			t.Fatal(err)
		}
		storePool, sc := srv.CountedPool(t, pgtest.MaxConns(2))
		targetPool, tc := srv.CountedPool(t) // another pool: a separate transaction
		fresh := newStore(t, storePool, schema)
		tg := pgxtarget.New(targetPool, marker)
		st := stages(change("c0", 0, tg, true, effect(fx, "c0")), change("separate", 1, tg, true, effect(fx, "separate")))
		sc.Reset()
		tc.Reset()

		if _, err := runner(t, fresh, st).Run(t.Context()); err != nil {
			t.Fatal(err)
		}

		name := func(c *pgtest.Counter) []string {
			var got []string
			for _, sql := range c.Statements() {
				got = append(got, statement(sql))
			}
			return got
		}
		// The audit store: STARTED and APPLIED around the change.
		wantStore := []string{"checkpoint", "snapshot", "check tables", "acquire", "snapshot", "append", "append", "save checkpoint", "release"}
		// The target: a look at the marker table once per Target, then
		// BEGIN, the statement, the marker, COMMIT, and the marker cleared.
		wantTarget := []string{"look up marker table", "begin", "change statement", "write marker", "commit", "clear marker"}
		if diff := cmp.Diff(wantStore, name(sc)); diff != "" {
			t.Errorf("statements of the store (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantTarget, name(tc)); diff != "" {
			t.Errorf("statements of the target (-want +got):\n%s", diff)
		}
		// The first append on the store's connection prepares it first:
		// one more round trip, once per connection.
		if n, rt := sc.Counts(); n != len(wantStore) || rt != n+1 {
			t.Errorf("store: %d statements in %d round trips, want %d in %d", n, rt, len(wantStore), len(wantStore)+1)
		}
		if n, rt := tc.Counts(); n != rt || rt != len(wantTarget) {
			t.Errorf("target: %d statements in %d round trips, want %d in as many", n, rt, len(wantTarget))
		}
	})
}
