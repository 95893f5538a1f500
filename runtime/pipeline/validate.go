package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrPending matches the *PendingError Validate returns when changes of
// the pipeline are not applied yet.
var ErrPending = errors.New("changes pending")

// PendingError lists the changes a run would execute or recover.
type PendingError struct {
	// Changes are the pending changes, in pipeline order, each with the
	// action a run would take and why.
	Changes []PlannedChange
}

func (e *PendingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s", ErrPending, len(e.Changes),
		plural(len(e.Changes), "change is not applied", "changes are not applied"))
	for _, c := range e.Changes {
		fmt.Fprintf(&b, "\n  change %q (stage %q): %s: %s", c.ChangeID, c.Stage, c.Action, c.Reason)
	}
	return b.String()
}

// Unwrap makes the error match ErrPending.
func (e *PendingError) Unwrap() error { return ErrPending }

// Validate reports whether every change of the pipeline is applied, for CI
// jobs and readiness checks. It returns nil when nothing is pending; an
// *IssuesError (ErrManualInterventionRequired) when changes need an
// operator, since then no run can apply anything; otherwise a
// *PendingError (ErrPending) listing, in order, what a run would do and
// why; a *StageRenamedError (ErrStageRenamed) when the trail records
// changes of the pipeline under another stage name; a *StoreError
// (ErrStoreFailed) when the trail cannot be read. Like Plan it takes no
// lock and writes nothing; like Run, it reads only the checkpoint when the
// store keeps one that is current, so that it is cheap enough for a
// readiness check however long the trail. Like Run's start it waits, up
// to the lock wait, for a busy store (on SQLite, while another process
// runs a change that shares its transaction with the store), and then
// returns a *LockError (ErrLockNotAcquired).
//
// An applied change whose source changed since (Drift) does not make
// Validate fail: it is applied, so a readiness check stays ready. It is
// logged at warning level, once per Runner for each drift however often
// Validate is called; Plan lists it (Plan.Drift) for a CI job that wants
// to fail on it. No checkpoint is recorded while a pipeline drifts, so
// Validate keeps reading the trail, and seeing the drift, until it is
// resolved.
func (r *Runner) Validate(ctx context.Context) error {
	p, current, err := r.startPlan(ctx)
	switch {
	case err != nil:
		return err
	case current:
		return nil
	}
	for _, d := range p.Drift() {
		if r.cfg.drifts.first(d) {
			logDrift(ctx, r.cfg.logger, d)
		}
	}
	if issues := p.Issues(); len(issues) > 0 {
		return &IssuesError{Issues: issues}
	}
	if pending := p.Pending(); len(pending) > 0 {
		return &PendingError{Changes: pending}
	}
	return nil
}
