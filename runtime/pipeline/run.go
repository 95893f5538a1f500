package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
	"log/slog"
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
// With WithImport, Run calls the importer under the lock, after deciding
// again and before anything runs, when a change has no entry yet (see
// Importer); it then decides again from what the importer recorded.
//
// Every error Run returns matches one of ErrManualInterventionRequired,
// ErrLockNotAcquired, ErrLockLost, ErrChangeFailed, ErrStageRenamed,
// ErrStoreFailed, ErrInvalidPipeline, ErrImport, or the context's error (context.Canceled,
// context.DeadlineExceeded) when ctx ended before a change started; see
// the package documentation.
//
// The Result is never nil: it lists what happened to every change, with
// StatusNotRun for the changes a failure kept from running, and the
// applied changes whose source changed since (Result.Drift).
func (r *Runner) Run(ctx context.Context) (res *Result, err error) {
	x := &execution{r: r, id: rand.Text(), step: applying()}
	x.log = r.cfg.logger.With("execution", x.id)
	res = &Result{ExecutionID: x.id}
	x.begin(ctx, OperationRun)
	defer func() { x.end(res, err) }()

	p, current, err := r.startPlan(ctx)
	if err != nil {
		return x.notRun(ctx, res, x.tasks(nil), x.undecided(err)), err
	}
	if current {
		x.log.Debug("nothing to apply", "changes", r.total, "checkpoint", current)
		return x.upToDate(ctx, res)
	}
	if len(p.Pending()) == 0 && len(p.Issues()) == 0 {
		x.log.Debug("nothing to apply", "changes", len(p.Changes), "checkpoint", current)
		res = x.walk(ctx, res, x.tasks(p))
		x.saw(p.seq)
		x.checkpoint(ctx, res)
		return res, nil
	}

	x.lease, err = r.acquire(ctx)
	if err != nil {
		return x.notRun(ctx, res, x.tasks(p), "the lock was not acquired"), err
	}
	defer x.lease.release(ctx)

	// Under the lock the trail cannot change any more except by operators:
	// decide again, since another runner may have finished meanwhile.
	p, err = r.plan(ctx)
	if err != nil {
		return x.notRun(ctx, res, x.tasks(nil), x.undecided(err)), err
	}
	if r.cfg.importer != nil && p.unrecorded() {
		q, err := x.importHistory(ctx, p)
		if err != nil {
			if q == nil {
				return x.notRun(ctx, res, x.tasks(nil), x.undecided(err)), err
			}
			return x.notRun(ctx, res, x.tasks(q), "the import failed"), err
		}
		p = q
	}
	x.saw(p.seq)
	if issues := p.Issues(); len(issues) > 0 {
		for _, is := range issues {
			x.log.Error("issue blocks the run", "stage", is.Stage, "change", is.ChangeID, "state", is.Latest.State,
				"problem", is.Problem)
			x.emit(Event{Kind: EventIssueFound, Stage: is.Stage, ChangeID: is.ChangeID, State: is.Latest.State, Reason: is.Problem})
		}
		return x.notRun(ctx, res, x.tasks(p), fmt.Sprintf("%d %s the run", len(issues), plural(len(issues), "issue blocks", "issues block"))),
			&IssuesError{Issues: issues}
	}
	res = x.walk(ctx, res, x.tasks(p))
	if x.err == nil && res.done() {
		x.checkpoint(ctx, res)
	}
	return res, x.err
}

// upToDate ends a start that found the pipeline's checkpoint current:
// every change is done, and nothing is built or listed for it unless
// someone looks (Result.Changes, events, debug logging).
func (x *execution) upToDate(ctx context.Context, res *Result) (*Result, error) {
	res.upToDate = &upToDate{r: x.r}
	if x.r.cfg.events == nil && !x.log.Enabled(ctx, slog.LevelDebug) {
		return res, nil
	}
	b, err := x.r.changes()
	if err != nil {
		return res, err
	}
	for _, c := range b.changes {
		reason := reasonCheckpoint
		if x.r.excluded(c.meta) {
			reason = x.r.excludedWhy(c.meta) + reasonExcludedCheckpoint
		}
		x.log.Debug("skipped", "stage", c.stage, "change", c.meta.ID, "reason", reason)
		x.emit(Event{Kind: EventSkipped, Stage: c.stage, ChangeID: c.meta.ID, Reason: reason})
	}
	return res, nil
}

// skippedFromCheckpoint lists every change as a start that found the
// pipeline's checkpoint current skipped it. It reads only the changes'
// stages and ids, which a Generated stage builds again for it.
func (r *Runner) skippedFromCheckpoint() []Outcome {
	out := make([]Outcome, 0, r.total)
	for _, st := range r.stages {
		changes := st.Changes
		if st.Generated != nil {
			changes = st.Generated.Changes()
		}
		for _, c := range changes {
			if r.excluded(c.meta) {
				out = append(out, Outcome{Stage: st.Name, ChangeID: c.meta.ID, Status: StatusExcluded, Reason: r.excludedWhy(c.meta) + reasonExcludedCheckpoint})
				continue
			}
			out = append(out, Outcome{Stage: st.Name, ChangeID: c.meta.ID, Status: StatusSkipped, Reason: reasonCheckpoint})
		}
	}
	return out
}

// undecided logs why the changes could not be decided from the audit trail
// and returns it as the reason of their outcomes.
func (x *execution) undecided(err error) string {
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
func (x *execution) checkpoint(ctx context.Context, res *Result) {
	if !x.r.caps.KeepsCheckpoints() || x.tip < 1 {
		return
	}
	if len(res.Drift) > 0 {
		x.log.Debug("checkpoint not saved: applied changes whose source changed are reported at every start", "drift", len(res.Drift))
		return
	}
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	if err := x.r.caps.SaveCheckpoint(ctx, audit.Checkpoint{Digest: x.r.digest, Seq: x.tip}); err != nil {
		x.log.Warn("checkpoint not saved: the next start reads the whole audit trail", "error", err)
	}
}

// execution is the state of one Run or RollbackTo.
type execution struct {
	r     *Runner
	id    string
	log   *slog.Logger
	lease *lease // nil on the fast path
	// step is what the execution does to the changes it runs: apply them
	// (Run) or undo them (RollbackTo).
	step step
	// err stops the execution: later changes are not run.
	err error
	// stoppedAt names the change where the execution stopped.
	stoppedAt string
	// ev is what the execution's events remember (events.go).
	ev runEvents
	// tip is the highest seq this execution has seen in the trail: in the
	// snapshot it decided from, or assigned to an entry it appended.
	tip int64
}

// saw records that the trail holds an entry at seq, so that tip stays the
// trail's highest seq while the execution holds the lock.
func (x *execution) saw(seq int64) { x.tip = max(x.tip, seq) }

// task is what an execution does with one change: skip it, record it
// recovered (Run), or run the execution's step on it.
type task struct {
	c  *boundChange
	pc *PlannedChange // nil when the change could not be decided
	// skip leaves the change alone; exclude too, for its profiles;
	// recover records APPLIED from its marker. reason explains the
	// outcome.
	skip, exclude, recover bool
	reason                 string
}

// tasks are the tasks of Run, in pipeline order, from plan p; with p nil
// (the trail could not be decided from), every change is to run.
func (x *execution) tasks(p *Plan) iter.Seq[task] {
	return func(yield func(task) bool) {
		b, err := x.r.changes()
		if err != nil {
			return // an invalid pipeline: no change to list
		}
		for i, c := range b.changes {
			t := task{c: c}
			if p != nil {
				pc := &p.Changes[i]
				t.pc, t.reason = pc, pc.Reason
				t.skip, t.recover = pc.Action == ActionSkip, pc.Action == ActionRecover
				t.exclude = pc.Action == ActionExclude
			}
			if !yield(t) {
				return
			}
		}
	}
}

// walk goes through the tasks of an execution in order: it skips what is
// to be skipped and runs the rest, each only under a valid lease and
// while ctx lasts, until one fails; the changes after that are not run.
// Run and RollbackTo both walk their changes with it, on the fast path
// too, where every change is skipped and there is no lease.
func (x *execution) walk(ctx context.Context, res *Result, tasks iter.Seq[task]) *Result {
	op := string(x.step.op)
	// A start with nothing to do walks every change of the pipeline: skip
	// building their debug records unless someone reads them.
	debug := x.log.Enabled(ctx, slog.LevelDebug)
	for t := range tasks {
		c := t.c
		o := Outcome{Stage: c.stage, ChangeID: c.meta.ID, Reason: t.reason}
		switch {
		case t.exclude:
			o.Status = StatusExcluded
			if debug {
				x.log.Debug("excluded", "stage", c.stage, "change", c.meta.ID, "reason", t.reason)
			}
			x.emit(Event{Kind: EventSkipped, Stage: c.stage, ChangeID: c.meta.ID, Reason: t.reason})
		case t.skip:
			o.Status = StatusSkipped
			if debug {
				x.log.Debug("skipped", "stage", c.stage, "change", c.meta.ID, "reason", t.reason)
			}
			x.drift(ctx, res, t.pc)
			x.emit(Event{Kind: EventSkipped, Stage: c.stage, ChangeID: c.meta.ID, Reason: t.reason})
		case x.err != nil:
			o.Status, o.Reason = StatusNotRun, "not run: the "+op+" stopped at "+x.stoppedAt
		case ctx.Err() != nil:
			x.err = fmt.Errorf("%s stopped before change %q (stage %q): %w", op, c.meta.ID, c.stage, ctx.Err())
			o.Status, o.Reason = StatusNotRun, "not run: the "+op+" was cancelled"
		default:
			if _, err := x.lease.valid(ctx); err != nil {
				x.err = &LockLostError{Stage: c.stage, ChangeID: c.meta.ID, Err: err}
				o.Status, o.Reason = StatusNotRun, "not run: the lease was lost"
				break
			}
			if t.recover {
				o = x.recover(ctx, c, t.pc)
			} else {
				o = x.execute(ctx, c, t.reason)
			}
			if o.Status == StatusFailed {
				o.Err = recordFailed(c, o.Err)
				x.err = o.Err
				o.Reason = "failed: " + o.Err.Error()
			}
		}
		if x.err != nil && x.stoppedAt == "" {
			x.stoppedAt = fmt.Sprintf("change %q (stage %q)", c.meta.ID, c.stage)
		}
		res.changes = append(res.changes, o)
	}
	return res
}

// notRun fills res for an execution that stopped before running anything,
// for why: the changes to skip as skipped, the others as not run.
func (x *execution) notRun(ctx context.Context, res *Result, tasks iter.Seq[task], why string) *Result {
	for t := range tasks {
		o := Outcome{Stage: t.c.stage, ChangeID: t.c.meta.ID, Status: StatusNotRun, Reason: "not run: " + why}
		if t.exclude {
			o.Status, o.Reason = StatusExcluded, t.reason
		} else if t.skip {
			o.Status, o.Reason = StatusSkipped, t.reason
			x.drift(ctx, res, t.pc)
		}
		res.changes = append(res.changes, o)
	}
	return res
}

// drift reports, in res and as a warning, an applied change whose source
// changed since.
func (x *execution) drift(ctx context.Context, res *Result, pc *PlannedChange) {
	if pc == nil || pc.Drift == nil {
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

// recordFailed returns err, the error of change c's execution, so that it
// matches a documented error. An execution fails with a *ChangeError or a
// *RollbackError (the change or its rollback failed), a *LockLostError (a
// refused write) or a *StoreError; any other error is a step the audit
// trail could not record: STARTED before the change ran, or its done state
// after it took effect (the error says which). It becomes a *StoreError.
func recordFailed(c *boundChange, err error) error {
	if errors.Is(err, ErrChangeFailed) || errors.Is(err, ErrRollbackFailed) || errors.Is(err, ErrLockLost) || errors.Is(err, ErrStoreFailed) {
		return err
	}
	return &StoreError{Op: opRecord, Stage: c.stage, ChangeID: c.meta.ID, Err: err}
}

// recover records APPLIED for a change whose separate transaction the
// target's marker proves committed, then clears the marker.
func (x *execution) recover(ctx context.Context, c *boundChange, pc *PlannedChange) Outcome {
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
func (x *execution) clearMarker(ctx context.Context, c *boundChange) {
	ctx, cancel := x.writeCtx(ctx)
	defer cancel()
	if err := c.b.markers.ClearMarker(ctx, c.key()); err != nil {
		x.log.Warn("clear marker", "stage", c.stage, "change", c.meta.ID, "error", err)
	}
}

// writeCtx returns the context of an audit write or cleanup that must
// happen even when the run's context was cancelled meanwhile: the outcome
// of a change that ran has to be recorded.
func (x *execution) writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), max(x.r.cfg.leaseTTL, 10*time.Second))
}
