package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
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
// *RollbackError (ErrRollbackFailed); when the lease was lost, a
// *LockLostError; when the audit trail could not record a step of the
// rollback, a *StoreError (ErrStoreFailed) that says whether the rollback
// took effect, as Run's does.
//
// Every entry it writes carries the reason of the rollback. It runs each
// change with the strategy Run applies it with, undoing instead of
// applying (the same code, given the direction), so that a crash at any
// point leaves a state the next run judges right, by the same table:
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
	b, err := r.changes()
	if err != nil {
		return &Result{}, err
	}
	from := -1
	for i, c := range b.changes {
		if c.meta.ID == id {
			from = i
		}
	}
	if from < 0 {
		return &Result{}, fmt.Errorf("%w: no stage of the pipeline declares change %q", ErrUnknownChange, id)
	}
	first, reason := from+1, fmt.Sprintf("rollback of every change after %q", id)
	if cfg.inclusive {
		first, reason = from, fmt.Sprintf("rollback of change %q and every change after it", id)
	}
	x := &execution{r: r, id: rand.Text(), step: undoing(reason)}
	x.log = r.cfg.logger.With("execution", x.id, "operation", OperationRollback)
	res = &Result{ExecutionID: x.id}
	x.begin(ctx, OperationRollback)
	defer func() { x.end(res, err) }()

	tasks, err := x.rollbackTasks(ctx, first)
	if err != nil {
		return x.notRun(ctx, res, slices.Values(tasks), "the rollback was refused"), err
	}
	if !slices.ContainsFunc(tasks, func(t task) bool { return !t.skip }) {
		x.log.Info("nothing to roll back", "changes", len(tasks))
		return x.walk(ctx, res, slices.Values(tasks)), nil
	}

	x.lease, err = r.acquire(ctx)
	if err != nil {
		return x.notRun(ctx, res, slices.Values(tasks), "the lock was not acquired"), err
	}
	defer x.lease.release(ctx)

	// Another runner may have run or rolled back meanwhile: decide again
	// under the lock.
	tasks, err = x.rollbackTasks(ctx, first)
	if err != nil {
		return x.notRun(ctx, res, slices.Values(tasks), "the rollback was refused"), err
	}
	return x.walk(ctx, res, slices.Values(tasks)), x.err
}

// rollbackTasks reads the trail and decides every change from the one at
// index first of the pipeline on, newest first, with the decisions of Run:
// an applied change is to be undone, any other skipped. Issues anywhere in
// the pipeline and refusals in the range are returned as errors, with the
// tasks (nil when the trail could not be read).
func (x *execution) rollbackTasks(ctx context.Context, first int) ([]task, error) {
	p, err := x.r.plan(ctx)
	if err != nil {
		return nil, err
	}
	var tasks []task
	var refusals []Refusal
	for i := len(x.r.built.changes) - 1; i >= first; i-- {
		c, pc := x.r.built.changes[i], &p.Changes[i]
		t := task{c: c, pc: pc, skip: true, reason: notApplied(pc)}
		refuse := func(why string) {
			refusals = append(refusals, Refusal{Stage: c.stage, ChangeID: c.meta.ID, Reason: why})
		}
		switch {
		case pc.Action == ActionExclude:
			// Not this runner's change, applied or not: its undo is for a
			// runner with its profiles.
			t.exclude, t.reason = true, pc.Reason+"; not rolled back"
		case pc.Action == ActionSkip && !c.hasRollback:
			refuse("it is applied and declares no rollback; undo it by hand and mark it rolled back with flamingock audit fix, or roll back to a later change")
		case pc.Action == ActionSkip:
			t.skip, t.reason = false, x.step.reason
		case pc.Action == ActionRecover:
			refuse(pc.Reason + "; run the pipeline first, which records it as applied")
		case pc.Latest != nil && pc.Problem != "":
			refuse(fmt.Sprintf("%s; %s; run the pipeline first (its recovery is retry, so the run applies it again), or resolve it with flamingock audit fix",
				pc.Latest.State, pc.Problem))
		}
		tasks = append(tasks, t)
	}
	if issues := p.Issues(); len(issues) > 0 {
		for _, is := range issues {
			x.log.Error("issue blocks the rollback", "stage", is.Stage, "change", is.ChangeID, "state", is.Latest.State,
				"problem", is.Problem)
			x.emit(Event{Kind: EventIssueFound, Stage: is.Stage, ChangeID: is.ChangeID, State: is.Latest.State, Reason: is.Problem})
		}
		return tasks, &IssuesError{Issues: issues}
	}
	if len(refusals) > 0 {
		return tasks, &RollbackRefusedError{Refusals: refusals}
	}
	return tasks, nil
}

// notApplied is the reason a change of the range is skipped.
func notApplied(pc *PlannedChange) string {
	if pc.Latest == nil {
		return "never applied: nothing to roll back"
	}
	return "not applied (" + pc.Reason + "): nothing to roll back"
}
