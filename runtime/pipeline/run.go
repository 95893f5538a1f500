package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// Run executes the pipeline: every change that is not applied yet, stage
// by stage, in order.
//
// It first reads the audit trail without the lock; when every change is
// applied it returns at once, without locking. Otherwise it takes the lock
// (waiting for another runner for up to the lock wait), reads the trail
// again and decides every change. If any change is an issue it applies
// nothing and returns an *IssuesError listing all of them. Then it runs the
// changes; the first failure stops the run and is returned as a
// *ChangeError. The lease is refreshed while the run lasts, and no change
// starts unless it is valid with margin; a lost lease stops the run with a
// *LockLostError.
//
// A panic inside a change or its rollback is recovered and recorded as
// the change's failure (error kind "panic"); it does not crash the process.
// A change that returns its context's error is recorded with error kind
// "cancelled" or "deadline" (audit.ErrorKindCancelled,
// audit.ErrorKindDeadline).
//
// A busy store is waited for like a held lock: on SQLite, a start's first
// read and the acquisition of the lock need the database's write lock,
// which another process's change holds while it shares its transaction
// with the store.
//
// Every error Run returns matches one of ErrManualInterventionRequired,
// ErrLockNotAcquired, ErrLockLost, ErrChangeFailed, ErrStageRenamed,
// ErrStoreFailed, or the context's error (context.Canceled,
// context.DeadlineExceeded) when ctx ended before a change started; see
// the package documentation.
//
// The Result is never nil: it lists what happened to every change, with
// StatusNotRun for the changes a failure kept from running, and the
// applied changes whose source changed since (Result.Drift).
func (r *Runner) Run(ctx context.Context) (res *Result, err error) {
	x := &run{r: r, id: rand.Text(), log: r.cfg.logger}
	x.log = x.log.With("execution", x.id)
	res = &Result{ExecutionID: x.id}
	x.begin(ctx, OperationRun)
	defer func() { x.end(res, err) }()

	p, current, err := r.startPlan(ctx)
	if err != nil {
		return x.notRun(ctx, res, nil, x.undecided(err)), err
	}
	if len(p.Pending()) == 0 && len(p.Issues()) == 0 {
		x.log.Debug("nothing to apply", "changes", len(p.Changes), "checkpoint", current)
		res = x.finish(ctx, res, p)
		if !current {
			x.saw(p.seq)
			x.checkpoint(ctx, res)
		}
		return res, nil
	}

	x.lease, err = r.acquire(ctx)
	if err != nil {
		return x.notRun(ctx, res, p, "the lock was not acquired"), err
	}
	defer x.lease.release(ctx)

	// Under the lock the trail cannot change any more except by operators:
	// decide again, since another runner may have finished meanwhile.
	p, err = r.plan(ctx)
	if err != nil {
		return x.notRun(ctx, res, nil, x.undecided(err)), err
	}
	x.saw(p.seq)
	if issues := p.Issues(); len(issues) > 0 {
		for _, is := range issues {
			x.log.Error("issue blocks the run", "stage", is.Stage, "change", is.ChangeID, "state", is.Latest.State,
				"problem", is.Problem)
			x.emit(Event{Kind: EventIssueFound, Stage: is.Stage, ChangeID: is.ChangeID, State: is.Latest.State, Reason: is.Problem})
		}
		return x.notRun(ctx, res, p, fmt.Sprintf("%d %s the run", len(issues), plural(len(issues), "issue blocks", "issues block"))),
			&IssuesError{Issues: issues}
	}
	res = x.finish(ctx, res, p)
	if x.err == nil && res.done() {
		x.checkpoint(ctx, res)
	}
	return res, x.err
}

// undecided logs why the changes could not be decided from the audit trail
// and returns it as the reason of their outcomes.
func (x *run) undecided(err error) string {
	var (
		re *StageRenamedError
		le *LockError
	)
	if errors.As(err, &le) {
		return "the lock was not acquired"
	}
	if !errors.As(err, &re) {
		return "the audit trail could not be read"
	}
	for _, c := range re.Changes {
		x.log.Error("change recorded under another stage name blocks the run", "stage", c.Stage, "change", c.ChangeID,
			"recorded_stage", c.RecordedStage)
	}
	return "the audit trail records changes of the pipeline under another stage name"
}

// checkpoint records, when the store keeps checkpoints, that every change
// is done in the trail up to x.tip, so that the next start reads no more
// than the checkpoint. It is called only when the run found or left every
// change done, and tip is a seq the run saw in the trail: the claim is
// true whoever appends next. Failing to record it only costs the next
// start a read of the trail, so a failure is logged, not returned.
//
// No checkpoint is recorded while res reports drift: a start from the
// checkpoint would not read the trail, and so would no longer see it.
func (x *run) checkpoint(ctx context.Context, res *Result) {
	cp, ok := x.r.store.(audit.Checkpointer)
	if !ok || x.tip < 1 {
		return
	}
	if len(res.Drift) > 0 {
		x.log.Debug("checkpoint not saved: applied changes whose source changed are reported at every start", "drift", len(res.Drift))
		return
	}
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	if err := cp.SaveCheckpoint(ctx, audit.Checkpoint{Digest: x.r.digest, Seq: x.tip}); err != nil {
		x.log.Warn("checkpoint not saved: the next start reads the whole audit trail", "error", err)
	}
}

// run is the state of one Run.
type run struct {
	r     *Runner
	id    string
	log   *slog.Logger
	lease *lease // nil on the fast path
	// err stops the run: later changes are not run.
	err error
	// stoppedAt names the change where the run stopped.
	stoppedAt string
	// ev is what the run's events remember (events.go).
	ev runEvents
	// tip is the highest seq this run has seen in the trail: in the
	// snapshot it decided from, or assigned to an entry it appended.
	tip int64
}

// saw records that the trail holds an entry at seq, so that tip stays the
// trail's highest seq while the run holds the lock.
func (x *run) saw(seq int64) { x.tip = max(x.tip, seq) }

// finish walks the plan, executing it unless the run has no lease (the fast
// path, where nothing is pending).
func (x *run) finish(ctx context.Context, res *Result, p *Plan) *Result {
	res.Changes = slices.Grow(res.Changes, len(p.Changes))
	// A start with nothing to do walks every change of the pipeline: skip
	// building their debug records unless someone reads them.
	debug := x.log.Enabled(ctx, slog.LevelDebug)
	for i, pc := range p.Changes {
		c := x.r.changes[i]
		o := Outcome{Stage: pc.Stage, ChangeID: pc.ChangeID, Reason: pc.Reason}
		switch {
		case pc.Action == ActionSkip:
			o.Status = StatusSkipped
			if debug {
				x.log.Debug("skipped", "stage", pc.Stage, "change", pc.ChangeID, "reason", pc.Reason)
			}
			x.drift(ctx, res, pc)
			x.emit(Event{Kind: EventSkipped, Stage: pc.Stage, ChangeID: pc.ChangeID, Reason: pc.Reason})
		case x.err != nil:
			o.Status, o.Reason = StatusNotRun, "not run: the run stopped at "+x.stoppedAt
		case ctx.Err() != nil:
			x.err = fmt.Errorf("run stopped before change %q (stage %q): %w", pc.ChangeID, pc.Stage, ctx.Err())
			o.Status, o.Reason = StatusNotRun, "not run: the run was cancelled"
		default:
			if _, err := x.lease.valid(ctx); err != nil {
				x.err = &LockLostError{Stage: pc.Stage, ChangeID: pc.ChangeID, Err: err}
				o.Status, o.Reason = StatusNotRun, "not run: the lease was lost"
				break
			}
			if pc.Action == ActionRecover {
				o = x.recover(ctx, c, pc)
			} else {
				o = x.execute(ctx, c, pc)
			}
			if o.Status == StatusFailed {
				o.Err = recordFailed(pc, o.Err)
				x.err = o.Err
				o.Reason = "failed: " + o.Err.Error()
			}
		}
		if x.err != nil && x.stoppedAt == "" {
			x.stoppedAt = fmt.Sprintf("change %q (stage %q)", pc.ChangeID, pc.Stage)
		}
		res.Changes = append(res.Changes, o)
	}
	return res
}

// notRun fills res with every change as not run, for a run that stopped
// before executing anything.
func (x *run) notRun(ctx context.Context, res *Result, p *Plan, why string) *Result {
	res.Changes = slices.Grow(res.Changes, len(x.r.changes))
	for i, c := range x.r.changes {
		o := Outcome{Stage: c.stage, ChangeID: c.meta.ID, Status: StatusNotRun, Reason: "not run: " + why}
		if p != nil && p.Changes[i].Action == ActionSkip {
			o.Status, o.Reason = StatusSkipped, p.Changes[i].Reason
			x.drift(ctx, res, p.Changes[i])
		}
		res.Changes = append(res.Changes, o)
	}
	return res
}

// drift reports, in res and as a warning, an applied change whose source
// changed since.
func (x *run) drift(ctx context.Context, res *Result, pc PlannedChange) {
	if pc.Drift == nil {
		return
	}
	res.Drift = append(res.Drift, *pc.Drift)
	logDrift(ctx, x.log, *pc.Drift)
}

// logDrift says d at warning level.
func logDrift(ctx context.Context, log *slog.Logger, d Drift) {
	log.WarnContext(ctx, "applied change's source changed since it was applied; it is not applied again",
		"stage", d.Stage, "change", d.ChangeID, "recorded_checksum", d.Recorded, "checksum", d.Current,
		"applied_at", d.AppliedAt, "fix", fmt.Sprintf("undo the edit and declare a new change, or record it as cosmetic: flamingock-gen -cosmetic=%s", d.ChangeID))
}

// recordFailed returns err, the error of change pc's execution, so that it
// matches a documented error. An execution fails with a *ChangeError (the
// change failed) or a *LockLostError (a refused write); any other error
// is a step the audit trail could not record: STARTED before the change
// ran, or APPLIED after it took effect (the error says which). It becomes
// a *StoreError.
func recordFailed(pc PlannedChange, err error) error {
	if errors.Is(err, ErrChangeFailed) || errors.Is(err, ErrLockLost) || errors.Is(err, ErrStoreFailed) {
		return err
	}
	return &StoreError{Op: opRecord, Stage: pc.Stage, ChangeID: pc.ChangeID, Err: err}
}

// recover records APPLIED for a change whose separate transaction the
// target's marker proves committed, then clears the marker.
func (x *run) recover(ctx context.Context, c *boundChange, pc PlannedChange) Outcome {
	o := Outcome{Stage: pc.Stage, ChangeID: pc.ChangeID, Reason: pc.Reason}
	e := x.entry(c, audit.StateApplied, audit.StrategySeparateTx, 0, nil)
	e.Reason = fmt.Sprintf("recovered: the marker of execution %s in target %q proves it committed", pc.Latest.ExecutionID, c.meta.Target)
	if err := x.record(ctx, c, e); err != nil {
		o.Status, o.Err = StatusFailed, err
		return o
	}
	x.clearMarker(ctx, c)
	o.Status = StatusRecovered
	x.log.Info("recovered", "stage", c.stage, "change", c.meta.ID, "state", audit.StateApplied, "reason", pc.Reason)
	x.emit(Event{Kind: EventRecovered, Stage: c.stage, ChangeID: c.meta.ID, State: audit.StateApplied, Reason: pc.Reason})
	return o
}

// clearMarker deletes the change's marker. A marker left behind is
// harmless (it names an execution no later STARTED entry will), so a
// failure is only logged.
func (x *run) clearMarker(ctx context.Context, c *boundChange) {
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	if err := c.b.markers.ClearMarker(ctx, c.key()); err != nil {
		x.log.Warn("clear marker", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
}

// writeCtx returns the context of an audit write or cleanup that must
// happen even when the run's context was cancelled meanwhile: the outcome
// of a change that ran has to be recorded.
func (x *run) writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), max(x.r.cfg.leaseTTL, 10*time.Second))
}
