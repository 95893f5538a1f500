// Package oteltrace turns the events of a flamingock-go pipeline into
// OpenTelemetry spans. It is a module of its own, so that the core module
// does not depend on OpenTelemetry.
//
//	r, err := pipeline.New(store, stages,
//		pipeline.WithEvents(oteltrace.Events(otel.GetTracerProvider())))
//	…
//	res, err := r.Run(ctx) // spans are children of the span in ctx, if any
//
// Every execution is a span, "flamingock run" or "flamingock rollback"
// (Runner.Run, Runner.RollbackTo), child of the span of the context it was
// called with. Each stage it reaches is a child span, "stage NAME", and
// each change it starts a child of its stage's span, "change ID":
//
//	flamingock run
//	├── stage schema
//	│   ├── change create-users
//	│   └── change add-email-index
//	└── stage topics
//	    └── change create-orders-topic
//
// Changes that need nothing are span events ("skipped", "recovered") of
// their stage, and issues that block the execution are span events ("issue
// found") of its span, so that a start-up with nothing to do costs three
// spans, not one per change.
//
// The spans carry the attributes flamingock.execution_id and
// flamingock.operation (execution), flamingock.stage, flamingock.change_id,
// flamingock.strategy, flamingock.state (the state recorded in the audit
// trail), flamingock.duration_ms (how long the change, or its rollback
// under RollbackTo, ran) and flamingock.reason (why it ran), and on the
// execution's span flamingock.summary ("2 applied, 3 skipped"). A change
// that fails, its stage and its execution get status Error and the error
// as an exception event; the rollback that follows a failed change is a
// span event of the change's span ("rolled back" or "rollback failed").
// Spans are ended even when the execution stops midway.
package oteltrace

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// The attributes of the spans.
const (
	ExecutionIDKey = attribute.Key("flamingock.execution_id")
	OperationKey   = attribute.Key("flamingock.operation")
	StageKey       = attribute.Key("flamingock.stage")
	ChangeIDKey    = attribute.Key("flamingock.change_id")
	StrategyKey    = attribute.Key("flamingock.strategy")
	StateKey       = attribute.Key("flamingock.state")
	DurationKey    = attribute.Key("flamingock.duration_ms")
	ReasonKey      = attribute.Key("flamingock.reason")
	SummaryKey     = attribute.Key("flamingock.summary")
)

// ScopeName is the instrumentation scope of the tracer the spans come from.
const ScopeName = "github.com/flamingock/flamingock-go/oteltrace"

// Events returns a callback for pipeline.WithEvents that records the
// executions of a runner as spans of tp; a nil tp means the global
// provider, otel.GetTracerProvider(). The callback may serve several
// runners and concurrent executions.
func Events(tp trace.TracerProvider) func(pipeline.Event) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &tracer{tracer: tp.Tracer(ScopeName), executions: map[string]*execution{}}
	return t.handle
}

type tracer struct {
	tracer trace.Tracer

	mu sync.Mutex
	// executions holds the executions started and not finished yet, by id.
	executions map[string]*execution
}

// execution is the open spans of one execution. Only the goroutine
// running the execution touches it: its events come in order from there.
type execution struct {
	tracer trace.Tracer
	ctx    context.Context // carries span
	span   trace.Span

	stageCtx context.Context // carries stage; nil when no stage is open
	stage    trace.Span

	change trace.Span // nil when no change is open
	// changeID is the open change; failed is set once it failed, so that
	// a rollback after it is an event of its span, not its outcome.
	changeID string
	failed   bool
}

func (t *tracer) handle(ev pipeline.Event) {
	if ev.Kind == pipeline.EventPipelineStarted {
		t.start(ev)
		return
	}
	t.mu.Lock()
	x := t.executions[ev.ExecutionID]
	if ev.Kind == pipeline.EventPipelineFinished {
		delete(t.executions, ev.ExecutionID)
	}
	t.mu.Unlock()
	if x == nil {
		return // its start went to another callback: nothing to attach to
	}
	switch ev.Kind {
	case pipeline.EventStageStarted:
		x.endStage(nil)
		x.stageCtx, x.stage = x.startSpan(x.ctx, "stage "+ev.Stage, StageKey.String(ev.Stage))
	case pipeline.EventStageFinished:
		x.endStage(ev.Err)
	case pipeline.EventPipelineFinished:
		x.endStage(ev.Err)
		x.span.SetAttributes(SummaryKey.String(ev.Reason))
		setError(x.span, ev.Err)
		x.span.End()
	case pipeline.EventIssueFound:
		x.span.AddEvent("issue found", trace.WithAttributes(changeAttrs(ev)...))
	case pipeline.EventSkipped, pipeline.EventRecovered:
		x.endChange(nil)
		x.parent().AddEvent(string(ev.Kind), trace.WithAttributes(changeAttrs(ev)...))
	case pipeline.EventStarted:
		x.startChange(ev)
	case pipeline.EventApplied, pipeline.EventFailed, pipeline.EventRolledBack, pipeline.EventRollbackFailed:
		x.outcome(ev)
	}
}

func (t *tracer) start(ev pipeline.Event) {
	parent := ev.Context
	if parent == nil {
		parent = context.Background()
	}
	x := &execution{tracer: t.tracer}
	x.ctx, x.span = x.startSpan(parent, "flamingock "+string(ev.Operation),
		ExecutionIDKey.String(ev.ExecutionID), OperationKey.String(string(ev.Operation)))
	t.mu.Lock()
	t.executions[ev.ExecutionID] = x
	t.mu.Unlock()
}

func (x *execution) startSpan(parent context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return x.tracer.Start(parent, name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
}

// startChange ends the open change's span, if any, and starts the span of
// ev's change under the open stage's.
func (x *execution) startChange(ev pipeline.Event) {
	x.endChange(nil)
	parent := x.stageCtx
	if parent == nil {
		parent = x.ctx
	}
	_, x.change = x.startSpan(parent, "change "+ev.ChangeID, changeAttrs(ev)...)
	x.changeID, x.failed = ev.ChangeID, false
}

// parent is the span that events between changes belong to: the open
// stage's, or the execution's.
func (x *execution) parent() trace.Span {
	if x.stage != nil {
		return x.stage
	}
	return x.span
}

// outcome records what an event says happened to a change. The outcome
// of a rollback that follows a failure in a run is an event of the failed
// change's span; other outcomes are the span's and end it, except a
// failure, after which a rollback may still come.
func (x *execution) outcome(ev pipeline.Event) {
	if x.change == nil || x.changeID != ev.ChangeID {
		x.startChange(ev) // no started event before it: a span of the outcome alone
	}
	rollback := ev.Kind == pipeline.EventRolledBack || ev.Kind == pipeline.EventRollbackFailed
	if rollback && x.failed {
		attrs := []attribute.KeyValue{DurationKey.Float64(ms(ev))}
		if ev.State != "" {
			attrs = append(attrs, StateKey.String(string(ev.State)))
			x.change.SetAttributes(StateKey.String(string(ev.State)))
		}
		if ev.Err != nil {
			attrs = append(attrs, attribute.String("error", ev.Err.Error()))
		}
		x.change.AddEvent(string(ev.Kind), trace.WithAttributes(attrs...))
		x.endChange(nil)
		return
	}
	x.change.SetAttributes(DurationKey.Float64(ms(ev)))
	if ev.State != "" {
		x.change.SetAttributes(StateKey.String(string(ev.State)))
	}
	setError(x.change, ev.Err)
	if ev.Kind == pipeline.EventFailed {
		x.failed = true
		return
	}
	x.endChange(nil)
}

// endChange ends the open change's span, if any; err is set when the
// change was interrupted by it.
func (x *execution) endChange(err error) {
	if x.change == nil {
		return
	}
	if !x.failed {
		setError(x.change, err)
	}
	x.change.End()
	x.change, x.changeID, x.failed = nil, "", false
}

// endStage ends the open change's and stage's spans, if any; err is the
// stage's failure.
func (x *execution) endStage(err error) {
	x.endChange(err)
	if x.stage == nil {
		return
	}
	setError(x.stage, err)
	x.stage.End()
	x.stage, x.stageCtx = nil, nil
}

func changeAttrs(ev pipeline.Event) []attribute.KeyValue {
	attrs := []attribute.KeyValue{StageKey.String(ev.Stage), ChangeIDKey.String(ev.ChangeID)}
	if ev.Strategy != "" {
		attrs = append(attrs, StrategyKey.String(string(ev.Strategy)))
	}
	if ev.State != "" {
		attrs = append(attrs, StateKey.String(string(ev.State)))
	}
	if ev.Reason != "" {
		attrs = append(attrs, ReasonKey.String(ev.Reason))
	}
	return attrs
}

func setError(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

func ms(ev pipeline.Event) float64 { return float64(ev.Duration.Nanoseconds()) / 1e6 }
