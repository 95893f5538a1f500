package oteltrace_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/oteltrace"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// world is a pipeline's audit store and a tracer provider recording every
// span.
type world struct {
	t     *testing.T
	store audit.Store
	rec   *tracetest.SpanRecorder
	tp    *sdktrace.TracerProvider
}

func newWorld(t *testing.T) *world {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rec := tracetest.NewSpanRecorder()
	return &world{t: t, store: store, rec: rec, tp: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))}
}

// change declares a change without a transaction; a non-nil fail fails
// it, and its rollback, which compensates the failure, succeeds.
func change(id string, order uint64, fail error) pipeline.Change {
	m := pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "tester", Target: "flags", Recovery: audit.RecoveryManual, Compensate: true, Checksum: "sum-" + id}
	return pipeline.NewChange(m, pipeline.NonTransactional(struct{}{}),
		func(context.Context, struct{}) error { return fail },
		func(context.Context, struct{}) error { return nil })
}

func (w *world) runner(stages []pipeline.Stage, store audit.Store) *pipeline.Runner {
	w.t.Helper()
	if store == nil {
		store = w.store
	}
	r, err := pipeline.New(store, stages, pipeline.WithEvents(oteltrace.Events(w.tp)), pipeline.WithRunnerID("test-runner"))
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// tree renders the recorded spans, children in the order they started,
// each as its name, "!" when its status is Error, and its span events
// other than exceptions ("· name change-id"). It fails the test when a
// span was not ended.
func (w *world) tree() string {
	w.t.Helper()
	started := w.rec.Started()
	if ended := w.rec.Ended(); len(ended) != len(started) {
		w.t.Errorf("%d spans started, %d ended", len(started), len(ended))
	}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	ids := map[trace.SpanID]bool{}
	for _, s := range started {
		ids[s.SpanContext().SpanID()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range started {
		if p := s.Parent().SpanID(); ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s sdktrace.ReadOnlySpan, indent string)
	walk = func(s sdktrace.ReadOnlySpan, indent string) {
		b.WriteString(indent + s.Name())
		if s.Status().Code == codes.Error {
			b.WriteString(" !")
		}
		b.WriteString("\n")
		for _, ev := range s.Events() {
			if ev.Name != "exception" {
				line := strings.TrimSpace(ev.Name + " " + attr(ev.Attributes, oteltrace.ChangeIDKey))
				fmt.Fprintf(&b, "%s  · %s\n", indent, line)
			}
		}
		for _, c := range children[s.SpanContext().SpanID()] {
			walk(c, indent+"  ")
		}
	}
	for _, r := range roots {
		walk(r, "")
	}
	return b.String()
}

// span returns the ended span named name.
func (w *world) span(name string) sdktrace.ReadOnlySpan {
	w.t.Helper()
	for _, s := range w.rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	w.t.Fatalf("no span %q", name)
	return nil
}

func attr(attrs []attribute.KeyValue, k attribute.Key) string {
	for _, a := range attrs {
		if a.Key == k {
			return a.Value.Emit()
		}
	}
	return ""
}

func TestARunIsASpanTreeUnderTheCallersSpan(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{change("c1", 1, nil)}}}, nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	w.rec.Reset()
	r := w.runner([]pipeline.Stage{
		{Name: "s1", Changes: []pipeline.Change{change("c1", 1, nil), change("c2", 2, nil)}},
		{Name: "s2", Changes: []pipeline.Change{change("c3", 1, nil)}},
	}, nil)

	ctx, caller := w.tp.Tracer("test").Start(ctx, "start-up")
	res, err := r.Run(ctx)
	caller.End()
	if err != nil {
		t.Fatal(err)
	}

	want := `start-up
  flamingock run
    stage s1
      · skipped c1
      change c2
    stage s2
      change c3
`
	if diff := cmp.Diff(want, w.tree()); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	root := w.span("flamingock run")
	if got := [3]string{attr(root.Attributes(), oteltrace.ExecutionIDKey), attr(root.Attributes(), oteltrace.OperationKey),
		attr(root.Attributes(), oteltrace.SummaryKey)}; got != [3]string{res.ExecutionID, "run", "2 applied, 1 skipped"} {
		t.Errorf("execution span attributes = %q, want its execution id, run and the summary", got)
	}
	c2 := w.span("change c2")
	for k, want := range map[attribute.Key]string{
		oteltrace.StageKey: "s1", oteltrace.ChangeIDKey: "c2", oteltrace.StrategyKey: "NON_TX",
		oteltrace.StateKey: "APPLIED", oteltrace.ReasonKey: "never applied",
	} {
		if got := attr(c2.Attributes(), k); got != want {
			t.Errorf("change span attribute %s = %q, want %q", k, got, want)
		}
	}
	if attr(c2.Attributes(), oteltrace.DurationKey) == "" {
		t.Errorf("change span has no %s attribute", oteltrace.DurationKey)
	}
	if c2.Status().Code != codes.Unset || root.Status().Code != codes.Unset {
		t.Errorf("statuses of a successful run = %v, %v, want unset", c2.Status(), root.Status())
	}
}

// refusingStore is an audit store whose writes of one state fail.
type refusingStore struct {
	audit.Store
	refuse audit.State
}

func (s refusingStore) Append(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	if e.State == s.refuse {
		return audit.Entry{}, errors.New("disk I/O error")
	}
	return s.Store.Append(ctx, l, e)
}

func TestAStoppedRunEndsEverySpanWithTheError(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name   string
		refuse audit.State
		fail   error
		want   string
		// wantErr is the exception recorded on the change's span.
		wantErr string
	}{
		{
			name: "a failed change, rolled back", fail: errBoom, wantErr: "boom",
			want: `flamingock run !
  stage s1 !
    change c1
    change c2 !
      · rolled back
`,
		},
		{
			name: "an outcome that could not be recorded", refuse: audit.StateApplied,
			wantErr: "disk I/O error",
			want: `flamingock run !
  stage s1 !
    change c1 !
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+" ends its span, its stage's and the execution's with status Error", func(t *testing.T) {
			w := newWorld(t)
			var store audit.Store
			if tt.refuse != "" {
				store = refusingStore{Store: w.store, refuse: tt.refuse}
			}
			r := w.runner([]pipeline.Stage{
				{Name: "s1", Changes: []pipeline.Change{change("c1", 1, nil), change("c2", 2, tt.fail)}},
				{Name: "s2", Changes: []pipeline.Change{change("c3", 1, nil)}},
			}, store)

			_, err := r.Run(context.Background())

			if err == nil {
				t.Fatal("the run succeeded")
			}
			if diff := cmp.Diff(tt.want, w.tree()); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
			failed := w.rec.Ended()
			var exceptions []string
			for _, s := range failed {
				for _, ev := range s.Events() {
					if ev.Name == "exception" && strings.HasPrefix(s.Name(), "change ") {
						exceptions = append(exceptions, attr(ev.Attributes, "exception.message"))
					}
				}
			}
			if len(exceptions) != 1 || !strings.Contains(exceptions[0], tt.wantErr) {
				t.Errorf("exceptions of the change spans = %q, want one with %q", exceptions, tt.wantErr)
			}
			if got := w.span("flamingock run").Status().Description; got != err.Error() {
				t.Errorf("execution span status = %q, want the run's error %q", got, err)
			}
		})
	}
}

func TestIssuesAreEventsOfTheExecutionSpan(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	l, err := w.store.Acquire(ctx, "flamingock", "old-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.Append(ctx, l, audit.Entry{ExecutionID: "old", Stage: "s1", ChangeID: "c2", State: audit.StateStarted,
		Time: time.Now().UTC(), Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual}); err != nil {
		t.Fatal(err)
	}
	if err := w.store.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	r := w.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{change("c1", 1, nil), change("c2", 2, nil)}}}, nil)

	if _, err := r.Run(ctx); !errors.Is(err, pipeline.ErrManualInterventionRequired) {
		t.Fatalf("Run error = %v, want the issue", err)
	}

	want := `flamingock run !
  · issue found c2
`
	if diff := cmp.Diff(want, w.tree()); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	ev := w.span("flamingock run").Events()[0]
	if got := attr(ev.Attributes, oteltrace.StateKey); got != "STARTED" {
		t.Errorf("issue event state = %q, want STARTED", got)
	}
}

func TestARollbackIsASpanTreeToo(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.runner([]pipeline.Stage{
		{Name: "s1", Changes: []pipeline.Change{change("c1", 1, nil), change("c2", 2, nil)}},
		{Name: "s2", Changes: []pipeline.Change{change("c3", 1, nil)}},
	}, nil)
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	w.rec.Reset()

	if _, err := r.RollbackTo(ctx, "c1"); err != nil {
		t.Fatal(err)
	}

	want := `flamingock rollback
  stage s2
    change c3
  stage s1
    change c2
`
	if diff := cmp.Diff(want, w.tree()); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	if got := attr(w.span("change c2").Attributes(), oteltrace.StateKey); got != "ROLLED_BACK" {
		t.Errorf("change span state = %q, want ROLLED_BACK", got)
	}
	if got := attr(w.span("flamingock rollback").Attributes(), oteltrace.OperationKey); got != "rollback" {
		t.Errorf("execution span operation = %q, want rollback", got)
	}
}

func TestOneCallbackServesConcurrentExecutions(t *testing.T) {
	w := newWorld(t)
	events := oteltrace.Events(w.tp)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
			if err != nil {
				errs <- err
				return
			}
			defer store.Close()
			stage := fmt.Sprintf("s%d", i)
			r, err := pipeline.New(store, []pipeline.Stage{{Name: stage, Changes: []pipeline.Change{change("c1", 1, nil), change("c2", 2, nil)}}},
				pipeline.WithEvents(events))
			if err != nil {
				errs <- err
				return
			}
			_, err = r.Run(context.Background())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	got := strings.Split(w.tree(), "flamingock run\n")[1:]
	if len(got) != 4 {
		t.Fatalf("%d execution spans, want 4:\n%s", len(got), w.tree())
	}
	for _, tree := range got {
		stage := strings.TrimSpace(strings.SplitN(tree, "\n", 2)[0])
		want := "  " + stage + "\n    change c1\n    change c2\n"
		if tree != want {
			t.Errorf("execution tree:\n%s\nwant:\n%s", tree, want)
		}
	}
}
