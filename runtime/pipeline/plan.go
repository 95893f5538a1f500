package pipeline

import (
	"context"
	"fmt"
	"slices"
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
	// ActionExclude leaves the change alone because its profiles do not
	// match the runner's (WithProfiles): it is neither pending nor an
	// issue, and RollbackTo does not undo it. Latest and Reason say what
	// the trail holds: a change applied before, under other profiles,
	// stays applied.
	ActionExclude Action = "exclude"
)

// Plan is what a run would do, decided from the audit trail without taking
// the lock.
type Plan struct {
	// Changes lists every change of the pipeline, in pipeline order.
	Changes []PlannedChange
	// Lock is the pipeline's lock when the plan was made. While another
	// runner holds it, a STARTED change may still be running.
	Lock audit.LockInfo

	seq int64 // the highest seq of the snapshot decided from
}

// PlannedChange is the decision for one change.
type PlannedChange struct {
	Stage    string
	ChangeID string
	Order    audit.Order
	// Latest is the change's latest audit entry; nil when it never ran.
	Latest *audit.Entry
	Action Action
	// Reason explains the action, for people.
	Reason string
	// Issue is set when Action is ActionIssue.
	Issue *Issue
	// Problem says what is uncertain about the change's outcome: set with
	// Issue (as Issue.Problem), and for a change that may have partly taken
	// effect and that a run applies again, since its recovery is retry.
	Problem string
	// Drift is set when the change is applied but its source changed
	// since (see Drift).
	Drift *Drift
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

// Drift returns the applied changes whose source changed since they were
// applied, in pipeline order.
func (p *Plan) Drift() []Drift {
	var out []Drift
	for _, c := range p.Changes {
		if c.Drift != nil {
			out = append(out, *c.Drift)
		}
	}
	return out
}

// Plan reads the audit trail without taking the lock and reports what Run
// would do with every change, and why. It runs nothing and writes nothing;
// for a change whose separate transaction may have committed it asks the
// target whether its marker is there (a read). It is the validate-only,
// dry-run call. Like Run it refuses, with a *StageRenamedError, a trail
// that records changes of the pipeline under another stage name.
func (r *Runner) Plan(ctx context.Context) (*Plan, error) {
	lock, err := r.store.Lock(ctx, r.cfg.lockKey)
	if err != nil {
		return nil, r.failed(ctx, opReadLock, fmt.Errorf("lock %q: %w", r.cfg.lockKey, err))
	}
	p, err := r.plan(ctx)
	if err != nil {
		return nil, err
	}
	p.withLock(lock)
	return p, nil
}

// withLock records lock in p and says, for every STARTED change, that it
// may still be running when another runner holds the lock.
func (p *Plan) withLock(lock audit.LockInfo) {
	p.Lock = lock
	if lock.Held() {
		for i, c := range p.Changes {
			if c.Action == ActionIssue && c.Latest.State == audit.StateStarted {
				p.Changes[i].Reason += fmt.Sprintf("; runner %s holds the lock until %s, so the change may still be running",
					lock.Owner, lock.ExpiresAt.UTC().Format(time.RFC3339))
			}
		}
	}
}

// plan reads the snapshot and decides every change.
func (r *Runner) plan(ctx context.Context) (*Plan, error) {
	snap, err := retry(ctx, r.backoff(), "read audit trail", idempotent, r.store.Snapshot)
	if err != nil {
		return nil, r.failed(ctx, opReadTrail, err)
	}
	return r.decideAll(ctx, snap)
}

// reasonCheckpoint is the reason of every change when a current checkpoint
// decided them: nothing was recorded since a run found them all applied.
const reasonCheckpoint = "applied; the audit trail has not changed since every change was found applied"

// reasonExcludedCheckpoint completes the reason of a change excluded by
// profile when a current checkpoint decided it, which reads no entry.
const reasonExcludedCheckpoint = "; decided from the checkpoint, which reads no entry"

// startPlan is plan for Run, which only needs to know whether anything is
// to be done: when the store keeps checkpoints and the pipeline's is
// current, every change is done and neither the trail is read nor the
// changes built (current true, p nil). A renamed stage cannot hide behind a checkpoint: the
// stage names are in the digest, and a current checkpoint of this digest
// proves every change recorded under its own stage (see renamed).
//
// A busy store is waited for, up to the lock wait (waitBusy): on SQLite
// this read takes the database's write lock, which a change of another
// process holds while it shares its transaction with the store.
func (r *Runner) startPlan(ctx context.Context) (p *Plan, current bool, err error) {
	type read struct {
		snap    []audit.Entry
		current bool
	}
	got, err := waitBusy(ctx, r, "read audit trail", func(ctx context.Context) (read, error) {
		return retry(ctx, r.backoff(), "read audit trail", exceptBusy(idempotent), func(ctx context.Context) (read, error) {
			snap, current, err := r.caps.SnapshotUnlessCurrent(ctx, r.digest)
			return read{snap, current}, err
		})
	})
	if err != nil {
		return nil, false, r.failed(ctx, opReadTrail, err)
	}
	if got.current {
		return nil, true, nil
	}
	p, err = r.decideAll(ctx, got.snap)
	return p, false, err
}

// decideAll decides every change from snap, the latest entry of every
// change. It refuses, with a *StageRenamedError and before deciding (which
// may read markers), a trail that records changes of the pipeline under
// another stage name: every path that decides from the trail comes here.
func (r *Runner) decideAll(ctx context.Context, snap []audit.Entry) (*Plan, error) {
	if _, err := r.changes(); err != nil {
		return nil, err
	}
	latest := make(map[audit.Key]*audit.Entry, len(snap))
	for i := range snap {
		latest[snap[i].Key()] = &snap[i]
	}
	if err := r.renamed(snap, latest); err != nil {
		return nil, err
	}
	p := &Plan{Changes: make([]PlannedChange, len(r.built.changes)), seq: maxSeq(snap)}
	for i, c := range r.built.changes {
		pc := &p.Changes[i]
		*pc = PlannedChange{Stage: c.stage, ChangeID: c.meta.ID, Order: c.meta.Order, Latest: latest[c.key()]}
		if r.excluded(c.meta) {
			// Decided from nothing else: no marker is read, no drift
			// reported, for a change this runner never runs.
			pc.Action, pc.Reason = ActionExclude, r.excludedReason(c.meta, pc.Latest)
			continue
		}
		if err := r.decide(ctx, c, pc); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// renamed returns a *StageRenamedError listing the changes of the pipeline
// that snap records under another stage and not under their own, or nil.
//
// A change recorded under its own stage too is decided from that history,
// as always: only a trail written before this check holds one (a rename
// re-applied it), and refusing it would refuse both names, leaving no way
// forward but editing the trail. For the same reason a current checkpoint
// needs no check: it proves that every change was done under its own
// stage.
func (r *Runner) renamed(snap []audit.Entry, latest map[audit.Key]*audit.Entry) error {
	var other map[string][]string // change id -> the other stages that record it
	for i := range snap {
		e := &snap[i]
		st, ok := r.built.stageOf[e.ChangeID]
		if !ok || st == e.Stage || latest[audit.Key{Stage: st, ChangeID: e.ChangeID}] != nil {
			continue
		}
		if other == nil {
			other = make(map[string][]string)
		}
		other[e.ChangeID] = append(other[e.ChangeID], e.Stage)
	}
	if other == nil {
		return nil
	}
	err := &StageRenamedError{declared: r.built.stages}
	for _, c := range r.built.changes {
		recorded := other[c.meta.ID]
		slices.Sort(recorded)
		for _, st := range recorded {
			err.Changes = append(err.Changes, RenamedChange{ChangeID: c.meta.ID, Stage: c.stage, RecordedStage: st})
		}
	}
	return err
}

// maxSeq returns the highest seq of entries, 0 for none.
func maxSeq(entries []audit.Entry) int64 {
	var m int64
	for _, e := range entries {
		m = max(m, e.Seq)
	}
	return m
}

// decide fills pc.Action, pc.Reason and pc.Issue by the decision table of
// the package documentation. audit.Assess decides from the latest entry
// alone, as the operator CLI does; decide adds what only the pipeline
// knows: the target's marker and the change's current checksum.
func (r *Runner) decide(ctx context.Context, c *boundChange, pc *PlannedChange) error {
	if pc.Latest == nil {
		pc.Action, pc.Reason = ActionApply, "never applied"
		return nil
	}
	a := audit.Assess(*pc.Latest)
	// marked says that only the target's begun marker shows the issue: the
	// CLI, which reads the trail alone, sees a change whose marker decides,
	// so its resolutions need --force.
	marked := false
	if a.Verdict == audit.VerdictMarkerDecides {
		if c.b.markers == nil {
			// The target no longer runs the change with markers: nothing
			// can tell whether that transaction committed.
			a = a.WithoutMarker()
		} else {
			m := Marker{Key: c.key(), ExecutionID: pc.Latest.ExecutionID}
			found, err := retry(ctx, r.backoff(), "read marker", idempotent, func(ctx context.Context) (bool, error) {
				return c.b.markers.HasMarker(ctx, m)
			})
			if err != nil {
				return &StoreError{Op: opReadMarker, Stage: c.stage, ChangeID: c.meta.ID,
					Err: fmt.Errorf("target %q, change %q (stage %q): %w", c.meta.Target, c.meta.ID, c.stage, err)}
			}
			switch {
			case found:
				pc.Action, pc.Reason = ActionRecover, a.What+fmt.Sprintf("; the marker in target %q shows its transaction committed", c.meta.Target)
				return nil
			case c.b.implicit:
				// The begun marker alone shows that the database committed
				// part of the transaction by itself.
				m.ExecutionID += BegunMarker
				begun, err := retry(ctx, r.backoff(), "read marker", idempotent, func(ctx context.Context) (bool, error) {
					return c.b.markers.HasMarker(ctx, m)
				})
				if err != nil {
					return &StoreError{Op: opReadMarker, Stage: c.stage, ChangeID: c.meta.ID,
						Err: fmt.Errorf("target %q, change %q (stage %q): %w", c.meta.Target, c.meta.ID, c.stage, err)}
				}
				if begun {
					a, marked = a.CommittedPartway(), true
					break
				}
				fallthrough
			default:
				pc.Action, pc.Reason = ActionApply, a.What+fmt.Sprintf("; no marker in target %q, so its transaction did not commit", c.meta.Target)
				return nil
			}
		}
	}
	pc.Reason, pc.Problem = a.Reason, a.Problem
	switch a.Verdict {
	case audit.VerdictDone:
		pc.Action = ActionSkip
		if e := pc.Latest; e.State == audit.StateApplied && e.Checksum != "" && c.meta.Checksum != "" && e.Checksum != c.meta.Checksum && !slices.Contains(c.meta.Equivalent, e.Checksum) {
			pc.Reason += fmt.Sprintf("; its source changed since (checksum %s, now %s) and is not applied again", e.Checksum, c.meta.Checksum)
			pc.Drift = &Drift{Stage: c.stage, ChangeID: c.meta.ID, Recorded: e.Checksum, Current: c.meta.Checksum, AppliedAt: e.Time}
		}
	case audit.VerdictPending:
		pc.Action = ActionApply
	case audit.VerdictIssue:
		pc.Action = ActionIssue
		pc.Issue = &Issue{
			Stage:       c.stage,
			ChangeID:    c.meta.ID,
			Latest:      *pc.Latest,
			Problem:     a.Problem,
			Resolutions: r.resolutions(c.meta.ID),
		}
		if marked {
			pc.Issue.Resolutions = r.resolutions(c.meta.ID, "--force")
		}
	default:
		// An entry this version cannot decide from cannot be trusted.
		return &StoreError{Op: opReadTrail, Stage: c.stage, ChangeID: c.meta.ID,
			Err: &audit.CorruptError{Where: fmt.Sprintf("entry seq %d", pc.Latest.Seq),
				Err: fmt.Errorf("change %q (stage %q): unexpected verdict %q", c.meta.ID, c.stage, a.Verdict)}}
	}
	return nil
}

// resolutions returns the operator commands that resolve an issue of
// change id, worded as the flamingock CLI words them.
func (r *Runner) resolutions(id string, extra ...string) []Resolution {
	var out []Resolution
	for _, res := range audit.Resolutions(id, append(r.storeArgs(), extra...)...) {
		out = append(out, Resolution{Name: res.Name, Command: res.Command, Effect: res.Effect})
	}
	return out
}

// storeArgs are the flamingock CLI flags that reach this pipeline's audit
// trail and lock, for the resolution commands issues print: a pasted
// command must act on the same tables and the same lock key. The store
// names itself (audit.Locator: its URL, schema and table prefix).
func (r *Runner) storeArgs() []string {
	return r.caps.Locator().Args(r.cfg.lockKey)
}
