// Package targettest is the conformance suite of targets
// (pipeline.Target[H]), as package audit/audittest is that of audit
// stores: a target is correct when Run passes against it.
//
// A target's test gives Run a Harness: a function that builds a fresh
// target and the audit store of its pipeline, in a namespace of their own,
// together with a change body that leaves an observable effect through the
// target's handle, its undo, and a way to see whether the effect is there;
// and the strategies the target claims for changes declared transactional
// and transactional=false. For the database/sql target on SQLite:
//
//	func TestConformance(t *testing.T) {
//		targettest.Run(t, targettest.Harness[*sql.Tx]{
//			New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
//				dir := t.TempDir()
//				store, err := sqlite.Open(t.Context(), filepath.Join(dir, "audit.db"))
//				if err != nil {
//					t.Fatal(err)
//				}
//				t.Cleanup(func() { store.Close() })
//				if _, err := store.DB().ExecContext(t.Context(), `CREATE TABLE effects (id TEXT PRIMARY KEY)`); err != nil {
//					t.Fatal(err)
//				}
//				return targettest.Fixture[*sql.Tx]{
//					Target: sqltarget.Shared(store),
//					Store:  store,
//					Apply: func(ctx context.Context, tx *sql.Tx, id string) error {
//						_, err := tx.ExecContext(ctx, `INSERT INTO effects (id) VALUES (?)`, id)
//						return err
//					},
//					Undo: func(ctx context.Context, tx *sql.Tx, id string) error {
//						_, err := tx.ExecContext(ctx, `DELETE FROM effects WHERE id = ?`, id)
//						return err
//					},
//					Has: func(ctx context.Context, id string) (bool, error) {
//						var n int
//						err := store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM effects WHERE id = ?`, id).Scan(&n)
//						return n > 0, err
//					},
//				}
//			},
//			Transactional:    audit.StrategySharedTx,
//			NonTransactional: "", // Strategy(false) fails: the handle is a *sql.Tx
//		})
//	}
//
// # What the suite checks
//
// Each property is a subtest named for it, so that a failure says which:
//
//   - Strategy does no I/O (it answers the same after Fixture.Disconnect,
//     when the harness sets it) and answers the same every time, with the
//     strategy the harness says the target claims; for transactional=false
//     it returns pipeline.NonTx or an error, never a transactional
//     strategy.
//   - For each strategy the target claims, the contract of its unit of
//     work, driven directly through the interfaces of package pipeline:
//     SeparateTx: Commit keeps the effect, Abort discards it, a marker is
//     found only once its work commits, a committed marker proves its own
//     execution only, a later execution's replaces it, ClearMarker deletes
//     it, and HasMarker changes no data. SharedTx: AuditStore is the
//     fixture's store; CommitAudit commits the effect and the entry
//     together; Abort discards both; a CommitAudit under a lease that no
//     longer holds the lock (force-released, or expired and taken over by
//     another owner) fails matching audit.ErrFenced and commits neither;
//     Abort after a CommitAudit, successful or not, is harmless. NonTx:
//     Commit keeps the effect. Every strategy: the work's Context carries
//     ctx's values and its cancellation, and its Handle is the one the
//     effect is made through.
//   - End to end, through pipeline.New and the runner's public methods on
//     the fixture's store, for changes declared transactional and for
//     changes declared transactional=false when the target runs them: two
//     changes are applied once each, with the strategy claimed recorded,
//     and a second Run applies nothing; a failing change is recorded
//     FAILED and, under a transactional strategy, leaves no effect;
//     RollbackTo runs the rollbacks, and the next Run applies the changes
//     again.
//
// # Contract
//
// Run calls Harness.New once per subtest, from parallel subtests, so it
// must be safe for concurrent use and every fixture must be isolated from
// the others (its own database file, schema, database or key space). New
// registers with t.Cleanup whatever closes and removes what it built.
//
// The unit-of-work tests reach a strategy's interface (pipeline.SharedTxTarget,
// pipeline.SeparateTxTarget, pipeline.NonTxTarget) through the
// pipeline.Strategy the target returns, as the runner does.
//
// The lock tests use the lock key "targettest" of the fixture's store, a
// lease of 300ms for the one that waits for an expiry (polling Store.Lock
// until the key is not held, for at most 30 seconds), and the pipeline's
// default lock key for the end-to-end tests.
package targettest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Harness tells Run how to build the target under test and what it
// claims.
type Harness[H any] struct {
	// New builds a fresh target and the audit store its pipeline runs on,
	// isolated from every other fixture, and registers with t.Cleanup what
	// closes and removes them.
	New func(t *testing.T) Fixture[H]
	// Transactional is the strategy the target reports for a change
	// declared transactional (the default): audit.StrategySharedTx,
	// audit.StrategySeparateTx or audit.StrategyNonTx; empty when its
	// Strategy(true) must fail.
	Transactional audit.Strategy
	// NonTransactional is the strategy the target reports for a change
	// declared transactional=false: audit.StrategyNonTx, or empty when its
	// Strategy(false) must fail (a target whose handle is a transaction).
	NonTransactional audit.Strategy
}

// Fixture is one fresh target, the audit store of its pipeline, and the
// change body the suite runs on it.
type Fixture[H any] struct {
	// Target is the target under test. Under audit.StrategySharedTx its
	// AuditStore must be Store.
	Target pipeline.Target[H]
	// Store is the audit store of the target's pipeline.
	Store audit.Store
	// Apply is a change body: it leaves the effect named id through h (a
	// row, a document, a key). The suite applies each id at most once
	// between undos.
	Apply func(ctx context.Context, h H, id string) error
	// Undo is a rollback body: it removes the effect named id through h.
	Undo func(ctx context.Context, h H, id string) error
	// Has reports whether the effect named id is there, committed: it
	// looks from outside any unit of work of the target (another
	// connection, a plain read). It must not change the target's data.
	Has func(ctx context.Context, id string) (bool, error)
	// Disconnect, if set, makes the target's server unreachable to the
	// target (closes its *sql.DB, its pool, its client). Only the Strategy
	// subtest calls it, and Strategy must answer as before: it must do no
	// I/O.
	Disconnect func()
}

// Run runs the conformance suite against the targets h builds. See the
// package documentation for what it checks.
func Run[H any](t *testing.T, h Harness[H]) {
	t.Helper()
	if h.New == nil {
		t.Fatal("targettest: Harness.New is nil")
	}
	switch h.Transactional {
	case "", audit.StrategySharedTx, audit.StrategySeparateTx, audit.StrategyNonTx:
	default:
		t.Fatalf("targettest: Harness.Transactional is %q, not a strategy", h.Transactional)
	}
	switch h.NonTransactional {
	case "", audit.StrategyNonTx:
	default:
		t.Fatalf("targettest: Harness.NonTransactional is %q: a change declared transactional=false runs with %s or not at all",
			h.NonTransactional, audit.StrategyNonTx)
	}
	s := &suite[H]{h: h}
	type test struct {
		name string
		run  func(t *testing.T)
	}
	tests := []test{
		{"strategy answers the same every time and does no I/O", s.testStrategyStable},
		{"strategy for transactional=false is NonTx or an error", s.testStrategyNonTransactional},
	}
	// Each claimed strategy once, with the transactional flag it is
	// claimed for (the first, when both claim it).
	claimed := map[audit.Strategy]bool{}
	var strategies []audit.Strategy
	for _, c := range []struct {
		s             audit.Strategy
		transactional bool
	}{{h.Transactional, true}, {h.NonTransactional, false}} {
		if c.s == "" {
			continue
		}
		if _, ok := claimed[c.s]; !ok {
			claimed[c.s] = c.transactional
			strategies = append(strategies, c.s)
		}
	}
	for _, st := range strategies {
		tx := claimed[st]
		p := phrase(st) + ": "
		tests = append(tests,
			test{p + "the work's context carries ctx's values and cancellation", func(t *testing.T) { s.testContext(t, st, tx) }},
			test{p + "an effect made through the work's handle is the work's", func(t *testing.T) { s.testHandle(t, st, tx) }},
		)
		switch st {
		case audit.StrategySeparateTx:
			tests = append(tests,
				test{p + "commit keeps the effect", func(t *testing.T) { s.testSeparateCommit(t, tx) }},
				test{p + "abort discards the effect", func(t *testing.T) { s.testSeparateAbort(t, tx) }},
				test{p + "a marker is found only once its work commits", func(t *testing.T) { s.testMarkerCommitted(t, tx) }},
				test{p + "a committed marker proves its own execution only", func(t *testing.T) { s.testMarkerOwnExecution(t, tx) }},
				test{p + "a later execution's committed marker replaces the earlier one", func(t *testing.T) { s.testMarkerReplaced(t, tx) }},
				test{p + "ClearMarker deletes the marker", func(t *testing.T) { s.testMarkerCleared(t, tx) }},
				test{p + "HasMarker changes no data", func(t *testing.T) { s.testHasMarkerReadOnly(t, tx) }},
			)
		case audit.StrategySharedTx:
			tests = append(tests,
				test{p + "AuditStore is the pipeline's store", func(t *testing.T) { s.testAuditStore(t, tx) }},
				test{p + "CommitAudit commits the effect and the entry together", func(t *testing.T) { s.testCommitAudit(t, tx) }},
				test{p + "abort discards the effect and the entry", func(t *testing.T) { s.testSharedAbort(t, tx) }},
				test{p + "CommitAudit under a force-released lease is fenced and commits nothing", func(t *testing.T) { s.testFenced(t, tx, forceRelease) }},
				test{p + "CommitAudit under an expired lease another owner took over is fenced and commits nothing", func(t *testing.T) { s.testFenced(t, tx, takeOver) }},
				test{p + "abort after a successful CommitAudit is harmless", func(t *testing.T) { s.testAbortAfterCommitAudit(t, tx) }},
			)
		case audit.StrategyNonTx:
			tests = append(tests,
				test{p + "commit keeps the effect", func(t *testing.T) { s.testNonTxCommit(t, tx) }},
			)
		}
	}
	for _, m := range []struct {
		claimed       audit.Strategy
		transactional bool
	}{{h.Transactional, true}, {h.NonTransactional, false}} {
		if m.claimed == "" {
			continue
		}
		p := "run of transactional changes: "
		if !m.transactional {
			p = "run of transactional=false changes: "
		}
		tests = append(tests,
			test{p + "each change is applied once and a second run applies nothing", func(t *testing.T) { s.testRunOnce(t, m.claimed, m.transactional) }},
			test{p + "a failing change is recorded FAILED", func(t *testing.T) { s.testRunFailing(t, m.claimed, m.transactional) }},
			test{p + "RollbackTo runs the rollbacks and the next run applies again", func(t *testing.T) { s.testRollback(t, m.claimed, m.transactional) }},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t)
		})
	}
}

// phrase names a strategy in subtest names.
func phrase(s audit.Strategy) string {
	switch s {
	case audit.StrategySharedTx:
		return "shared transaction"
	case audit.StrategySeparateTx:
		return "separate transaction"
	}
	return "no transaction"
}

const (
	// lockKey is the lock key of the tests that take leases themselves;
	// fixtures are fresh, so one name is enough.
	lockKey = "targettest"
	owner   = "targettest-runner"
	longTTL = time.Minute
	// shortTTL is for the test that waits for a lease to expire.
	shortTTL    = 300 * time.Millisecond
	expiryBound = 30 * time.Second
	// stage is the stage of every change and entry the suite makes.
	stage = "targettest"
)

type suite[H any] struct{ h Harness[H] }

// fixture builds a fresh fixture, failing t when the harness leaves out
// what the suite needs.
func (s *suite[H]) fixture(t *testing.T) Fixture[H] {
	t.Helper()
	fx := s.h.New(t)
	switch {
	case fx.Target == nil:
		t.Fatal("targettest: Fixture.Target is nil")
	case fx.Store == nil:
		t.Fatal("targettest: Fixture.Store is nil")
	case fx.Apply == nil || fx.Undo == nil || fx.Has == nil:
		t.Fatal("targettest: Fixture.Apply, Undo and Has are required")
	}
	return fx
}

// has reports whether fx's effect id is there.
func has[H any](t *testing.T, fx Fixture[H], id string) bool {
	t.Helper()
	ok, err := fx.Has(t.Context(), id)
	if err != nil {
		t.Fatalf("observe effect %q: %v", id, err)
	}
	return ok
}

// wantEffect fails t unless the presence of fx's effect id is want.
func wantEffect[H any](t *testing.T, fx Fixture[H], id string, want bool, when string) {
	t.Helper()
	if got := has(t, fx, id); got != want {
		if want {
			t.Errorf("%s: effect %q is not there", when, id)
		} else {
			t.Errorf("%s: effect %q is there", when, id)
		}
	}
}

// history returns the entries of change id in fx's store.
func history[H any](t *testing.T, fx Fixture[H], id string) []audit.Entry {
	t.Helper()
	es, err := fx.Store.History(t.Context(), audit.Filter{Stage: stage, ChangeID: id})
	if err != nil {
		t.Fatalf("history of %q: %v", id, err)
	}
	return es
}

// states returns the states of es, in order.
func states(es []audit.Entry) []audit.State {
	out := make([]audit.State, len(es))
	for i, e := range es {
		out[i] = e.State
	}
	return out
}

// logger logs the runner to t's output.
func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// abortAtEnd aborts a work the test may leave open on a failure, so that
// a failed test does not hold a transaction (and the database's locks)
// until the process ends.
func abortAtEnd(t *testing.T, abort func(context.Context) error, done *bool) {
	t.Cleanup(func() {
		if !*done {
			abort(context.Background())
		}
	})
}

func describe(err error) string {
	if err == nil {
		return "no error"
	}
	return fmt.Sprintf("error %q", err)
}
