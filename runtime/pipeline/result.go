package pipeline

import (
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// Status is what a run did with a change.
type Status string

const (
	StatusApplied   Status = "applied"
	StatusSkipped   Status = "skipped"
	StatusRecovered Status = "recovered"
	StatusFailed    Status = "failed"
	StatusNotRun    Status = "not run"
)

// Result is what a run did. Issues that blocked the run are reported only
// by the *IssuesError Run returns.
type Result struct {
	// ExecutionID identifies the run in the audit trail.
	ExecutionID string
	// Changes lists every change of the pipeline, in pipeline order.
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

// Skipped returns the changes that were applied before.
func (r *Result) Skipped() []Outcome { return r.with(StatusSkipped) }

// Recovered returns the changes the run recorded as applied because their
// target's marker proved a previous run had committed them.
func (r *Result) Recovered() []Outcome { return r.with(StatusRecovered) }

// Failed returns the change that failed, if any.
func (r *Result) Failed() []Outcome { return r.with(StatusFailed) }

// NotRun returns the changes the run did not reach.
func (r *Result) NotRun() []Outcome { return r.with(StatusNotRun) }

func (r *Result) with(s Status) []Outcome {
	var out []Outcome
	for _, o := range r.Changes {
		if o.Status == s {
			out = append(out, o)
		}
	}
	return out
}

// EventKind is the kind of an Event.
type EventKind string

const (
	EventStarted        EventKind = "started"
	EventApplied        EventKind = "applied"
	EventSkipped        EventKind = "skipped"
	EventFailed         EventKind = "failed"
	EventRolledBack     EventKind = "rolled back"
	EventRollbackFailed EventKind = "rollback failed"
	EventRecovered      EventKind = "recovered"
	EventIssueFound     EventKind = "issue found"
)

// Event is one step of a run, passed to the WithEvents callback.
type Event struct {
	Kind        EventKind
	ExecutionID string
	Stage       string
	ChangeID    string
	// State is the state recorded in the audit trail by this step, if any.
	State audit.State
	// Duration is how long the step took (applied, failed, rolled back).
	Duration time.Duration
	// Err is the failure (failed, rollback failed).
	Err error
	// Reason explains skips, recoveries and issues.
	Reason string
}
