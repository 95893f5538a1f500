// Package crash names the points inside the runtime where a test can make
// the process die, so that crash safety is proven at every step rather than
// argued.
//
// The runtime calls Hit at each point with the context of the run. A test
// installs a hook with With on the context it passes to Run; the hook of a
// crash test kills its own process there:
//
//	ctx := crash.With(ctx, func(p crash.Point) {
//		if p == crash.AfterStarted {
//			syscall.Kill(os.Getpid(), syscall.SIGKILL) // a real kill -9
//		}
//	})
//	runner.Run(ctx)
//
// Without a hook, Hit is one failed context lookup: the points cost nothing
// that matters in production, need no build tags, and, the package being
// internal, no user of the module can install a hook or trip over one.
package crash

import "context"

// Point is a named place in a run where a test can make the process die.
type Point string

// The points. The runtime hits each per-change point at most once per
// execution of a change, skipping those its strategy does not have. An
// apply (Run) meets them in the order listed, AfterMarkerHeld aside, up to
// AfterApplied; one that fails and compensates then meets AfterFailed,
// InRollback, AfterRollback and AfterRolledBack. An undo (RollbackTo) runs
// the same strategies and meets BeforeStarted, AfterMarkerHeld,
// AfterStarted, InRollback, AfterRollback, BeforeCommit, AfterTargetCommit
// and AfterRolledBack, in that order.
const (
	// BeforeStarted: the change is about to be executed and its STARTED
	// entry is not written yet (separate transaction, no transaction).
	BeforeStarted Point = "before-started"
	// AfterMarkerHeld: the undo of a change in a separate transaction has
	// committed the marker of its execution in the target, in a
	// transaction of its own, and its STARTED entry is not written yet.
	// Only an undo has it: until the undo commits, that marker proves the
	// change still applied.
	AfterMarkerHeld Point = "after-marker-held"
	// AfterStarted: STARTED is written and the change has not begun
	// (separate transaction, no transaction).
	AfterStarted Point = "after-started"
	// InApply is never hit by the runtime: a change function hits it
	// itself, from inside its own work.
	InApply Point = "in-apply"
	// AfterApply: the change function returned without error; nothing of
	// it is committed (in a transaction) or recorded as applied yet.
	AfterApply Point = "after-apply"
	// BeforeCommit: the target's transaction holds the change and is
	// about to commit: with its APPLIED entry, appended and committed in
	// one step (shared transaction), or with the marker it holds already
	// (separate transaction).
	BeforeCommit Point = "before-commit"
	// AfterTargetCommit: the target's transaction, with the marker, has
	// committed and APPLIED is not written yet (separate transaction).
	AfterTargetCommit Point = "after-target-commit"
	// AfterApplied: the change's APPLIED entry is recorded (and, under a
	// separate transaction, its marker not yet cleared).
	AfterApplied Point = "after-applied"
	// AfterFailed: a change without a transaction failed, its FAILED entry
	// is recorded, and its compensation (compensate=true) has not begun.
	AfterFailed Point = "after-failed"
	// InRollback is never hit by the runtime: a rollback function hits it
	// itself, from inside its own work.
	InRollback Point = "in-rollback"
	// AfterRollback: a rollback function returned without error; nothing
	// of it is committed (in a transaction) or recorded as rolled back yet.
	AfterRollback Point = "after-rollback"
	// AfterRolledBack: a rollback ended, the compensation of a failed
	// change or an undo, and its ROLLED_BACK entry (without a transaction,
	// ROLLED_BACK or ROLLBACK_FAILED) is recorded (and, under a separate
	// transaction, the marker not yet cleared).
	AfterRolledBack Point = "after-rolled-back"
	// DuringRefresh: the lease of the run's lock is about to be refreshed.
	DuringRefresh Point = "during-refresh"
)

// Points lists every point, in the order an apply meets them, with
// AfterMarkerHeld where an undo meets it.
func Points() []Point {
	return []Point{BeforeStarted, AfterMarkerHeld, AfterStarted, InApply, AfterApply, BeforeCommit,
		AfterTargetCommit, AfterApplied, AfterFailed, InRollback, AfterRollback, AfterRolledBack, DuringRefresh}
}

type hookKey struct{}

// With returns a copy of ctx whose Hit calls hook. Contexts derived from it
// (the run's, the lease refresher's) carry the hook too.
func With(ctx context.Context, hook func(Point)) context.Context {
	return context.WithValue(ctx, hookKey{}, hook)
}

// Hit calls the hook of ctx at point p, if ctx carries one.
func Hit(ctx context.Context, p Point) {
	if hook, ok := ctx.Value(hookKey{}).(func(Point)); ok {
		hook(p)
	}
}
