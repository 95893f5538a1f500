package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crash"
)

// execute runs one change with the strategy its target declares and
// records every transition.
func (x *run) execute(ctx context.Context, c *boundChange, pc PlannedChange) Outcome {
	o := Outcome{Stage: c.stage, ChangeID: c.meta.ID, Reason: pc.Reason}
	x.log.Info("applying", "stage", c.stage, "change", c.meta.ID, "strategy", c.b.strategy, "reason", pc.Reason)
	x.emit(Event{Kind: EventStarted, Stage: c.stage, ChangeID: c.meta.ID, Reason: pc.Reason})
	switch c.b.strategy {
	case audit.StrategySharedTx:
		return x.sharedTx(ctx, c, o)
	case audit.StrategySeparateTx:
		return x.separateTx(ctx, c, o)
	default:
		return x.nonTx(ctx, c, o)
	}
}

// sharedTx: apply, then append APPLIED inside the same transaction and
// commit, in one step. A crash leaves nothing behind, so no STARTED entry
// is needed.
func (x *run) sharedTx(ctx context.Context, c *boundChange, o Outcome) Outcome {
	const s = audit.StrategySharedTx
	start := time.Now()
	u, err := c.b.begin(ctx, x.r.store)
	if err != nil {
		return x.fail(ctx, c, o, s, start, fmt.Errorf("begin transaction: %w", err))
	}
	if err := call(ctx, u.apply); err != nil {
		x.abort(ctx, c, u)
		return x.fail(ctx, c, o, s, start, err)
	}
	crash.Hit(ctx, crash.AfterApply)
	applied := x.entry(c, audit.StateApplied, s, time.Since(start), nil)
	crash.Hit(ctx, crash.BeforeCommit)
	stored, err := u.appender.CommitAudit(ctx, x.lease.current(), applied)
	if err != nil {
		x.abort(ctx, c, u)
		if errors.Is(err, audit.ErrFenced) {
			o.Status, o.Err = StatusFailed, &LockLostError{Stage: c.stage, ChangeID: c.meta.ID,
				Err: fmt.Errorf("record APPLIED in the change's transaction, which was rolled back: %w", err)}
			return o
		}
		// The commit may have happened even so (a connection lost while it
		// was acknowledged): the trail holds the truth, since APPLIED was
		// part of the transaction.
		committed, rerr := x.appliedBy(ctx, c)
		switch {
		case rerr != nil:
			o.Status, o.Duration = StatusFailed, time.Since(start)
			o.Err = fmt.Errorf("change %q (stage %q): recording APPLIED and committing failed (%v) and the audit trail could not be read to tell whether it committed; the next run decides from the trail: %w",
				c.meta.ID, c.stage, err, rerr)
			return o
		case !committed:
			return x.fail(ctx, c, o, s, start, fmt.Errorf("record APPLIED and commit: %w", err))
		}
		x.log.Warn("commit reported an error but the change committed", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
	// stored is zero when the trail told that the change committed: tip
	// then stays below the entry, which only costs the next start a read
	// of the trail.
	x.saw(stored.Seq)
	crash.Hit(ctx, crash.AfterApplied)
	return x.applied(c, o, time.Since(start))
}

// separateTx: STARTED; apply and write the marker in the target's
// transaction; commit; APPLIED; clear the marker. After a crash between
// the commit and APPLIED, the marker proves the commit.
func (x *run) separateTx(ctx context.Context, c *boundChange, o Outcome) Outcome {
	const s = audit.StrategySeparateTx
	crash.Hit(ctx, crash.BeforeStarted)
	if err := x.record(ctx, c, x.entry(c, audit.StateStarted, s, 0, nil)); err != nil {
		o.Status, o.Err = StatusFailed, err
		return o
	}
	crash.Hit(ctx, crash.AfterStarted)
	start := time.Now()
	u, err := c.b.begin(ctx, x.r.store)
	if err != nil {
		return x.fail(ctx, c, o, s, start, fmt.Errorf("begin transaction: %w", err))
	}
	if err := call(ctx, u.apply); err != nil {
		x.abort(ctx, c, u)
		return x.fail(ctx, c, o, s, start, err)
	}
	crash.Hit(ctx, crash.AfterApply)
	m := Marker{Key: c.key(), ExecutionID: x.id}
	if err := u.marker.WriteMarker(ctx, m); err != nil {
		x.abort(ctx, c, u)
		return x.fail(ctx, c, o, s, start, fmt.Errorf("write marker: %w", err))
	}
	crash.Hit(ctx, crash.BeforeCommit)
	if err := u.work.Commit(ctx); err != nil {
		wctx, cancel := x.writeCtx(ctx)
		found, merr := c.b.markers.HasMarker(wctx, m)
		cancel()
		switch {
		case merr != nil:
			o.Status, o.Duration = StatusFailed, time.Since(start)
			o.Err = &ChangeError{Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateStarted,
				Err:  fmt.Errorf("commit: %w (and reading the marker failed: %v)", err, merr),
				Next: "whether its transaction committed is unknown; the next run reads the marker and records APPLIED or applies it again"}
			x.log.Error("failed", "stage", c.stage, "change", c.meta.ID, "state", audit.StateStarted, "error", o.Err)
			return o
		case !found:
			return x.fail(ctx, c, o, s, start, fmt.Errorf("commit: %w", err))
		}
		x.log.Warn("commit reported an error but the marker shows it committed", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
	crash.Hit(ctx, crash.AfterTargetCommit)
	d := time.Since(start)
	if err := x.record(ctx, c, x.entry(c, audit.StateApplied, s, d, nil)); err != nil {
		o.Status, o.Duration = StatusFailed, d
		o.Err = fmt.Errorf("change %q (stage %q) committed, but its state stays STARTED until the next run finds its marker: %w", c.meta.ID, c.stage, err)
		return o
	}
	crash.Hit(ctx, crash.AfterApplied)
	x.clearMarker(ctx, c)
	return x.applied(c, o, d)
}

// nonTx: STARTED, apply, APPLIED; on failure FAILED, then, only for a
// change that asks for compensation, its rollback and ROLLED_BACK or
// ROLLBACK_FAILED.
func (x *run) nonTx(ctx context.Context, c *boundChange, o Outcome) Outcome {
	const s = audit.StrategyNonTx
	crash.Hit(ctx, crash.BeforeStarted)
	if err := x.record(ctx, c, x.entry(c, audit.StateStarted, s, 0, nil)); err != nil {
		o.Status, o.Err = StatusFailed, err
		return o
	}
	crash.Hit(ctx, crash.AfterStarted)
	start := time.Now()
	err := x.inWork(ctx, c, func(u unit) func(context.Context) error { return u.apply })
	d := time.Since(start)
	if err == nil {
		crash.Hit(ctx, crash.AfterApply)
		if rerr := x.record(ctx, c, x.entry(c, audit.StateApplied, s, d, nil)); rerr != nil {
			o.Status, o.Duration = StatusFailed, d
			o.Err = fmt.Errorf("change %q (stage %q) was applied, but its state stays STARTED: %w", c.meta.ID, c.stage, rerr)
			return o
		}
		crash.Hit(ctx, crash.AfterApplied)
		return x.applied(c, o, d)
	}
	o = x.fail(ctx, c, o, s, start, err)
	if !c.meta.Compensate {
		// The rollback is an undo of a fully applied change: run on a
		// half-applied one it could destroy data.
		return o
	}
	var ce *ChangeError
	if !errors.As(o.Err, &ce) || ce.State != audit.StateFailed {
		return o // FAILED could not be recorded: do not go on without the lock
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
	return x.rollback(ctx, c, o, ce)
}

// rollback runs the rollback of a failed non-transactional change that asks
// for compensation, and records its outcome.
func (x *run) rollback(ctx context.Context, c *boundChange, o Outcome, ce *ChangeError) Outcome {
	const s = audit.StrategyNonTx
	start := time.Now()
	err := x.inWork(ctx, c, func(u unit) func(context.Context) error { return u.rollback })
	d := time.Since(start)
	state, kind := audit.StateRolledBack, EventRolledBack
	if err != nil {
		state, kind = audit.StateRollbackFailed, EventRollbackFailed
	}
	if rerr := x.record(ctx, c, x.entry(c, state, s, d, err)); rerr != nil {
		o.Err = errors.Join(o.Err, fmt.Errorf("rollback of change %q (stage %q) ended (%s, error %v) but recording it failed: %w",
			c.meta.ID, c.stage, state, err, rerr))
		return o
	}
	crash.Hit(ctx, crash.AfterRolledBack)
	ce.State, ce.RollbackErr, ce.Next = state, err, x.next(c, state, s)
	if err != nil {
		x.log.Error("rollback failed", "stage", c.stage, "change", c.meta.ID, "state", state, "duration", d, "error", err)
	} else {
		x.log.Info("rolled back", "stage", c.stage, "change", c.meta.ID, "state", state, "duration", d)
	}
	x.emit(Event{Kind: kind, Stage: c.stage, ChangeID: c.meta.ID, State: state, Duration: d, Err: err})
	return o
}

// fail records FAILED for a change whose execution failed with err and
// returns its outcome, a *ChangeError.
func (x *run) fail(ctx context.Context, c *boundChange, o Outcome, s audit.Strategy, start time.Time, err error) Outcome {
	d := time.Since(start)
	o.Status, o.Duration = StatusFailed, d
	if rerr := x.record(ctx, c, x.entry(c, audit.StateFailed, s, d, err)); rerr != nil {
		was := audit.StateStarted
		if s == audit.StrategySharedTx {
			was = "" // nothing of this run was recorded
		}
		o.Err = errors.Join(
			&ChangeError{Stage: c.stage, ChangeID: c.meta.ID, State: was, Err: err,
				Next: "the failure could not be recorded; the next run decides from the state left in the audit trail"},
			rerr)
		x.log.Error("failed", "stage", c.stage, "change", c.meta.ID, "duration", d, "error", err, "record_error", rerr)
		return o
	}
	o.Err = &ChangeError{Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateFailed, Err: err, Next: x.next(c, audit.StateFailed, s)}
	x.log.Error("failed", "stage", c.stage, "change", c.meta.ID, "state", audit.StateFailed, "duration", d, "error", err)
	x.emit(Event{Kind: EventFailed, Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateFailed, Duration: d, Err: err})
	return o
}

func (x *run) applied(c *boundChange, o Outcome, d time.Duration) Outcome {
	o.Status, o.Duration = StatusApplied, d
	x.log.Info("applied", "stage", c.stage, "change", c.meta.ID, "state", audit.StateApplied, "duration", d)
	x.emit(Event{Kind: EventApplied, Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateApplied, Duration: d})
	return o
}

// next says what happens after a change ended in state under strategy s.
func (x *run) next(c *boundChange, state audit.State, s audit.Strategy) string {
	if state == audit.StateFailed && s == audit.StrategyNonTx && c.hasRollback && !c.meta.Compensate {
		return "its rollback was not run: it undoes a fully applied change, and the change does not ask for compensation (compensate=true); " +
			x.next(c, audit.StateStarted, s)
	}
	switch {
	case state == audit.StateFailed && s != audit.StrategyNonTx:
		return "its transaction was rolled back, so nothing was applied; fix the cause and run again: the next run applies it again"
	case state == audit.StateRolledBack:
		return "its rollback undid it; fix the cause and run again: the next run applies it again"
	case c.meta.Recovery == audit.RecoveryRetry:
		return "it ran without a transaction and may have partly taken effect; its recovery is retry, so the next run applies it again"
	}
	var b strings.Builder
	b.WriteString("it ran without a transaction and may have partly taken effect; the next run reports it as an issue until an operator checks the target and resolves it")
	for _, r := range x.r.resolutions(c.meta.ID) {
		fmt.Fprintf(&b, "; %s %s", r.Effect, r.Command)
	}
	return b.String()
}

// record appends e under the run's lease, even when ctx was cancelled
// meanwhile, retrying only a write that never reached the store (see
// backoff). A refused write becomes a *LockLostError.
func (x *run) record(ctx context.Context, c *boundChange, e audit.Entry) error {
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

// appliedBy reports whether the trail's latest entry of c is an APPLIED
// entry of this run.
func (x *run) appliedBy(ctx context.Context, c *boundChange) (bool, error) {
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
	return last.State == audit.StateApplied && last.ExecutionID == x.id, nil
}

func (x *run) entry(c *boundChange, st audit.State, s audit.Strategy, d time.Duration, err error) audit.Entry {
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
	}
	if err != nil {
		e.ErrorMessage, e.ErrorKind = err.Error(), errorKind(err)
	}
	return e
}

// abort discards a unit of work; the failure that led here is what
// matters, so an abort error is only logged.
func (x *run) abort(ctx context.Context, c *boundChange, u unit) {
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	if err := u.work.Abort(ctx); err != nil {
		x.log.Warn("abort", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
}

// inWork begins c's unit of work, runs on it the function fn picks (the
// change or its rollback) and commits it: a whole step of a change run
// without a transaction of its own, where nothing is recorded in between.
func (x *run) inWork(ctx context.Context, c *boundChange, fn func(unit) func(context.Context) error) error {
	u, err := c.b.begin(ctx, x.r.store)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := call(ctx, fn(u)); err != nil {
		x.abort(ctx, c, u)
		return err
	}
	if err := u.work.Commit(ctx); err != nil {
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
