package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// Action is what a run does with a change, decided from its latest audit
// entry by the table in the package documentation.
type Action string

const (
	// ActionApply executes the change.
	ActionApply Action = "apply"
	// ActionSkip leaves the change alone: it is applied.
	ActionSkip Action = "skip"
	// ActionRecover records APPLIED without executing the change: its
	// separate transaction committed (the target's marker proves it) but
	// the run that executed it stopped before recording so.
	ActionRecover Action = "recover-from-marker"
	// ActionIssue blocks the run: only an operator can tell whether the
	// change took effect.
	ActionIssue Action = "issue"
)

// Plan is what a run would do, decided from the audit trail without taking
// the lock.
type Plan struct {
	// Changes lists every change of the pipeline, in pipeline order.
	Changes []PlannedChange
	// Lock is the pipeline's lock when the plan was made. While another
	// runner holds it, a STARTED change may still be running.
	Lock audit.LockInfo
}

// PlannedChange is the decision for one change.
type PlannedChange struct {
	Stage    string
	ChangeID string
	Order    int64
	// Latest is the change's latest audit entry; nil when it never ran.
	Latest *audit.Entry
	Action Action
	// Reason explains the action, for people.
	Reason string
	// Issue is set when Action is ActionIssue.
	Issue *Issue
}

// Pending returns the changes a run would execute or recover.
func (p *Plan) Pending() []PlannedChange {
	var out []PlannedChange
	for _, c := range p.Changes {
		if c.Action == ActionApply || c.Action == ActionRecover {
			out = append(out, c)
		}
	}
	return out
}

// Issues returns the issues that would block a run.
func (p *Plan) Issues() []Issue {
	var out []Issue
	for _, c := range p.Changes {
		if c.Issue != nil {
			out = append(out, *c.Issue)
		}
	}
	return out
}

// Plan reads the audit trail without taking the lock and reports what Run
// would do with every change, and why. It runs nothing and writes nothing;
// for a change whose separate transaction may have committed it asks the
// target whether its marker is there (a read). It is the validate-only,
// dry-run call.
func (r *Runner) Plan(ctx context.Context) (*Plan, error) {
	lock, err := r.store.Lock(ctx, r.cfg.lockKey)
	if err != nil {
		return nil, fmt.Errorf("read lock %q: %w", r.cfg.lockKey, err)
	}
	p, err := r.plan(ctx)
	if err != nil {
		return nil, err
	}
	p.Lock = lock
	if lock.Held() {
		for i, c := range p.Changes {
			if c.Action == ActionIssue && c.Latest.State == audit.StateStarted {
				p.Changes[i].Reason += fmt.Sprintf("; runner %s holds the lock until %s, so the change may still be running",
					lock.Owner, lock.ExpiresAt.UTC().Format(time.RFC3339))
			}
		}
	}
	return p, nil
}

// plan reads the snapshot and decides every change.
func (r *Runner) plan(ctx context.Context) (*Plan, error) {
	snap, err := r.store.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	latest := make(map[audit.Key]audit.Entry, len(snap))
	for _, e := range snap {
		latest[e.Key()] = e
	}
	p := &Plan{Changes: make([]PlannedChange, 0, len(r.changes))}
	for _, c := range r.changes {
		pc := PlannedChange{Stage: c.stage, ChangeID: c.meta.ID, Order: c.meta.Order}
		if e, ok := latest[c.key()]; ok {
			pc.Latest = &e
		}
		if err := r.decide(ctx, c, &pc); err != nil {
			return nil, err
		}
		p.Changes = append(p.Changes, pc)
	}
	return p, nil
}

// decide fills pc.Action, pc.Reason and pc.Issue by the decision table of
// the package documentation. The strategy and recovery recorded in the latest entry decide, not
// the declared ones: they describe how the change actually ran.
func (r *Runner) decide(ctx context.Context, c *boundChange, pc *PlannedChange) error {
	e := pc.Latest
	if e == nil {
		pc.Action, pc.Reason = ActionApply, "never applied"
		return nil
	}
	at := e.Time.UTC().Format(time.RFC3339)
	by := "runner " + orUnknown(e.RunnerID)
	switch e.State {
	case audit.StateApplied:
		pc.Action, pc.Reason = ActionSkip, fmt.Sprintf("applied at %s by %s", at, by)
		if e.Checksum != "" && c.meta.Checksum != "" && e.Checksum != c.meta.Checksum {
			pc.Reason += fmt.Sprintf("; its source changed since (checksum %s, now %s) and is not applied again", e.Checksum, c.meta.Checksum)
		}
		return nil
	case audit.StateManualApplied:
		pc.Action, pc.Reason = ActionSkip, fmt.Sprintf("marked as applied at %s by %s: %s", at, e.Operator, e.Reason)
		return nil
	case audit.StateRolledBack:
		pc.Action, pc.Reason = ActionApply, fmt.Sprintf("rolled back at %s by %s", at, by)
		return nil
	case audit.StateManualRolledBack:
		pc.Action, pc.Reason = ActionApply, fmt.Sprintf("marked as rolled back at %s by %s: %s", at, e.Operator, e.Reason)
		return nil
	}

	// STARTED, FAILED or ROLLBACK_FAILED: what happened depends on how it ran.
	what := fmt.Sprintf("%s at %s by %s", e.State, at, by)
	if e.ErrorMessage != "" {
		what += fmt.Sprintf(" (error: %s)", e.ErrorMessage)
	}
	switch {
	case e.State == audit.StateFailed && (e.Strategy == audit.StrategySharedTx || e.Strategy == audit.StrategySeparateTx):
		pc.Action, pc.Reason = ActionApply, what+" inside a transaction the database rolled back"
		return nil
	case e.State == audit.StateStarted && e.Strategy == audit.StrategySeparateTx:
		if c.b.markers == nil {
			// The target no longer runs the change with markers: nothing
			// can tell whether that transaction committed.
			r.uncertain(c, pc, what, "it ran in a separate transaction, but its target no longer keeps markers to tell whether it committed")
			return nil
		}
		m := Marker{Key: c.key(), ExecutionID: e.ExecutionID}
		found, err := c.b.markers.HasMarker(ctx, m)
		if err != nil {
			return fmt.Errorf("stage %q: change %q: read marker in target %q: %w", c.stage, c.meta.ID, c.meta.Target, err)
		}
		if found {
			pc.Action, pc.Reason = ActionRecover, what+fmt.Sprintf("; the marker in target %q shows its transaction committed", c.meta.Target)
		} else {
			pc.Action, pc.Reason = ActionApply, what+fmt.Sprintf("; no marker in target %q, so its transaction did not commit", c.meta.Target)
		}
		return nil
	case e.State == audit.StateRollbackFailed:
		r.uncertain(c, pc, what, "its rollback failed, so the change may be partly undone")
	case e.State == audit.StateFailed:
		r.uncertain(c, pc, what, "it failed "+strategyPhrase(e.Strategy)+", so it may have partly taken effect")
	default:
		r.uncertain(c, pc, what, "it ran "+strategyPhrase(e.Strategy)+" and its outcome was not recorded, so whether it took effect is unknown")
	}
	return nil
}

// uncertain decides a change whose outcome cannot be proven: the recovery
// recorded in its latest entry says whether it may run again.
func (r *Runner) uncertain(c *boundChange, pc *PlannedChange, what, problem string) {
	what += "; " + problem
	if pc.Latest.Recovery == audit.RecoveryRetry {
		pc.Action, pc.Reason = ActionApply, what+"; recovery retry: applying it again"
		return
	}
	pc.Action, pc.Reason = ActionIssue, what+"; recovery manual: an operator must resolve it"
	pc.Issue = &Issue{
		Stage:       c.stage,
		ChangeID:    c.meta.ID,
		Latest:      *pc.Latest,
		Problem:     problem,
		Resolutions: r.resolutions(c.meta.ID),
	}
}

// resolutions returns the operator commands that resolve an issue of
// change id.
func (r *Runner) resolutions(id string) []Resolution {
	cmd := func(res string) string {
		return fmt.Sprintf(`flamingock audit fix %s --resolution %s --reason "describe what you checked" --store %s`,
			shellQuote(id), res, shellQuote(r.storeURL()))
	}
	return []Resolution{
		{Name: "applied", Command: cmd("applied"),
			Effect: "if its effects are in place, mark it applied; the next run skips it:"},
		{Name: "rolled-back", Command: cmd("rolled-back"),
			Effect: "if it had no effect or you undid it, mark it rolled back; the next run applies it again:"},
	}
}

func strategyPhrase(s audit.Strategy) string {
	switch s {
	case audit.StrategySharedTx:
		return "in a transaction shared with the audit store"
	case audit.StrategySeparateTx:
		return "in a separate transaction"
	default:
		return "without a transaction"
	}
}
