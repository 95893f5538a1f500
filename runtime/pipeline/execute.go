package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crash"
)

// step is one direction of a change's execution, as data: applying it
// (Run) or undoing it (RollbackTo, and the compensation of a failed change
// without a transaction). Each strategy is written once and runs either
// step, as goose passes its direction from runMigrations down to the one
// leaf that chooses between inserting and deleting a version.
type step struct {
	op Operation
	// doing is what the log says when the step starts.
	doing string
	// fn picks, in the change's unit of work, the function the step runs:
	// the change or its rollback.
	fn func(unit) func(context.Context) error
	// ranAt is the crash point right after fn returned without error.
	ranAt crash.Point
	// done is the state a success records, doneAt the crash point right
	// after it is recorded; status and event report the success.
	done   audit.State
	doneAt crash.Point
	status Status
	event  EventKind
	// before is the change's latest state in the trail when the step
	// starts, as far as it matters: what stays when a failure before
	// STARTED cannot be recorded (nothing of an apply, APPLIED for an undo).
	before audit.State
	// holdsMarker says how a separate transaction's marker proves that the
	// step's transaction committed. Without it (apply), the marker is
	// written in that transaction, so its presence proves the commit. With
	// it (undo), the marker of the execution is committed first, before
	// STARTED, and the step's transaction replaces it: until the undo
	// commits, that marker proves the change still applied, which is what
	// the next run records; its absence proves the commit.
	holdsMarker bool
	// committedUnrecorded says what the next run does with a change whose
	// separate transaction committed but whose done state could not be
	// recorded.
	committedUnrecorded string
	// failed is the failure policy: what is recorded when fn, or the unit
	// of work around it, failed.
	failed func(x *execution, ctx context.Context, c *boundChange, o Outcome, f failure) Outcome
	// reason is recorded in every entry of the execution (see entry).
	reason string
}

// applying is the step of Run: the change, APPLIED, and on failure FAILED.
func applying() step {
	return step{
		op:                  OperationRun,
		doing:               "applying",
		fn:                  func(u unit) func(context.Context) error { return u.apply },
		ranAt:               crash.AfterApply,
		done:                audit.StateApplied,
		doneAt:              crash.AfterApplied,
		status:              StatusApplied,
		event:               EventApplied,
		committedUnrecorded: "committed, but its state stays STARTED until the next run finds its marker",
		failed:              (*execution).applyFailed,
	}
}

// undoing is the step of RollbackTo, recording reason: the change's
// rollback, ROLLED_BACK, and on failure what undoFailed says.
func undoing(reason string) step {
	return step{
		op:                  OperationRollback,
		doing:               "rolling back",
		fn:                  func(u unit) func(context.Context) error { return u.rollback },
		ranAt:               crash.AfterRollback,
		done:                audit.StateRolledBack,
		doneAt:              crash.AfterRolledBack,
		status:              StatusRolledBack,
		event:               EventRolledBack,
		before:              audit.StateApplied,
		holdsMarker:         true,
		committedUnrecorded: "was rolled back, but its state stays STARTED until the next run finds no marker of this execution and applies it again",
		failed:              (*execution).undoFailed,
		reason:              reason,
	}
}

// committed reports whether a separate transaction of the step committed,
// from whether the marker of its execution was found (see holdsMarker).
func (st step) committed(found bool) bool { return found != st.holdsMarker }

// fault is the error of a step that failed in a way no policy records:
// a *ChangeError for an apply, a *RollbackError for an undo.
func (st step) fault(c *boundChange, state audit.State, err error, next string) error {
	if st.op == OperationRollback {
		return &RollbackError{Stage: c.stage, ChangeID: c.meta.ID, State: state, Err: err, Next: next}
	}
	return &ChangeError{Stage: c.stage, ChangeID: c.meta.ID, State: state, Err: err, Next: next}
}

// failure is how a step failed, for its failure policy.
type failure struct {
	s audit.Strategy
	// was is the change's latest state in the trail: what stays when the
	// failure cannot be recorded.
	was   audit.State
	start time.Time
	err   error
	// partway says that the database committed the step's transaction by
	// itself (SharedTxImplicit, SeparateTxImplicit): s is then
	// audit.StrategyNonTx, and the change's rollback is not run as its
	// compensation, since nobody declared it safe on a change cut short.
	partway bool
}

// execute runs the execution's step on one change with the strategy its
// target declares and records every transition.
func (x *execution) execute(ctx context.Context, c *boundChange, reason string) Outcome {
	st := x.step
	o := Outcome{Stage: c.stage, ChangeID: c.meta.ID, Reason: reason}
	x.log.Info(st.doing, "stage", c.stage, "change", c.meta.ID, "strategy", c.b.strategy, "reason", reason)
	x.emit(Event{Kind: EventStarted, Stage: c.stage, ChangeID: c.meta.ID, Reason: reason})
	switch c.b.strategy {
	case audit.StrategySharedTx:
		return x.sharedTx(ctx, c, st, o)
	case audit.StrategySeparateTx:
		return x.separateTx(ctx, c, st, o)
	default:
		return x.nonTx(ctx, c, st, o)
	}
}

// sharedTx: run the step, then append its done state inside the same
// transaction and commit, in one step. A crash leaves nothing behind, so
// no STARTED entry is needed.
func (x *execution) sharedTx(ctx context.Context, c *boundChange, st step, o Outcome) Outcome {
	if c.b.implicit {
		return x.sharedImplicit(ctx, c, st, o)
	}
	const s = audit.StrategySharedTx
	start := time.Now()
	fail := func(err error) Outcome {
		return st.failed(x, ctx, c, o, failure{s: s, was: st.before, start: start, err: err})
	}
	u, err := x.begun(ctx, c, st.fn)
	if err != nil {
		return fail(err)
	}
	crash.Hit(ctx, st.ranAt)
	return x.commitShared(ctx, c, st, o, u, s, start, fail)
}

// sharedImplicit: sharedTx on a database that may commit the change's
// transaction by itself (SharedTxImplicit). STARTED goes first inside the
// transaction, so that it is durable exactly when something of the step
// is; after the step, its visibility outside the transaction tells whether
// the database committed the transaction already.
func (x *execution) sharedImplicit(ctx context.Context, c *boundChange, st step, o Outcome) Outcome {
	start := time.Now()
	fail := func(err error) Outcome {
		return st.failed(x, ctx, c, o, failure{s: audit.StrategySharedTx, was: st.before, start: start, err: err})
	}
	u, err := c.b.start(ctx)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	crash.Hit(ctx, crash.BeforeStarted)
	if _, err := u.appendStarted(ctx, x.lease.current(), x.entry(c, audit.StateStarted, audit.StrategySharedTx, 0, nil)); err != nil {
		x.abort(ctx, c, u)
		if errors.Is(err, audit.ErrFenced) {
			o.Status, o.Duration = StatusFailed, time.Since(start)
			o.Err = &LockLostError{Stage: c.stage, ChangeID: c.meta.ID,
				Err: fmt.Errorf("record %s in the change's transaction, which was rolled back: %w", audit.StateStarted, err)}
			return o
		}
		return fail(fmt.Errorf("record %s in the change's transaction: %w", audit.StateStarted, err))
	}
	crash.Hit(ctx, crash.AfterStarted)
	err = call(ctx, st.fn(u))
	ended, perr := x.latestIs(ctx, c, audit.StateStarted)
	switch {
	case perr != nil:
		x.abort(ctx, c, u)
		o.Status, o.Duration = StatusFailed, time.Since(start)
		o.Err = st.fault(c, audit.StateStarted, fmt.Errorf("%s ended (%v), but the audit trail could not be read to tell whether the database had committed its transaction by itself: %w", st.doing, err, perr),
			"the next run decides from the audit trail: without this execution's STARTED entry nothing was committed and it runs again; with it, the database committed part of it, and it may have partly taken effect")
		x.log.Error("failed", "stage", c.stage, "change", c.meta.ID, "error", o.Err)
		return o
	case !ended && err != nil:
		x.abort(ctx, c, u)
		return fail(err)
	case !ended:
		crash.Hit(ctx, st.ranAt)
		return x.commitShared(ctx, c, st, o, u, audit.StrategySharedTx, start, fail)
	}
	partway := x.committedPartway(ctx, c, st, o, start)
	if err != nil {
		x.abort(ctx, c, u)
		return partway(err)
	}
	crash.Hit(ctx, st.ranAt)
	// No transaction is open any more: the done state commits on its own,
	// as without a transaction.
	return x.commitShared(ctx, c, st, o, u, audit.StrategyNonTx, start, partway)
}

// committedPartway logs that the database committed c's transaction by
// itself during st, and returns the failure policy from then on: that of
// a change run without a transaction, whose work so far stays.
func (x *execution) committedPartway(ctx context.Context, c *boundChange, st step, o Outcome, start time.Time) func(error) Outcome {
	x.log.Warn("the database committed the change's transaction by itself ("+implicitCommit+"): what it did stays, and it is recorded as run without a transaction",
		"stage", c.stage, "change", c.meta.ID, "operation", st.op)
	return func(err error) Outcome {
		return st.failed(x, ctx, c, o, failure{s: audit.StrategyNonTx, was: audit.StateStarted, start: start, err: err, partway: true})
	}
}

// implicitCommit names what commits a transaction part-way through a
// change, for messages.
const implicitCommit = "an implicit commit, as MySQL's and MariaDB's before and after DDL"

// commitShared appends st's done state, recorded under strategy s, inside
// u's transaction and commits it. fail records a failure before the commit.
func (x *execution) commitShared(ctx context.Context, c *boundChange, st step, o Outcome, u unit, s audit.Strategy, start time.Time, fail func(error) Outcome) Outcome {
	e := x.entry(c, st.done, s, time.Since(start), nil)
	crash.Hit(ctx, crash.BeforeCommit)
	stored, err := u.commitAudit(ctx, x.lease.current(), e)
	if err != nil {
		x.abort(ctx, c, u)
		if errors.Is(err, audit.ErrFenced) {
			o.Status, o.Duration = StatusFailed, time.Since(start)
			what := "in the change's transaction, which was rolled back"
			if s == audit.StrategyNonTx {
				what = "after the database had committed the change's transaction by itself; its state stays STARTED"
			}
			o.Err = &LockLostError{Stage: c.stage, ChangeID: c.meta.ID, Err: fmt.Errorf("record %s %s: %w", st.done, what, err)}
			return o
		}
		// The commit may have happened even so (a connection lost while it
		// was acknowledged): the trail holds the truth, since the entry was
		// part of the transaction.
		committed, rerr := x.latestIs(ctx, c, st.done)
		switch {
		case rerr != nil:
			o.Status, o.Duration = StatusFailed, time.Since(start)
			o.Err = fmt.Errorf("change %q (stage %q): recording %s and committing failed (%v) and the audit trail could not be read to tell whether it committed; the next run decides from the trail: %w",
				c.meta.ID, c.stage, st.done, err, rerr)
			return o
		case !committed:
			return fail(fmt.Errorf("record %s and commit: %w", st.done, err))
		}
		x.log.Warn("commit reported an error but the transaction committed", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
	// stored is zero when the trail told that the transaction committed:
	// tip then stays below the entry, which only costs the next start a
	// read of the trail.
	x.saw(stored.Seq)
	crash.Hit(ctx, st.doneAt)
	return x.done(c, st, o, time.Since(start))
}

// rolledBackMarker is appended to the execution id of the marker an
// undo's transaction writes: no STARTED entry names that execution, so
// the marker proves nothing, and it replaces the marker that did.
const rolledBackMarker = "/rolled-back"

// separateTx: STARTED; run the step and write the marker in the target's
// transaction; commit; the done state; clear the marker. After a crash
// between the commit and the done state, the marker tells whether the
// transaction committed (see step.holdsMarker).
func (x *execution) separateTx(ctx context.Context, c *boundChange, st step, o Outcome) Outcome {
	s := audit.StrategySeparateTx
	start := time.Now()
	crash.Hit(ctx, crash.BeforeStarted)
	mine := Marker{Key: c.key(), ExecutionID: x.id}
	written := mine
	if st.holdsMarker {
		if err := x.holdMarker(ctx, c, mine); err != nil {
			return st.failed(x, ctx, c, o, failure{s: s, was: st.before, start: start, err: err})
		}
		crash.Hit(ctx, crash.AfterMarkerHeld)
		written.ExecutionID += rolledBackMarker
	}
	if err := x.record(ctx, c, x.entry(c, audit.StateStarted, s, 0, nil)); err != nil {
		// A held marker stays: had STARTED been stored after all, clearing
		// it would make the next run apply the change a second time.
		o.Status, o.Err = StatusFailed, err
		return o
	}
	crash.Hit(ctx, crash.AfterStarted)
	start = time.Now()
	fail := func(err error) Outcome {
		return st.failed(x, ctx, c, o, failure{s: s, was: audit.StateStarted, start: start, err: err})
	}
	var u unit
	var err error
	if c.b.implicit {
		var ended bool
		u, ended, err = x.begunImplicit(ctx, c, st)
		if ended {
			s, fail = audit.StrategyNonTx, x.committedPartway(ctx, c, st, o, start)
		}
		if err != nil {
			var unknown *uncertainCommitError
			if errors.As(err, &unknown) {
				o.Status, o.Duration = StatusFailed, time.Since(start)
				o.Err = st.fault(c, audit.StateStarted, err,
					"the next run reads the markers of this execution: the begun marker alone says the database committed part of it, no marker that nothing of it was committed")
				x.log.Error("failed", "stage", c.stage, "change", c.meta.ID, "state", audit.StateStarted, "error", o.Err)
				return o
			}
			return fail(err)
		}
	} else if u, err = x.begun(ctx, c, st.fn); err != nil {
		return fail(err)
	}
	crash.Hit(ctx, st.ranAt)
	if err := u.writeMarker(ctx, written); err != nil {
		x.abort(ctx, c, u)
		return fail(fmt.Errorf("write marker: %w", err))
	}
	crash.Hit(ctx, crash.BeforeCommit)
	if err := u.commit(ctx); err != nil {
		wctx, cancel := x.writeCtx(ctx)
		found, merr := c.b.markers.HasMarker(wctx, mine)
		cancel()
		switch {
		case merr != nil:
			o.Status, o.Duration = StatusFailed, time.Since(start)
			o.Err = st.fault(c, audit.StateStarted, fmt.Errorf("commit: %w (and reading the marker failed: %v)", err, merr),
				"whether its transaction committed is unknown; the next run reads the marker of this execution and records the change APPLIED if it is there, or applies it again if it is not")
			x.log.Error("failed", "stage", c.stage, "change", c.meta.ID, "state", audit.StateStarted, "error", o.Err)
			return o
		case !st.committed(found):
			return fail(fmt.Errorf("commit: %w", err))
		}
		x.log.Warn("commit reported an error but the marker shows it committed", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
	crash.Hit(ctx, crash.AfterTargetCommit)
	d := time.Since(start)
	// s is audit.StrategyNonTx when the database committed the transaction
	// by itself: the marker still proves the step done.
	if err := x.record(ctx, c, x.entry(c, st.done, s, d, nil)); err != nil {
		o.Status, o.Duration = StatusFailed, d
		o.Err = fmt.Errorf("change %q (stage %q) %s: %w", c.meta.ID, c.stage, st.committedUnrecorded, err)
		return o
	}
	crash.Hit(ctx, st.doneAt)
	x.clearMarker(ctx, c)
	return x.done(c, st, o, d)
}

// uncertainCommitError is the failure of a step under SeparateTxImplicit
// after which the target could not tell whether the database had
// committed the step's transaction by itself.
type uncertainCommitError struct{ err error }

func (e *uncertainCommitError) Error() string { return e.err.Error() }
func (e *uncertainCommitError) Unwrap() error { return e.err }

// begunImplicit begins c's unit of work under SeparateTxImplicit, writes
// the begun marker first in it, and runs st's function. ended reports
// that the begun marker is visible outside the transaction: the database
// committed the transaction by itself, and what the function did stays.
// It returns the unit to be committed, or, when the function failed,
// aborts it; an *uncertainCommitError when the marker could not be read.
func (x *execution) begunImplicit(ctx context.Context, c *boundChange, st step) (u unit, ended bool, err error) {
	u, err = c.b.start(ctx)
	if err != nil {
		return unit{}, false, fmt.Errorf("begin: %w", err)
	}
	begun := Marker{Key: c.key(), ExecutionID: x.id + BegunMarker}
	if err := u.writeMarker(ctx, begun); err != nil {
		x.abort(ctx, c, u)
		return unit{}, false, fmt.Errorf("write marker: %w", err)
	}
	ferr := call(ctx, st.fn(u))
	wctx, cancel := x.writeCtx(ctx)
	ended, merr := c.b.markers.HasMarker(wctx, begun)
	cancel()
	if merr != nil {
		x.abort(ctx, c, u)
		return unit{}, false, &uncertainCommitError{fmt.Errorf("%s ended (%v), but reading its begun marker, to tell whether the database had committed its transaction by itself, failed: %w", st.doing, ferr, merr)}
	}
	if ferr != nil {
		x.abort(ctx, c, u)
		return unit{}, ended, ferr
	}
	return u, ended, nil
}

// holdMarker commits m in c's target, in a transaction of its own.
func (x *execution) holdMarker(ctx context.Context, c *boundChange, m Marker) error {
	u, err := c.b.start(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := u.writeMarker(ctx, m); err != nil {
		x.abort(ctx, c, u)
		return fmt.Errorf("write marker: %w", err)
	}
	if err := u.commit(ctx); err != nil {
		return fmt.Errorf("commit marker: %w", err)
	}
	return nil
}

// nonTx: STARTED, then the step without a transaction (unguarded). After a
// crash, STARTED makes the change an issue (recovery manual) or applies it
// again (recovery retry): it is never taken for done.
func (x *execution) nonTx(ctx context.Context, c *boundChange, st step, o Outcome) Outcome {
	crash.Hit(ctx, crash.BeforeStarted)
	if err := x.record(ctx, c, x.entry(c, audit.StateStarted, audit.StrategyNonTx, 0, nil)); err != nil {
		o.Status, o.Err = StatusFailed, err
		return o
	}
	crash.Hit(ctx, crash.AfterStarted)
	return x.unguarded(ctx, c, st, o, audit.StateStarted)
}

// unguarded runs st on c in a unit of work of its own, without a
// transaction around it and its record, and records its done state or
// its failure. was is the change's latest state in the trail: STARTED, or
// FAILED when the step compensates that failure.
func (x *execution) unguarded(ctx context.Context, c *boundChange, st step, o Outcome, was audit.State) Outcome {
	const s = audit.StrategyNonTx
	start := time.Now()
	err := x.inWork(ctx, c, st.fn)
	d := time.Since(start)
	if err != nil {
		return st.failed(x, ctx, c, o, failure{s: s, was: was, start: start, err: err})
	}
	crash.Hit(ctx, st.ranAt)
	if rerr := x.record(ctx, c, x.entry(c, st.done, s, d, nil)); rerr != nil {
		o.Status, o.Duration = StatusFailed, d
		o.Err = fmt.Errorf("change %q (stage %q) was %s, but its state stays %s: %s: %w", c.meta.ID, c.stage, st.status, was,
			x.uncertain(c, "the audit trail does not say so"), rerr)
		return o
	}
	crash.Hit(ctx, st.doneAt)
	return x.done(c, st, o, d)
}

// done ends a step that succeeded.
func (x *execution) done(c *boundChange, st step, o Outcome, d time.Duration) Outcome {
	o.Status, o.Duration = st.status, d
	x.log.Info(string(st.status), "stage", c.stage, "change", c.meta.ID, "state", st.done, "duration", d)
	x.emit(Event{Kind: st.event, Stage: c.stage, ChangeID: c.meta.ID, State: st.done, Duration: d})
	return o
}

// applyFailed is the failure policy of an apply: FAILED, with a
// *ChangeError. A change without a transaction that asks for compensation
// then has its rollback run, as the undo step.
func (x *execution) applyFailed(ctx context.Context, c *boundChange, o Outcome, f failure) Outcome {
	d := time.Since(f.start)
	o.Status, o.Duration = StatusFailed, d
	if rerr := x.record(ctx, c, x.entry(c, audit.StateFailed, f.s, d, f.err)); rerr != nil {
		o.Err = errors.Join(
			&ChangeError{Stage: c.stage, ChangeID: c.meta.ID, State: f.was, Err: f.err,
				Next: "the failure could not be recorded; the next run decides from the state left in the audit trail"},
			rerr)
		x.log.Error("failed", "stage", c.stage, "change", c.meta.ID, "duration", d, "error", f.err, "record_error", rerr)
		return o
	}
	next := x.next(c, audit.StateFailed, f.s, f.err)
	if f.partway {
		what := "the database committed its transaction by itself part-way through it (" + implicitCommit + "), so it may have partly taken effect"
		if p := progressOf(f.err, OperationRun); p != "" {
			what += ": " + p
		}
		next = x.uncertain(c, what)
	}
	ce := &ChangeError{Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateFailed, Err: f.err, Next: next}
	o.Err = ce
	x.log.Error("failed", "stage", c.stage, "change", c.meta.ID, "state", audit.StateFailed, "duration", d, "error", f.err)
	x.emit(Event{Kind: EventFailed, Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateFailed, Duration: d, Err: f.err})
	if f.s != audit.StrategyNonTx || !c.meta.Compensate || f.partway {
		// The rollback is an undo of a fully applied change: run on a
		// half-applied one it could destroy data.
		return o
	}
	crash.Hit(ctx, crash.AfterFailed)
	// A change cancelled by a signal (SIGTERM on a rolling deploy) still
	// gets its compensation, detached from the cancellation and bounded
	// like the recording of its outcome.
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	if _, lerr := x.lease.valid(ctx); lerr != nil {
		o.Err = errors.Join(o.Err, &LockLostError{Stage: c.stage, ChangeID: c.meta.ID,
			Err: fmt.Errorf("its rollback was not run: %w", lerr)})
		return o
	}
	// FAILED stands for the undo's STARTED: both say the change may be
	// partly applied.
	u := x.unguarded(ctx, c, undoing(x.step.reason), Outcome{Stage: c.stage, ChangeID: c.meta.ID}, audit.StateFailed)
	var re *RollbackError
	switch {
	case u.Status == StatusRolledBack:
		ce.State = audit.StateRolledBack
	case errors.As(u.Err, &re) && re.State == audit.StateRollbackFailed:
		ce.State, ce.RollbackErr = audit.StateRollbackFailed, re.Err
	default: // the outcome of the rollback could not be recorded
		o.Err = errors.Join(o.Err, u.Err)
		return o
	}
	ce.Next = x.next(c, ce.State, f.s, f.err)
	return o
}

// undoFailed is the failure policy of an undo. Inside a transaction, or
// before one began, nothing was undone: keptApplied. Without one the
// change may be partly undone: ROLLBACK_FAILED, which leaves it uncertain.
func (x *execution) undoFailed(ctx context.Context, c *boundChange, o Outcome, f failure) Outcome {
	if f.s != audit.StrategyNonTx {
		return x.keptApplied(ctx, c, o, f)
	}
	d := time.Since(f.start)
	o.Status, o.Duration = StatusFailed, d
	x.log.Error("rollback failed", "stage", c.stage, "change", c.meta.ID, "duration", d, "error", f.err)
	what := "it ran without a transaction and may be partly undone"
	if p := progressOf(f.err, OperationRollback); p != "" {
		what = "it ran without a transaction and may be partly undone: " + p
	}
	re := &RollbackError{Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateRollbackFailed, Err: f.err,
		Next: x.uncertain(c, what)}
	if rerr := x.record(ctx, c, x.entry(c, audit.StateRollbackFailed, f.s, d, f.err)); rerr != nil {
		re.State, re.Next = f.was, x.uncertain(c, "the failure could not be recorded and the change may be partly undone")
		o.Err = errors.Join(re, rerr)
		return o
	}
	crash.Hit(ctx, crash.AfterRolledBack)
	o.Err = re
	x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateRollbackFailed, Duration: d, Err: f.err})
	return o
}

// keptApplied ends an undo that failed inside a transaction, which the
// database rolled back (or before one began): the change is still
// applied. It records ROLLBACK_FAILED with the error, for the history, and
// then APPLIED, since ROLLBACK_FAILED alone would leave the change's
// outcome uncertain for the next run. f.was is the change's state in the
// trail before: APPLIED, or STARTED for a separate transaction whose
// marker still proves the change applied.
func (x *execution) keptApplied(ctx context.Context, c *boundChange, o Outcome, f failure) Outcome {
	d := time.Since(f.start)
	o.Status, o.Duration = StatusFailed, d
	x.log.Error("rollback failed; the change is still applied", "stage", c.stage, "change", c.meta.ID, "duration", d, "error", f.err)
	re := &RollbackError{Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateApplied, Err: f.err,
		Next: "nothing was rolled back, so the change is still applied; fix the cause and roll back again"}
	if rerr := x.record(ctx, c, x.entry(c, audit.StateRollbackFailed, f.s, d, f.err)); rerr != nil {
		re.State = f.was
		if f.was == audit.StateStarted {
			re.Next = "nothing was rolled back; the change's state stays STARTED until the next run finds the marker of this execution and records it applied again"
		}
		o.Err = errors.Join(re, rerr)
		return o
	}
	kept := x.entry(c, audit.StateApplied, f.s, 0, nil)
	kept.Reason = "its rollback failed inside a transaction, which the database rolled back, so it is still applied"
	o.Err = re
	if rerr := x.record(ctx, c, kept); rerr != nil {
		re.State = audit.StateRollbackFailed
		re.Next = x.uncertain(c, "nothing was rolled back, so the change is still applied, but recording so failed")
		o.Err = errors.Join(re, rerr)
	} else if f.s == audit.StrategySeparateTx {
		x.clearMarker(ctx, c)
	}
	x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, State: re.State, Duration: d, Err: f.err})
	return o
}

// next says what happens after a change ended in state under strategy s.
// err is the change's error: the progress it carries is said.
func (x *execution) next(c *boundChange, state audit.State, s audit.Strategy, err error) string {
	partly := "it ran without a transaction and may have partly taken effect"
	if p := progressOf(err, OperationRun); p != "" {
		partly = "it ran without a transaction: " + p
	}
	switch {
	case state == audit.StateFailed && s == audit.StrategyNonTx && c.hasRollback && !c.meta.Compensate:
		return x.uncertain(c, "its rollback was not run: it undoes a fully applied change, and the change does not ask for compensation (compensate=true); "+
			partly)
	case state == audit.StateFailed && s != audit.StrategyNonTx:
		return "its transaction was rolled back, so nothing was applied; fix the cause and run again: the next run applies it again"
	case state == audit.StateRolledBack:
		return "its rollback undid it; fix the cause and run again: the next run applies it again"
	}
	return x.uncertain(c, partly)
}

// uncertain says what the next run does with c, whose outcome is
// uncertain as what says: the recovery recorded in the trail decides.
func (x *execution) uncertain(c *boundChange, what string) string {
	if c.meta.Recovery == audit.RecoveryRetry {
		return what + "; its recovery is retry, so the next run applies it again"
	}
	var b strings.Builder
	b.WriteString(what + "; the next run reports it as an issue until an operator checks the target and resolves it")
	for _, r := range x.r.resolutions(c.meta.ID) {
		fmt.Fprintf(&b, "; %s %s", r.Effect, r.Command)
	}
	return b.String()
}

// record appends e under the execution's lease, even when ctx was
// cancelled meanwhile, retrying only a write that never reached the store
// (see backoff). A refused write becomes a *LockLostError.
func (x *execution) record(ctx context.Context, c *boundChange, e audit.Entry) error {
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	stored, err := retry(ctx, x.r.backoff(), "record "+string(e.State), unreached, func(ctx context.Context) (audit.Entry, error) {
		return x.r.store.Append(ctx, x.lease.current(), e)
	})
	x.saw(stored.Seq)
	if err != nil {
		if errors.Is(err, audit.ErrFenced) {
			return &LockLostError{Stage: c.stage, ChangeID: c.meta.ID, Err: fmt.Errorf("record %s: %w", e.State, err)}
		}
		return fmt.Errorf("record %s of change %q (stage %q): %w", e.State, c.meta.ID, c.stage, err)
	}
	return nil
}

// latestIs reports whether the trail's latest entry of c is a state entry
// of this execution.
func (x *execution) latestIs(ctx context.Context, c *boundChange, state audit.State) (bool, error) {
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	h, err := x.r.store.History(ctx, audit.Filter{Stage: c.stage, ChangeID: c.meta.ID})
	if err != nil {
		return false, err
	}
	if len(h) == 0 {
		return false, nil
	}
	last := h[len(h)-1]
	return last.State == state && last.ExecutionID == x.id, nil
}

// entry is an entry of this execution for c, carrying the execution's
// reason (that of a rollback; none for a run).
func (x *execution) entry(c *boundChange, st audit.State, s audit.Strategy, d time.Duration, err error) audit.Entry {
	e := audit.Entry{
		ExecutionID: x.id,
		Stage:       c.stage,
		ChangeID:    c.meta.ID,
		Order:       c.meta.Order,
		Author:      c.meta.Author,
		State:       st,
		Time:        time.Now().UTC(),
		Duration:    d,
		Host:        x.r.host,
		RunnerID:    x.r.cfg.runnerID,
		TargetID:    c.meta.Target,
		Strategy:    s,
		Recovery:    c.meta.Recovery,
		Checksum:    c.meta.Checksum,
		Reason:      x.step.reason,
		Metadata:    x.r.withProfiles(nil),
	}
	if err != nil {
		e.ErrorMessage, e.ErrorKind = err.Error(), errorKind(err)
		e.Metadata = withProgress(e.Metadata, err)
	}
	return e
}

// withProgress returns metadata with the progress err carries
// (audit.ProgressError, such as a *sqlscript.StatementError) recorded under
// audit.MetadataProgress, merged with what metadata holds: a failure's
// entry (FAILED, ROLLBACK_FAILED) then says how far the change or its
// rollback got, and audit.Assess says it in words. Without progress, or
// when it cannot be merged, metadata is returned as it is: the failure is
// recorded either way.
func withProgress(metadata json.RawMessage, err error) json.RawMessage {
	p, ok := audit.ProgressOf(err)
	if !ok {
		return metadata
	}
	m, merr := audit.WithProgress(metadata, p)
	if merr != nil {
		return metadata
	}
	return m
}

// progressOf says how far a change that failed without a transaction got,
// completing "it ran without a transaction: …", or "" when its error
// carries no progress.
func progressOf(err error, op Operation) string {
	p, ok := audit.ProgressOf(err)
	switch {
	case !ok:
		return ""
	case op == OperationRollback:
		return p.RollbackApplied()
	}
	return p.Applied()
}

// abort discards a unit of work; the failure that led here is what
// matters, so an abort error is only logged.
func (x *execution) abort(ctx context.Context, c *boundChange, u unit) {
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	if err := u.abort(ctx); err != nil {
		x.log.Warn("abort", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
}

// begun begins c's unit of work and runs on it the function fn picks (the
// change or its rollback). It returns the unit to be committed, or, when
// the function failed, aborts it.
func (x *execution) begun(ctx context.Context, c *boundChange, fn func(unit) func(context.Context) error) (unit, error) {
	u, err := c.b.start(ctx)
	if err != nil {
		return unit{}, fmt.Errorf("begin: %w", err)
	}
	if err := call(ctx, fn(u)); err != nil {
		x.abort(ctx, c, u)
		return unit{}, err
	}
	return u, nil
}

// inWork runs fn's function in c's unit of work and commits it: a whole
// step of a change run without a transaction of its own, where nothing is
// recorded in between.
func (x *execution) inWork(ctx context.Context, c *boundChange, fn func(unit) func(context.Context) error) error {
	u, err := x.begun(ctx, c, fn)
	if err != nil {
		return err
	}
	if err := u.commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// call runs a change or rollback function, turning a panic into a
// *PanicError so that a broken change fails like any other instead of
// killing the process mid-run.
func call(ctx context.Context, f func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return f(ctx)
}
