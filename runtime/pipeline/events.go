package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// EventKind is the kind of an Event.
//
// An execution (a Run, a RollbackTo or a Baseline) emits, in order:
// EventPipelineStarted; EventMarked for every change an importer (see
// WithImport) or Baseline recorded without running it; EventIssueFound
// for every issue that blocks it;
// then, for every stage it reaches, EventStageStarted, the events of the
// stage's changes and EventStageFinished; and last EventPipelineFinished.
// A stage is reached when one of its changes is skipped or started, so a
// run that stops at a failure reports no stage after it; RollbackTo walks
// the stages backwards.
//
// A change's events are EventSkipped, EventRecovered, or EventStarted
// followed by its outcome: EventApplied; EventFailed, then EventRolledBack
// or EventRollbackFailed when its declared rollback ran; and, under
// RollbackTo, EventRolledBack or EventRollbackFailed. A change whose
// outcome could not be recorded (a lost lease, an unreachable store) gets
// EventFailed (EventRollbackFailed under RollbackTo) carrying the error of
// the execution, before its stage finishes.
type EventKind string

const (
	EventPipelineStarted  EventKind = "pipeline started"
	EventStageStarted     EventKind = "stage started"
	EventStarted          EventKind = "started"
	EventApplied          EventKind = "applied"
	EventSkipped          EventKind = "skipped"
	EventFailed           EventKind = "failed"
	EventRolledBack       EventKind = "rolled back"
	EventRollbackFailed   EventKind = "rollback failed"
	EventRecovered        EventKind = "recovered"
	EventIssueFound       EventKind = "issue found"
	EventStageFinished    EventKind = "stage finished"
	EventPipelineFinished EventKind = "pipeline finished"
)

// EventMarked is a change recorded without being run, by an importer
// (WithImport) or Baseline: State is MANUAL_MARKED_AS_APPLIED, or FAILED
// for a change whose outcome is unknown (an issue), and Reason is the
// mark's.
const EventMarked EventKind = "marked"

// Operation is what an execution does.
type Operation string

const (
	// OperationRun applies the pipeline: Runner.Run.
	OperationRun Operation = "run"
	// OperationRollback rolls applied changes back: Runner.RollbackTo.
	OperationRollback Operation = "rollback"
	// OperationBaseline marks changes applied without running them:
	// Runner.Baseline.
	OperationBaseline Operation = "baseline"
)

// Event is one step of an execution, passed to the WithEvents callback.
type Event struct {
	Kind        EventKind
	ExecutionID string
	// Operation is what the execution does.
	Operation Operation
	// Stage is set on stage and change events.
	Stage string
	// ChangeID and Strategy are set on change events (and ChangeID on
	// EventIssueFound and EventMarked).
	ChangeID string
	Strategy audit.Strategy
	// State is the state recorded in the audit trail by this step, if any.
	State audit.State
	// Duration is how long the step took: the change's execution (applied,
	// failed, rolled back, rollback failed), the stage's or the whole
	// execution's (finished).
	Duration time.Duration
	// Err is the failure: of the change (failed, rollback failed), of one
	// of the stage's changes (stage finished) or of the execution
	// (pipeline finished, nil when it succeeded).
	Err error
	// ErrorKind is the kind of Err, as the audit trail records it: one of
	// audit.ErrorKindPanic, audit.ErrorKindCancelled and
	// audit.ErrorKindDeadline, or else the Go type of the innermost error
	// of its chain. Empty when Err is nil.
	ErrorKind string
	// Reason explains skips, recoveries, issues and why a change runs; on
	// EventPipelineFinished it sums up the outcomes.
	Reason string
	// Context is the context the execution was called with, for callbacks
	// that need its values, such as the caller's tracing span. It may be
	// cancelled by the time an event is emitted. Never nil.
	Context context.Context
}

// runEvents is what an execution's events remember between two of them:
// the stage being reported, so that stage events bracket the change
// events without the runner's loops having to know about them.
type runEvents struct {
	ctx   context.Context
	op    Operation
	start time.Time
	// byID finds the change of an event; nil without WithEvents.
	byID map[string]*boundChange
	// stage is the stage started and not finished yet, if any; stageErr
	// is the first failure among its changes.
	stage      string
	stageStart time.Time
	stageErr   error
	// open is the change that was started and whose outcome has no event
	// yet.
	open string
}

// begin starts the execution's events: EventPipelineStarted.
func (x *execution) begin(ctx context.Context, op Operation) {
	x.ev = runEvents{ctx: ctx, op: op, start: time.Now()}
	if x.r.cfg.events == nil {
		return
	}
	// Events name changes: build them (an invalid pipeline is reported by
	// the operation itself).
	b, _ := x.r.changes()
	if b == nil {
		b = &built{}
	}
	x.ev.byID = make(map[string]*boundChange, len(b.changes))
	for _, c := range b.changes {
		x.ev.byID[c.meta.ID] = c
	}
	x.deliver(Event{Kind: EventPipelineStarted})
}

// end logs the execution's summary, closes what its events left open and
// emits EventPipelineFinished. err is what the execution returns.
func (x *execution) end(res *Result, err error) {
	x.summarize(res, err)
	if x.r.cfg.events == nil {
		return
	}
	if id := x.ev.open; id != "" {
		kind := EventFailed
		if x.ev.op == OperationRollback {
			kind = EventRollbackFailed
		}
		x.emit(Event{Kind: kind, Stage: x.ev.byID[id].stage, ChangeID: id, Err: err})
	}
	x.finishStage()
	x.deliver(Event{Kind: EventPipelineFinished, Duration: time.Since(x.ev.start), Err: err, Reason: res.summary()})
}

// emit reports a change event (or an issue), preceded by the stage events
// that bracket it.
func (x *execution) emit(ev Event) {
	if x.r.cfg.events == nil {
		return
	}
	if ev.Kind != EventIssueFound && ev.Kind != EventMarked {
		if ev.Stage != x.ev.stage {
			x.finishStage()
			x.ev.stage, x.ev.stageStart, x.ev.stageErr = ev.Stage, time.Now(), nil
			x.deliver(Event{Kind: EventStageStarted, Stage: ev.Stage})
		}
		if c := x.ev.byID[ev.ChangeID]; c != nil {
			ev.Strategy = c.b.strategy
		}
		x.ev.open = ""
		switch ev.Kind {
		case EventStarted:
			x.ev.open = ev.ChangeID
		case EventFailed, EventRollbackFailed:
			if x.ev.stageErr == nil {
				x.ev.stageErr = ev.Err
			}
		}
	}
	x.deliver(ev)
}

// finishStage emits EventStageFinished for the stage started last, if it
// is not finished yet.
func (x *execution) finishStage() {
	if x.ev.stage == "" {
		return
	}
	x.deliver(Event{Kind: EventStageFinished, Stage: x.ev.stage, Duration: time.Since(x.ev.stageStart), Err: x.ev.stageErr})
	x.ev.stage = ""
}

func (x *execution) deliver(ev Event) {
	ev.ExecutionID, ev.Operation, ev.Context = x.id, x.ev.op, x.ev.ctx
	if ev.Err != nil && ev.ErrorKind == "" {
		ev.ErrorKind = errorKind(ev.Err)
	}
	x.r.cfg.events(ev)
}

// summarize logs the one line that sums an execution up: "run finished"
// (or "rollback finished") at info level with what it did, or "run
// stopped" at error level with the error too.
func (x *execution) summarize(res *Result, err error) {
	args := []any{"result", res.summary(), "duration", time.Since(x.ev.start).Round(time.Millisecond)}
	if len(res.Drift) > 0 {
		args = append(args, "drift", len(res.Drift))
	}
	if err != nil {
		x.log.Error(string(x.ev.op)+" stopped", append(args, "error", err)...)
		return
	}
	x.log.Info(string(x.ev.op)+" finished", args...)
}

// summary counts the outcomes of res, as in "2 applied, 1 skipped".
func (r *Result) summary() string {
	var parts []string
	for _, s := range []Status{StatusApplied, StatusRecovered, StatusRolledBack, StatusMarked, StatusSkipped, StatusExcluded, StatusFailed, StatusNotRun} {
		if n := r.Count(s); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}
