package pipeline

import (
	"fmt"
	"sync"
	"time"
)

// Status is what a run did with a change.
type Status string

const (
	StatusApplied Status = "applied"
	StatusSkipped Status = "skipped"
	// StatusExcluded: the change's profiles do not match the runner's
	// (WithProfiles), so it was left alone (ActionExclude); Reason says
	// whether it is applied.
	StatusExcluded  Status = "excluded"
	StatusRecovered Status = "recovered"
	StatusFailed    Status = "failed"
	StatusNotRun    Status = "not run"
	// StatusRolledBack: RollbackTo ran the change's rollback.
	StatusRolledBack Status = "rolled back"
	// StatusMarked: Baseline recorded the change as applied
	// (MANUAL_MARKED_AS_APPLIED) without running it.
	StatusMarked Status = "marked"
)

// Result is what a run did. Issues that blocked the run are reported only
// by the *IssuesError Run returns.
type Result struct {
	// ExecutionID identifies the run in the audit trail.
	ExecutionID string
	// Drift lists, in pipeline order, the applied changes whose source
	// changed since they were applied. It is a warning, not a failure: they
	// are not applied again, and the run goes on (see Drift).
	Drift []Drift

	changes []Outcome
	// upToDate is set for a start that found the pipeline's checkpoint
	// current: every change is skipped, and the outcomes are listed only
	// when asked for.
	upToDate *upToDate
}

// upToDate lists the outcomes of a start that found every change done
// from the checkpoint, once.
type upToDate struct {
	r    *Runner
	once sync.Once
}

// Changes lists what the run did with every change of the pipeline, in
// pipeline order, for Run; for RollbackTo, the changes it had to roll
// back, newest first; for Baseline, the changes up to the one it marks
// through, in pipeline order. A start that found every change done from the
// store's checkpoint builds the list at the first call.
func (r *Result) Changes() []Outcome {
	if u := r.upToDate; u != nil {
		u.once.Do(func() { r.changes = u.r.skippedFromCheckpoint() })
	}
	return r.changes
}

// Len is the number of changes Changes lists, without listing them.
func (r *Result) Len() int {
	if u := r.upToDate; u != nil {
		return u.r.total
	}
	return len(r.changes)
}

// Drift is an applied change whose source changed since it was applied:
// the checksum recorded in its APPLIED entry is neither the code's nor one
// of the checksums its Meta.Equivalent lists as cosmetic edits. Every
// environment that applied it keeps the old version; one that never did
// runs the new one. Run, Plan and Validate report it and it is logged as a
// warning; it never makes them fail. Undo the edit and declare a new
// change, or, when the edit changes nothing the change does, record it as
// cosmetic (flamingock-gen -cosmetic=ID).
type Drift struct {
	Stage    string
	ChangeID string
	// Recorded is the checksum recorded when the change was applied;
	// Current is the code's.
	Recorded string
	Current  string
	// AppliedAt is the time of the APPLIED entry.
	AppliedAt time.Time
}

func (d Drift) String() string {
	return fmt.Sprintf("change %q (stage %q) was applied at %s with checksum %s; its source now has checksum %s: "+
		"it is not applied again, so environments that applied it keep the old version; "+
		"undo the edit and declare a new change, or record it as cosmetic with flamingock-gen -cosmetic=%s",
		d.ChangeID, d.Stage, d.AppliedAt.UTC().Format(time.RFC3339), d.Recorded, d.Current, d.ChangeID)
}

// Outcome is what a run did with one change.
type Outcome struct {
	Stage    string
	ChangeID string
	Status   Status
	// Reason explains the status, for people.
	Reason string
	// Duration is how long executing the change took (zero unless it ran).
	Duration time.Duration
	// Err is why the change failed (StatusFailed only).
	Err error
}

// Applied returns the changes the run applied.
func (r *Result) Applied() []Outcome { return r.with(StatusApplied) }

// Skipped returns the changes the run left alone: for Run, those applied
// before; for RollbackTo, those that were not applied.
func (r *Result) Skipped() []Outcome { return r.with(StatusSkipped) }

// Excluded returns the changes the run left alone because their profiles
// do not match the runner's (WithProfiles); each Reason says whether the
// change is applied.
func (r *Result) Excluded() []Outcome { return r.with(StatusExcluded) }

// Recovered returns the changes the run recorded as applied because their
// target's marker proved a previous run had committed them.
func (r *Result) Recovered() []Outcome { return r.with(StatusRecovered) }

// Failed returns the change that failed, if any.
func (r *Result) Failed() []Outcome { return r.with(StatusFailed) }

// RolledBack returns the changes RollbackTo rolled back.
func (r *Result) RolledBack() []Outcome { return r.with(StatusRolledBack) }

// NotRun returns the changes the run did not reach.
func (r *Result) NotRun() []Outcome { return r.with(StatusNotRun) }

func (r *Result) with(s Status) []Outcome {
	// Counted first: a start lists every change of the pipeline, which
	// may be thousands.
	n := r.Count(s)
	if n == 0 {
		return nil
	}
	out := make([]Outcome, 0, n)
	for _, o := range r.Changes() {
		if o.Status == s {
			out = append(out, o)
		}
	}
	return out
}

// Count is the number of changes of status s, without listing them: on a
// start that found every change done from the checkpoint, the changes are
// not even built (see Generated), and Count(StatusSkipped) says how many
// there are.
func (r *Result) Count(s Status) int {
	if r.upToDate != nil && r.upToDate.r.profiled == 0 {
		if s == StatusSkipped {
			return r.upToDate.r.total
		}
		return 0
	}
	n := 0
	for _, o := range r.Changes() {
		if o.Status == s {
			n++
		}
	}
	return n
}

// done reports whether every change of r is applied: skipped as applied,
// applied or recovered by this run; or excluded by profile, which the
// checkpoint of this runner's profiles covers.
func (r *Result) done() bool {
	for _, o := range r.Changes() {
		switch o.Status {
		case StatusSkipped, StatusApplied, StatusRecovered, StatusExcluded:
		default:
			return false
		}
	}
	return true
}
