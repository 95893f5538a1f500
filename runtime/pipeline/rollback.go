package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// RollbackOption configures RollbackTo.
type RollbackOption interface {
	applyRollback(*rollbackConfig)
}

type rollbackConfig struct {
	inclusive bool
}

type rollbackOptionFunc func(*rollbackConfig)

func (f rollbackOptionFunc) applyRollback(c *rollbackConfig) { f(c) }

// Inclusive makes RollbackTo roll back the change it is given too, after
// every later one; RollbackTo(ctx, firstID, Inclusive()) rolls back the
// whole pipeline.
func Inclusive() RollbackOption {
	return rollbackOptionFunc(func(c *rollbackConfig) { c.inclusive = true })
}

// RollbackTo rolls back every applied change that comes after change id
// in the pipeline, newest first (in reverse pipeline order, across
// stages), by running its declared rollback, so that id is the latest
// change left applied, as goose's DownTo keeps its version. With
// Inclusive, id is rolled back too. Changes of the range that are not
// applied are skipped; the next Run applies again every change rolled
// back.
//
// It refuses before anything runs, with:
//
//   - an error matching ErrUnknownChange when no stage declares id;
//   - an *IssuesError when any change of the pipeline is an issue, as Run
//     does;
//   - a *StageRenamedError when the audit trail records changes of the
//     pipeline under another stage name, as Run does;
//   - a *RollbackRefusedError (ErrRollbackRefused) listing every change of
//     the range that is applied but declares no rollback, whose outcome
//     is uncertain (recovery retry), or whose separate transaction
//     committed without being recorded yet (Run records it first).
//
// Like Run, it decides from the audit trail read without the lock and
// returns at once when no change of the range is applied; otherwise it
// takes the lock, decides again, keeps the lease fresh, starts a rollback
// only under a valid lease, and stops at the first failure, returned as a
// *RollbackError (ErrRollbackFailed) or, when the lease was lost, a
// *LockLostError.
//
// Every entry it writes carries the reason of the rollback. What it
// records depends on the change's strategy, so that a crash at any point
// leaves a state the next run judges right:
//
//   - shared transaction: the rollback and ROLLED_BACK commit in one
//     transaction; a crash leaves the change APPLIED.
//   - separate transaction: a marker of the execution commits in the
//     target first, then STARTED is recorded; the rollback commits in a
//     target transaction that replaces the marker; then ROLLED_BACK. After
//     a crash, the next run finds the marker if the rollback did not
//     commit, and records the change APPLIED again; if it did, no marker
//     is found and the change is applied again, as after ROLLED_BACK.
//   - no transaction: STARTED, the rollback, then ROLLED_BACK or
//     ROLLBACK_FAILED. After a crash, the STARTED entry makes the change
//     an issue (recovery manual) or applies it again (recovery retry): it
//     is never taken for applied.
//
// A rollback that fails inside a transaction changed nothing, since the
// database rolled it back: ROLLBACK_FAILED records the attempt and its
// error, then APPLIED records that the change is still applied.
//
// The Result is never nil; it lists the changes of the range, newest
// first.
func (r *Runner) RollbackTo(ctx context.Context, id string, opts ...RollbackOption) (res *Result, err error) {
	var cfg rollbackConfig
	for _, o := range opts {
		if o == nil {
			return &Result{}, errors.New("RollbackTo: nil option")
		}
		o.applyRollback(&cfg)
	}
	from := -1
	for i, c := range r.changes {
		if c.meta.ID == id {
			from = i
		}
	}
	if from < 0 {
		return &Result{}, fmt.Errorf("%w: no stage of the pipeline declares change %q", ErrUnknownChange, id)
	}
	x := &rollbackRun{run: &run{r: r, id: rand.Text(), log: r.cfg.logger}, from: from + 1,
		reason: fmt.Sprintf("rollback of every change after %q", id)}
	if cfg.inclusive {
		x.from, x.reason = from, fmt.Sprintf("rollback of change %q and every change after it", id)
	}
	x.log = x.log.With("execution", x.id, "operation", OperationRollback)
	res = &Result{ExecutionID: x.id}
	x.begin(ctx, OperationRollback)
	defer func() { x.end(res, err) }()

	steps, err := x.steps(ctx)
	if err != nil {
		return x.notRun(res, steps, "the rollback was refused"), err
	}
	if !anyToUndo(steps) {
		x.log.Info("nothing to roll back", "changes", len(steps))
		return x.finish(ctx, res, steps), nil
	}

	x.lease, err = r.acquire(ctx)
	if err != nil {
		return x.notRun(res, steps, "the lock was not acquired"), err
	}
	defer x.lease.release(ctx)

	// Another runner may have run or rolled back meanwhile: decide again
	// under the lock.
	steps, err = x.steps(ctx)
	if err != nil {
		return x.notRun(res, steps, "the rollback was refused"), err
	}
	return x.finish(ctx, res, steps), x.err
}

// rollbackRun is the state of one RollbackTo.
type rollbackRun struct {
	*run
	// from is the index in the pipeline of the oldest change to roll back.
	from int
	// reason is recorded in every entry the rollback writes.
	reason string
}

// rollbackStep is the decision for one change of the range.
type rollbackStep struct {
	c  *boundChange
	pc PlannedChange
	// undo is set when the change is applied and is to be rolled back.
	undo bool
}

// steps reads the trail and decides every change of the range, newest
// first, with the decisions of Run. Issues anywhere in the pipeline and
// refusals in the range are returned as errors, with the steps (nil when
// the trail could not be read).
func (x *rollbackRun) steps(ctx context.Context) ([]rollbackStep, error) {
	p, err := x.r.plan(ctx)
	if err != nil {
		return nil, err
	}
	var steps []rollbackStep
	var refusals []Refusal
	for i := len(x.r.changes) - 1; i >= x.from; i-- {
		st := rollbackStep{c: x.r.changes[i], pc: p.Changes[i]}
		refuse := func(why string) {
			refusals = append(refusals, Refusal{Stage: st.c.stage, ChangeID: st.c.meta.ID, Reason: why})
		}
		switch {
		case st.pc.Action == ActionSkip && !st.c.hasRollback:
			refuse("it is applied and declares no rollback; undo it by hand and mark it rolled back with flamingock audit fix, or roll back to a later change")
		case st.pc.Action == ActionSkip:
			st.undo = true
		case st.pc.Action == ActionRecover:
			refuse(st.pc.Reason + "; run the pipeline first, which records it as applied")
		case st.pc.Latest != nil:
			if problem := uncertainty(st.c, *st.pc.Latest); problem != "" {
				refuse(fmt.Sprintf("%s; %s; run the pipeline first (its recovery is retry, so the run applies it again), or resolve it with flamingock audit fix",
					st.pc.Latest.State, problem))
			}
		}
		steps = append(steps, st)
	}
	if issues := p.Issues(); len(issues) > 0 {
		for _, is := range issues {
			x.log.Error("issue blocks the rollback", "stage", is.Stage, "change", is.ChangeID, "state", is.Latest.State,
				"problem", is.Problem)
			x.emit(Event{Kind: EventIssueFound, Stage: is.Stage, ChangeID: is.ChangeID, State: is.Latest.State, Reason: is.Problem})
		}
		return steps, &IssuesError{Issues: issues}
	}
	if len(refusals) > 0 {
		return steps, &RollbackRefusedError{Refusals: refusals}
	}
	return steps, nil
}

// uncertainty is what is uncertain about the outcome of a change that a
// run would apply again (recovery retry), or "" when it is certainly not
// applied. Like Plan, it trusts the marker only when the change's target
// still keeps markers.
func uncertainty(c *boundChange, latest audit.Entry) string {
	a := audit.Assess(latest)
	if c.b.markers == nil {
		a = a.WithoutMarker()
	}
	return a.Problem
}

func anyToUndo(steps []rollbackStep) bool {
	for _, st := range steps {
		if st.undo {
			return true
		}
	}
	return false
}

// notRun fills res for a rollback that stopped before rolling anything
// back.
func (x *rollbackRun) notRun(res *Result, steps []rollbackStep, why string) *Result {
	for _, st := range steps {
		o := Outcome{Stage: st.c.stage, ChangeID: st.c.meta.ID, Status: StatusNotRun, Reason: "not run: " + why}
		if !st.undo {
			o.Status, o.Reason = StatusSkipped, notApplied(st.pc)
		}
		res.Changes = append(res.Changes, o)
	}
	return res
}

func notApplied(pc PlannedChange) string {
	if pc.Latest == nil {
		return "never applied: nothing to roll back"
	}
	return "not applied (" + pc.Reason + "): nothing to roll back"
}

// finish walks the steps, rolling back the applied changes until one
// fails.
func (x *rollbackRun) finish(ctx context.Context, res *Result, steps []rollbackStep) *Result {
	for _, st := range steps {
		c := st.c
		o := Outcome{Stage: c.stage, ChangeID: c.meta.ID}
		switch {
		case !st.undo:
			o.Status, o.Reason = StatusSkipped, notApplied(st.pc)
			x.log.Debug("skipped", "stage", c.stage, "change", c.meta.ID, "reason", o.Reason)
			x.emit(Event{Kind: EventSkipped, Stage: c.stage, ChangeID: c.meta.ID, Reason: o.Reason})
		case x.err != nil:
			o.Status, o.Reason = StatusNotRun, "not run: the rollback stopped at "+x.stoppedAt
		case ctx.Err() != nil:
			x.err = fmt.Errorf("rollback stopped before change %q (stage %q): %w", c.meta.ID, c.stage, ctx.Err())
			o.Status, o.Reason = StatusNotRun, "not run: the rollback was cancelled"
		default:
			if _, err := x.lease.valid(ctx); err != nil {
				x.err = &LockLostError{Stage: c.stage, ChangeID: c.meta.ID, Err: err}
				o.Status, o.Reason = StatusNotRun, "not run: the lease was lost"
				break
			}
			o = x.undo(ctx, c)
			if o.Status == StatusFailed {
				x.err = o.Err
				o.Reason = "failed: " + o.Err.Error()
			}
		}
		if x.err != nil && x.stoppedAt == "" {
			x.stoppedAt = fmt.Sprintf("change %q (stage %q)", c.meta.ID, c.stage)
		}
		res.Changes = append(res.Changes, o)
	}
	return res
}

// undo rolls back one change with the strategy its target declares and
// records every transition.
func (x *rollbackRun) undo(ctx context.Context, c *boundChange) Outcome {
	o := Outcome{Stage: c.stage, ChangeID: c.meta.ID, Reason: x.reason}
	x.log.Info("rolling back", "stage", c.stage, "change", c.meta.ID, "strategy", c.b.strategy, "reason", x.reason)
	x.emit(Event{Kind: EventStarted, Stage: c.stage, ChangeID: c.meta.ID, Reason: x.reason})
	switch c.b.strategy {
	case audit.StrategySharedTx:
		return x.sharedTx(ctx, c, o)
	case audit.StrategySeparateTx:
		return x.separateTx(ctx, c, o)
	default:
		return x.nonTx(ctx, c, o)
	}
}

// sharedTx: roll back, then append ROLLED_BACK inside the same
// transaction and commit, in one step. A crash leaves the change APPLIED.
func (x *rollbackRun) sharedTx(ctx context.Context, c *boundChange, o Outcome) Outcome {
	const s = audit.StrategySharedTx
	start := time.Now()
	u, err := c.b.begin(ctx, x.r.store)
	if err != nil {
		return x.keptApplied(ctx, c, o, s, audit.StateApplied, start, fmt.Errorf("begin transaction: %w", err))
	}
	if err := call(ctx, u.rollback); err != nil {
		x.abort(ctx, c, u)
		return x.keptApplied(ctx, c, o, s, audit.StateApplied, start, err)
	}
	stored, err := u.appender.CommitAudit(ctx, x.lease.current(), x.entry(c, audit.StateRolledBack, s, time.Since(start), nil))
	if err != nil {
		x.abort(ctx, c, u)
		if errors.Is(err, audit.ErrFenced) {
			o.Status, o.Duration = StatusFailed, time.Since(start)
			o.Err = &LockLostError{Stage: c.stage, ChangeID: c.meta.ID,
				Err: fmt.Errorf("record ROLLED_BACK in the rollback's transaction, which was rolled back: %w", err)}
			x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, Duration: o.Duration, Err: o.Err})
			return o
		}
		// The commit may have happened even so: the trail holds the
		// truth, since ROLLED_BACK was part of the transaction.
		committed, rerr := x.latestIs(ctx, c, audit.StateRolledBack)
		switch {
		case rerr != nil:
			o.Status, o.Duration = StatusFailed, time.Since(start)
			o.Err = &RollbackError{Stage: c.stage, ChangeID: c.meta.ID, Err: fmt.Errorf("record ROLLED_BACK and commit: %w", err),
				Next: fmt.Sprintf("the audit trail could not be read to tell whether the rollback committed (%v); it holds the truth either way: ROLLED_BACK if it did, APPLIED if not", rerr)}
			x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, Duration: o.Duration, Err: o.Err})
			return o
		case !committed:
			return x.keptApplied(ctx, c, o, s, audit.StateApplied, start, fmt.Errorf("record ROLLED_BACK and commit: %w", err))
		}
		x.log.Warn("commit reported an error but the rollback committed", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
	x.saw(stored.Seq) // zero when the trail told that the rollback committed
	return x.rolledBack(c, o, time.Since(start))
}

// rolledBackMarker is appended to the execution id of the marker the
// rollback's transaction writes: no STARTED entry names that execution,
// so the marker proves nothing, and it replaces the marker that did.
const rolledBackMarker = "/rolled-back"

// separateTx: commit a marker of this execution in the target; STARTED;
// roll back and replace the marker in the target's transaction; commit;
// ROLLED_BACK; clear the marker. Until the rollback commits, the marker
// named by STARTED proves the change is still applied, which is what the
// next run's recovery records; once it commits, that marker is gone and
// the next run applies the change again.
func (x *rollbackRun) separateTx(ctx context.Context, c *boundChange, o Outcome) Outcome {
	const s = audit.StrategySeparateTx
	start := time.Now()
	held := Marker{Key: c.key(), ExecutionID: x.id}
	if err := x.holdMarker(ctx, c, held); err != nil {
		return x.keptApplied(ctx, c, o, s, audit.StateApplied, start, err)
	}
	if err := x.record(ctx, c, x.entry(c, audit.StateStarted, s, 0, nil)); err != nil {
		// The marker stays: had STARTED been stored after all, clearing it
		// would make the next run apply the change a second time.
		return x.unrecorded(c, o, start, err)
	}
	start = time.Now()
	u, err := c.b.begin(ctx, x.r.store)
	if err != nil {
		return x.keptApplied(ctx, c, o, s, audit.StateStarted, start, fmt.Errorf("begin transaction: %w", err))
	}
	if err := call(ctx, u.rollback); err != nil {
		x.abort(ctx, c, u)
		return x.keptApplied(ctx, c, o, s, audit.StateStarted, start, err)
	}
	if err := u.marker.WriteMarker(ctx, Marker{Key: c.key(), ExecutionID: x.id + rolledBackMarker}); err != nil {
		x.abort(ctx, c, u)
		return x.keptApplied(ctx, c, o, s, audit.StateStarted, start, fmt.Errorf("replace marker: %w", err))
	}
	if err := u.work.Commit(ctx); err != nil {
		wctx, cancel := x.writeCtx(ctx)
		found, merr := c.b.markers.HasMarker(wctx, held)
		cancel()
		switch {
		case merr != nil:
			o.Status, o.Duration = StatusFailed, time.Since(start)
			o.Err = &RollbackError{Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateStarted,
				Err:  fmt.Errorf("commit: %w (and reading the marker failed: %v)", err, merr),
				Next: "whether the rollback committed is unknown; the next run reads the marker and records the change APPLIED again if it is there, or applies it again if it is not"}
			x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateStarted, Duration: o.Duration, Err: o.Err})
			return o
		case found:
			return x.keptApplied(ctx, c, o, s, audit.StateStarted, start, fmt.Errorf("commit: %w", err))
		}
		x.log.Warn("commit reported an error but the marker shows it committed", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
	d := time.Since(start)
	if err := x.record(ctx, c, x.entry(c, audit.StateRolledBack, s, d, nil)); err != nil {
		o.Status, o.Duration = StatusFailed, d
		o.Err = fmt.Errorf("change %q (stage %q) was rolled back, but its state stays STARTED until the next run finds no marker of this execution and applies it again: %w",
			c.meta.ID, c.stage, err)
		x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, Duration: d, Err: o.Err})
		return o
	}
	x.clearMarker(ctx, c)
	return x.rolledBack(c, o, d)
}

// holdMarker commits m in c's target, in a transaction of its own.
func (x *rollbackRun) holdMarker(ctx context.Context, c *boundChange, m Marker) error {
	u, err := c.b.begin(ctx, x.r.store)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := u.marker.WriteMarker(ctx, m); err != nil {
		x.abort(ctx, c, u)
		return fmt.Errorf("write marker: %w", err)
	}
	if err := u.work.Commit(ctx); err != nil {
		return fmt.Errorf("commit marker: %w", err)
	}
	return nil
}

// nonTx: STARTED, the rollback, then ROLLED_BACK or ROLLBACK_FAILED.
func (x *rollbackRun) nonTx(ctx context.Context, c *boundChange, o Outcome) Outcome {
	const s = audit.StrategyNonTx
	start := time.Now()
	if err := x.record(ctx, c, x.entry(c, audit.StateStarted, s, 0, nil)); err != nil {
		return x.unrecorded(c, o, start, err)
	}
	start = time.Now()
	err := x.inWork(ctx, c, func(u unit) func(context.Context) error { return u.rollback })
	d := time.Since(start)
	o.Duration = d
	if err == nil {
		if rerr := x.record(ctx, c, x.entry(c, audit.StateRolledBack, s, d, nil)); rerr != nil {
			o.Status = StatusFailed
			o.Err = fmt.Errorf("change %q (stage %q) was rolled back, but its state stays STARTED: %s: %w",
				c.meta.ID, c.stage, x.uncertainNext(c, "whether it is applied is not recorded"), rerr)
			x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, Duration: d, Err: o.Err})
			return o
		}
		return x.rolledBack(c, o, d)
	}
	o.Status = StatusFailed
	x.log.Error("rollback failed", "stage", c.stage, "change", c.meta.ID, "duration", d, "error", err)
	re := &RollbackError{Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateRollbackFailed, Err: err,
		Next: x.uncertainNext(c, "it ran without a transaction and may be partly undone")}
	if rerr := x.record(ctx, c, x.entry(c, audit.StateRollbackFailed, s, d, err)); rerr != nil {
		re.State, re.Next = audit.StateStarted, x.uncertainNext(c, "the failure could not be recorded and the change may be partly undone")
		o.Err = errors.Join(re, rerr)
		x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, Duration: d, Err: o.Err})
		return o
	}
	o.Err = re
	x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateRollbackFailed, Duration: d, Err: err})
	return o
}

// keptApplied ends a rollback that failed inside a transaction, which the
// database rolled back (or before one began): the change is still
// applied. It records ROLLBACK_FAILED with the error, for the history, and
// then APPLIED, since ROLLBACK_FAILED alone would leave the change's
// outcome uncertain for the next run. was is the change's state in the
// trail before: APPLIED, or STARTED for a separate transaction whose
// marker still proves the change applied.
func (x *rollbackRun) keptApplied(ctx context.Context, c *boundChange, o Outcome, s audit.Strategy, was audit.State, start time.Time, err error) Outcome {
	d := time.Since(start)
	o.Status, o.Duration = StatusFailed, d
	x.log.Error("rollback failed; the change is still applied", "stage", c.stage, "change", c.meta.ID, "duration", d, "error", err)
	re := &RollbackError{Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateApplied, Err: err,
		Next: "nothing was rolled back, so the change is still applied; fix the cause and roll back again"}
	var rerr error
	if rerr = x.record(ctx, c, x.entry(c, audit.StateRollbackFailed, s, d, err)); rerr != nil {
		re.State = was
		if was == audit.StateStarted {
			re.Next = "nothing was rolled back; the change's state stays STARTED until the next run finds the marker of this execution and records it applied again"
		}
	} else {
		kept := x.entry(c, audit.StateApplied, s, 0, nil)
		kept.Reason = "its rollback failed inside a transaction, which the database rolled back, so it is still applied"
		if rerr = x.record(ctx, c, kept); rerr != nil {
			re.State = audit.StateRollbackFailed
			re.Next = x.uncertainNext(c, "nothing was rolled back, so the change is still applied, but recording so failed")
		} else if s == audit.StrategySeparateTx {
			x.clearMarker(ctx, c)
		}
	}
	o.Err = re
	if rerr != nil {
		o.Err = errors.Join(re, rerr)
	}
	x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, State: re.State, Duration: d, Err: err})
	return o
}

// unrecorded ends a rollback whose STARTED entry could not be recorded:
// nothing ran.
func (x *rollbackRun) unrecorded(c *boundChange, o Outcome, start time.Time, err error) Outcome {
	o.Status, o.Duration, o.Err = StatusFailed, time.Since(start), err
	x.log.Error("rollback not started", "stage", c.stage, "change", c.meta.ID, "error", err)
	x.emit(Event{Kind: EventRollbackFailed, Stage: c.stage, ChangeID: c.meta.ID, Err: err})
	return o
}

func (x *rollbackRun) rolledBack(c *boundChange, o Outcome, d time.Duration) Outcome {
	o.Status, o.Duration = StatusRolledBack, d
	x.log.Info("rolled back", "stage", c.stage, "change", c.meta.ID, "state", audit.StateRolledBack, "duration", d)
	x.emit(Event{Kind: EventRolledBack, Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateRolledBack, Duration: d})
	return o
}

// entry is an entry of the rollback of c, carrying its reason.
func (x *rollbackRun) entry(c *boundChange, st audit.State, s audit.Strategy, d time.Duration, err error) audit.Entry {
	e := x.run.entry(c, st, s, d, err)
	e.Reason = x.reason
	return e
}

// uncertainNext says what the next run does with c after the rollback
// left its outcome uncertain, as what says: the recovery recorded in the
// trail decides.
func (x *rollbackRun) uncertainNext(c *boundChange, what string) string {
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

// latestIs reports whether the trail's latest entry of c is a state entry
// of this execution.
func (x *run) latestIs(ctx context.Context, c *boundChange, state audit.State) (bool, error) {
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
