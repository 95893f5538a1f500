package pipeline

import "time"

// Status is what a run did with a change.
type Status string

const (
	StatusApplied   Status = "applied"
	StatusSkipped   Status = "skipped"
	StatusRecovered Status = "recovered"
	StatusFailed    Status = "failed"
	StatusNotRun    Status = "not run"
	// StatusRolledBack: RollbackTo ran the change's rollback.
	StatusRolledBack Status = "rolled back"
)

// Result is what a run did. Issues that blocked the run are reported only
// by the *IssuesError Run returns.
type Result struct {
	// ExecutionID identifies the run in the audit trail.
	ExecutionID string
	// Changes lists every change of the pipeline, in pipeline order, for
	// Run; for RollbackTo, the changes it had to roll back, newest first.
	Changes []Outcome
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
	n := 0
	for _, o := range r.Changes {
		if o.Status == s {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]Outcome, 0, n)
	for _, o := range r.Changes {
		if o.Status == s {
			out = append(out, o)
		}
	}
	return out
}

// done reports whether every change of r is applied: skipped as applied,
// applied or recovered by this run.
func (r *Result) done() bool {
	for _, o := range r.Changes {
		switch o.Status {
		case StatusSkipped, StatusApplied, StatusRecovered:
		default:
			return false
		}
	}
	return true
}
