package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// renameStore is an audit store the rename tests run on: every store must
// refuse a renamed stage the same way, since the check reads only the trail.
type renameStore struct {
	name string
	open func(t *testing.T) audit.Store
}

var renameStores = []renameStore{
	{"sqlite", func(t *testing.T) audit.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(t *testing.T) audit.Store {
		srv := pgtest.New(t) // skips without FLAMINGOCK_TEST_POSTGRES
		s, err := postgres.New(context.Background(), srv.Pool(t), postgres.WithSchema(srv.Schema(t)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// calls counts the executions of the changes of the rename tests, by
// "stage/id".
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) add(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[what]++
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// nonTxStage is stage name with changes ids, in order, on a target
// without transactions (which every store can run), each counted in c.
func nonTxStage(name string, c *calls, ids ...string) pipeline.Stage {
	st := pipeline.Stage{Name: name}
	for i, id := range ids {
		m := pipeline.Meta{ID: id, Order: audit.OrderOf(uint64(i + 1)), Author: "tester", Target: "flags", Checksum: "sum-" + id}
		st.Changes = append(st.Changes, pipeline.NewChange(m, pipeline.NonTransactional(c),
			func(context.Context, *calls) error { c.add(name + "/" + id); return nil }, nil))
	}
	return st
}

func newRunner(t *testing.T, store audit.Store, stages ...pipeline.Stage) *pipeline.Runner {
	t.Helper()
	r, err := pipeline.New(store, stages, pipeline.WithRunnerID("test-runner"),
		pipeline.WithLockWait(5*time.Second, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// trail returns every entry of store.
func trail(t *testing.T, store audit.Store) []audit.Entry {
	t.Helper()
	h, err := store.History(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func lockOf(t *testing.T, store audit.Store) audit.LockInfo {
	t.Helper()
	info, err := store.Lock(context.Background(), lockKey)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// wantRenamed fails t unless err is a *StageRenamedError matching
// ErrStageRenamed that lists want and names every stage of it.
func wantRenamed(t *testing.T, call string, err error, want []pipeline.RenamedChange) {
	t.Helper()
	var re *pipeline.StageRenamedError
	if !errors.As(err, &re) || !errors.Is(err, pipeline.ErrStageRenamed) {
		t.Errorf("%s = %v, want a *StageRenamedError matching ErrStageRenamed", call, err)
		return
	}
	if diff := cmp.Diff(want, re.Changes); diff != "" {
		t.Errorf("%s: renamed changes (-want +got):\n%s", call, diff)
	}
	for _, c := range want {
		for _, name := range []string{fmt.Sprintf("%q", c.Stage), fmt.Sprintf("%q", c.RecordedStage), fmt.Sprintf("%q", c.ChangeID)} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s: message does not name %s:\n%s", call, name, err)
			}
		}
	}
}

func TestStageRenamed(t *testing.T) {
	ctx := context.Background()
	for _, sc := range renameStores {
		t.Run(sc.name, func(t *testing.T) {
			t.Run("Run, Plan, Validate and RollbackTo refuse before anything runs and the checkpoint cannot hide it", func(t *testing.T) {
				store := sc.open(t)
				var c calls
				app := newRunner(t, store, nonTxStage("app", &c, "a", "b"))
				if _, err := app.Run(ctx); err != nil {
					t.Fatal(err)
				}
				keeps := audit.Extend(store).KeepsCheckpoints()
				if res, err := app.Run(ctx); err != nil || fromCheckpoint(res) != keeps {
					t.Fatalf("second run of stage app: from the checkpoint = %v (err %v), want %v", fromCheckpoint(res), err, keeps)
				}
				before, lock := trail(t, store), lockOf(t, store)
				var renamedCalls calls
				renamed := newRunner(t, store, nonTxStage("store", &renamedCalls, "a", "b"))
				want := []pipeline.RenamedChange{
					{ChangeID: "a", Stage: "store", RecordedStage: "app"},
					{ChangeID: "b", Stage: "store", RecordedStage: "app"},
				}

				for i := range 2 { // twice: the first refusal leaves no checkpoint behind
					res, err := renamed.Run(ctx)
					wantRenamed(t, fmt.Sprintf("Run #%d", i+1), err, want)
					if diff := cmp.Diff([]string{"store/a=not run", "store/b=not run"}, statuses(res)); diff != "" {
						t.Errorf("Run #%d outcomes (-want +got):\n%s", i+1, diff)
					}
					for _, o := range res.Changes() {
						if !strings.Contains(o.Reason, "another stage name") {
							t.Errorf("Run #%d: outcome of %s: reason %q does not say why", i+1, o.ChangeID, o.Reason)
						}
					}
				}
				p, err := renamed.Plan(ctx)
				wantRenamed(t, "Plan", err, want)
				if p != nil {
					t.Errorf("Plan returned a plan with its error: %+v", p.Changes)
				}
				wantRenamed(t, "Validate", renamed.Validate(ctx), want)
				_, err = renamed.RollbackTo(ctx, "a", pipeline.Inclusive())
				wantRenamed(t, "RollbackTo", err, want)

				if n := renamedCalls.total(); n != 0 {
					t.Errorf("the renamed stage's changes ran %d times, want never", n)
				}
				if diff := cmp.Diff(before, trail(t, store)); diff != "" {
					t.Errorf("the refusals changed the trail (-before +after):\n%s", diff)
				}
				if got := lockOf(t, store); got.Epoch != lock.Epoch {
					t.Errorf("lock epoch %d after the refusals, want %d: the lock was taken", got.Epoch, lock.Epoch)
				}
				// The refusals recorded nothing, so stage app still starts from
				// its checkpoint; and stage store saved none of its own, or it
				// would have started from it above.
				if res, err := app.Run(ctx); err != nil || fromCheckpoint(res) != keeps {
					t.Errorf("stage app after the refusals: from the checkpoint = %v (err %v), want %v", fromCheckpoint(res), err, keeps)
				}
				if n := c.total(); n != 2 {
					t.Errorf("the changes of stage app ran %d times, want 2 (a and b once)", n)
				}
			})

			t.Run("a change recorded under the old name only as rolled back or marked is refused too", func(t *testing.T) {
				for _, st := range []audit.State{audit.StateStarted, audit.StateApplied, audit.StateFailed, audit.StateRolledBack,
					audit.StateRollbackFailed, audit.StateManualApplied, audit.StateManualRolledBack} {
					t.Run(string(st), func(t *testing.T) {
						store := sc.open(t)
						seedStore(t, store, seedEntry("app", "a", st, audit.StrategyNonTx, audit.RecoveryManual))
						var c calls
						r := newRunner(t, store, nonTxStage("store", &c, "a"))
						want := []pipeline.RenamedChange{{ChangeID: "a", Stage: "store", RecordedStage: "app"}}
						_, err := r.Plan(ctx)
						wantRenamed(t, "Plan", err, want)
						wantRenamed(t, "Validate", r.Validate(ctx), want)
						_, err = r.Run(ctx)
						wantRenamed(t, "Run", err, want)
						if c.total() != 0 || len(trail(t, store)) != 1 {
							t.Errorf("the refused run ran %d changes and left %d entries, want none and the seeded one", c.total(), len(trail(t, store)))
						}
					})
				}
			})

			t.Run("every renamed change is reported at once, new ones are not", func(t *testing.T) {
				store := sc.open(t)
				var c calls
				if _, err := newRunner(t, store, nonTxStage("app", &c, "a", "b"), nonTxStage("jobs", &c, "j1")).Run(ctx); err != nil {
					t.Fatal(err)
				}
				r := newRunner(t, store, nonTxStage("store", &c, "a", "b", "c"), nonTxStage("batch", &c, "j1", "j2"))
				_, err := r.Run(ctx)
				wantRenamed(t, "Run", err, []pipeline.RenamedChange{
					{ChangeID: "a", Stage: "store", RecordedStage: "app"},
					{ChangeID: "b", Stage: "store", RecordedStage: "app"},
					{ChangeID: "j1", Stage: "batch", RecordedStage: "jobs"},
				})
				if n := c.total(); n != 3 {
					t.Errorf("%d changes ran, want the 3 of the first run", n)
				}
			})

			// A replica of the old release, still naming the stage app, ran
			// while the new one waited for the lock: the new one found nothing
			// recorded before the lock, and must refuse once it holds it.
			t.Run("the decision under the lock refuses too", func(t *testing.T) {
				inner := sc.open(t)
				var c, renamedCalls calls
				old := newRunner(t, inner, nonTxStage("app", &c, "a", "b"))
				store := &beforeAcquire{Store: inner, before: func() {
					if _, err := old.Run(ctx); err != nil {
						t.Errorf("old release: %v", err)
					}
				}}
				r := newRunner(t, store, nonTxStage("store", &renamedCalls, "a", "b"))
				before := lockOf(t, inner)

				res, err := r.Run(ctx)

				wantRenamed(t, "Run", err, []pipeline.RenamedChange{
					{ChangeID: "a", Stage: "store", RecordedStage: "app"},
					{ChangeID: "b", Stage: "store", RecordedStage: "app"},
				})
				if diff := cmp.Diff([]string{"store/a=not run", "store/b=not run"}, statuses(res)); diff != "" {
					t.Errorf("outcomes (-want +got):\n%s", diff)
				}
				if n := renamedCalls.total(); n != 0 {
					t.Errorf("the renamed stage's changes ran %d times, want never", n)
				}
				if n := len(trail(t, inner)); n != 4 {
					t.Errorf("%d entries, want the 4 of the old release", n)
				}
				if l := lockOf(t, inner); l.Epoch != before.Epoch+2 || l.Held() {
					t.Errorf("lock %+v, want taken by the old release then the new one (epoch %d), and released", l, before.Epoch+2)
				}
			})

			// A trail written before this check may hold a change under both
			// names (a rename re-applied it). Its own history decides then,
			// under either name: refusing both would leave no way forward.
			t.Run("a change recorded under its own stage is decided from that history", func(t *testing.T) {
				store := sc.open(t)
				seedStore(t, store,
					seedEntry("app", "a", audit.StateApplied, audit.StrategyNonTx, audit.RecoveryManual),
					seedEntry("store", "a", audit.StateApplied, audit.StrategyNonTx, audit.RecoveryManual))
				for _, name := range []string{"store", "app"} {
					var c calls
					res, err := newRunner(t, store, nonTxStage(name, &c, "a")).Run(ctx)
					if err != nil {
						t.Fatalf("stage %s: %v", name, err)
					}
					if diff := cmp.Diff([]string{name + "/a=skipped"}, statuses(res)); diff != "" || c.total() != 0 {
						t.Errorf("stage %s ran %d changes; outcomes (-want +got):\n%s", name, c.total(), diff)
					}
				}
			})
		})
	}
}

// beforeAcquire is a store that calls before once, at the first Acquire.
type beforeAcquire struct {
	audit.Store
	once   sync.Once
	before func()
}

func (s *beforeAcquire) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (audit.Lease, error) {
	s.once.Do(s.before)
	return s.Store.Acquire(ctx, key, owner, ttl)
}

// seedStore appends entries to store as a previous runner would have.
func seedStore(t *testing.T, store audit.Store, entries ...audit.Entry) {
	t.Helper()
	ctx := context.Background()
	l, err := store.Acquire(ctx, lockKey, "old-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if _, err := store.Append(ctx, l, en); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
}

func TestStageRenamedMessage(t *testing.T) {
	ctx := context.Background()
	store := renameStores[0].open(t)
	var c calls
	if _, err := newRunner(t, store, nonTxStage("app", &c, "a", "b"), nonTxStage("jobs", &c, "j1", "j2")).Run(ctx); err != nil {
		t.Fatal(err)
	}
	// Stage app renamed store; change j2 moved from stage jobs to stage store.
	r := newRunner(t, store, nonTxStage("store", &c, "a", "b", "j2"), nonTxStage("jobs", &c, "j1"))

	err := r.Validate(ctx)

	want := `stage renamed: 3 changes are recorded in the audit trail under another stage name; a stage's name is part of every change's identity there, so under another name they would be applied again, and which name is right cannot be guessed: nothing was run
  change "a" of stage "store" is recorded under stage "app"
  change "b" of stage "store" is recorded under stage "app"
  change "j2" of stage "store" is recorded under stage "jobs"
  to keep the history of stage "app", give stage "store" that name again: regenerate it with flamingock-gen -stage app -rename-stage, or restore "stage app" in its flamingock.ledger (if stage "app" is another pipeline's, on the same audit store, give these changes ids of their own)
  to keep the history of change "j2", declare it in stage "jobs" again`
	if diff := cmp.Diff(want, fmt.Sprint(err)); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}
