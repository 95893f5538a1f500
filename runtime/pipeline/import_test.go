package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// fakeImporter imports an old tool's history in which the changes of
// applied were applied and the change uncertain was left dirty: as the
// importers of runtime/adopt do, it marks those that have no entry yet.
type fakeImporter struct {
	applied   []string
	uncertain string
	// metadata replaces the marks' metadata when set; operator their
	// operator.
	metadata json.RawMessage
	operator *string
	// extra marks are recorded besides the history's.
	extra []pipeline.Mark
	// err is returned before anything is recorded: the history disagrees
	// with the pipeline.
	err error

	mu    sync.Mutex
	calls int
	// recorded lists, per Record call that wrote, the change ids it
	// marked.
	recorded [][]string
}

func (f *fakeImporter) Import(ctx context.Context, req pipeline.ImportRequest) error {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	var marks []pipeline.Mark
	for _, c := range req.Changes {
		if c.Latest != nil {
			continue
		}
		op := "fake import"
		if f.operator != nil {
			op = *f.operator
		}
		m := pipeline.Mark{Stage: c.Stage, ChangeID: c.ChangeID, Operator: op, Reason: "fake_versions version " + c.Order.String(),
			Metadata: json.RawMessage(`{"imported":{"tool":"fake","version":"` + c.Order.String() + `"}}`)}
		if f.metadata != nil {
			m.Metadata = f.metadata
		}
		switch {
		case c.ChangeID == f.uncertain:
			m.Uncertain = true
		case !contains(f.applied, c.ChangeID):
			continue
		}
		marks = append(marks, m)
	}
	marks = append(marks, f.extra...)
	if len(marks) == 0 {
		return nil
	}
	if err := req.Record(ctx, marks); err != nil {
		return fmt.Errorf("fake import: %w", err)
	}
	var ids []string
	for _, m := range marks {
		ids = append(ids, m.ChangeID)
	}
	f.mu.Lock()
	f.recorded = append(f.recorded, ids)
	f.mu.Unlock()
	return nil
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// nonTxSpecs declares changes without a transaction, orders 1, 2, …
func nonTxSpecs(ids ...string) []spec {
	out := make([]spec, len(ids))
	for i, id := range ids {
		out[i] = spec{id: id, order: uint64(i + 1), strategy: audit.StrategyNonTx}
	}
	return out
}

func TestAnImporterMarksTheOldHistoryAndTheRunAppliesOnlyTheRest(t *testing.T) {
	e := newEnv(t)
	imp := &fakeImporter{applied: []string{"a", "b"}}
	var events []string
	r := e.runner([]pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b", "c", "d")...)}, pipeline.WithImport(imp),
		pipeline.WithEvents(func(ev pipeline.Event) {
			if ev.Kind == pipeline.EventMarked || ev.Kind == pipeline.EventApplied {
				events = append(events, fmt.Sprintf("%s %s %s", ev.Kind, ev.ChangeID, ev.State))
			}
		}))
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=skipped", "s1/c=applied", "s1/d=applied"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	for id, want := range map[string]int{"a": 0, "b": 0, "c": 1, "d": 1} {
		if got := e.ran(id); got != want {
			t.Errorf("change %s ran %d times, want %d", id, got, want)
		}
	}
	if diff := cmp.Diff([]string{
		"marked a MANUAL_MARKED_AS_APPLIED", "marked b MANUAL_MARKED_AS_APPLIED", "applied c APPLIED", "applied d APPLIED",
	}, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	h := e.history("s1", "b")
	if len(h) != 1 {
		t.Fatalf("history of b = %v, want one entry", states(h))
	}
	got := h[0]
	got.Seq, got.Time = 0, time.Time{}
	want := audit.Entry{
		ExecutionID: res.ExecutionID, Stage: "s1", ChangeID: "b", Order: audit.OrderOf(2), Author: "tester",
		State: audit.StateManualApplied, Host: got.Host, RunnerID: "test-runner", TargetID: "flags",
		Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual, Checksum: "sum-b",
		Operator: "fake import", Reason: "fake_versions version 2",
		Metadata: json.RawMessage(`{"imported":{"tool":"fake","version":"2"}}`),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(jsonEqual)); diff != "" {
		t.Errorf("entry of b (-want +got):\n%s", diff)
	}

	// Every change has an entry now: the next start does not import.
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if imp.calls != 1 {
		t.Errorf("importer called %d times, want 1", imp.calls)
	}
}

// jsonEqual compares JSON documents by value.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
}

func TestAnUncertainImportedVersionIsAnIssueThatBlocksTheRun(t *testing.T) {
	e := newEnv(t)
	imp := &fakeImporter{applied: []string{"a"}, uncertain: "b"}
	r := e.runner([]pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b", "c")...)}, pipeline.WithImport(imp))
	res, err := r.Run(context.Background())
	var ie *pipeline.IssuesError
	if !errors.As(err, &ie) {
		t.Fatalf("Run = %v, want an *IssuesError", err)
	}
	if len(ie.Issues) != 1 || ie.Issues[0].ChangeID != "b" {
		t.Fatalf("issues = %v, want change b", ie.Issues)
	}
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=not run", "s1/c=not run"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	for _, id := range []string{"a", "b", "c"} {
		if n := e.ran(id); n != 0 {
			t.Errorf("change %s ran %d times, want 0", id, n)
		}
	}
	h := e.history("s1", "b")
	if len(h) != 1 {
		t.Fatalf("history of b = %v, want one entry", states(h))
	}
	b := h[0]
	if b.State != audit.StateFailed || b.Strategy != audit.StrategyNonTx || b.Recovery != audit.RecoveryManual ||
		!strings.Contains(b.ErrorMessage, "outcome unknown") || !strings.Contains(b.ErrorMessage, "fake_versions version 2") {
		t.Errorf("entry of b = %+v, want FAILED without a transaction, recovery MANUAL, an error saying the outcome is unknown and from where", b)
	}

	// An operator checks and marks it applied: the run goes on, importing
	// nothing more.
	e.seed(seedEntry("s1", "b", audit.StateManualApplied, audit.StrategyNonTx, audit.RecoveryManual))
	res, err = r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=skipped", "s1/c=applied"}, statuses(res)); diff != "" {
		t.Errorf("outcomes after the fix (-want +got):\n%s", diff)
	}
	if len(imp.recorded) != 1 {
		t.Errorf("importer recorded %v, want one Record", imp.recorded)
	}
}

func TestAnImporterThatFailsStopsTheRunWithNothingRunOrWritten(t *testing.T) {
	e := newEnv(t)
	disagree := errors.New(`fake_versions: version 7 has no change in the pipeline`)
	imp := &fakeImporter{err: disagree}
	r := e.runner([]pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b")...)}, pipeline.WithImport(imp))
	res, err := r.Run(context.Background())
	if !errors.Is(err, pipeline.ErrImport) || !errors.Is(err, disagree) {
		t.Fatalf("Run = %v, want ErrImport wrapping the importer's error", err)
	}
	if diff := cmp.Diff([]string{"s1/a=not run", "s1/b=not run"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	snap, err := e.store.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != 0 || e.ran("a")+e.ran("b") != 0 {
		t.Errorf("trail %v, runs %d: want nothing written nor run", snap, e.ran("a")+e.ran("b"))
	}
	if l := e.lock(); l.Held() {
		t.Errorf("lock still held by %s", l.Owner)
	}
}

func TestARecordWithABadMarkWritesNothing(t *testing.T) {
	empty := ""
	for _, tc := range []struct {
		name string
		imp  *fakeImporter
		want string
	}{
		{"a change not in the pipeline", &fakeImporter{applied: []string{"a"},
			extra: []pipeline.Mark{{Stage: "s1", ChangeID: "zz", Operator: "o", Reason: "r"}}}, `change "zz" (stage "s1"): no such change in the pipeline`},
		{"a change of another stage", &fakeImporter{applied: []string{"a"},
			extra: []pipeline.Mark{{Stage: "s2", ChangeID: "b", Operator: "o", Reason: "r"}}}, `change "b" (stage "s2"): no such change`},
		{"a change named twice", &fakeImporter{applied: []string{"a"},
			extra: []pipeline.Mark{{Stage: "s1", ChangeID: "a", Operator: "o", Reason: "r"}}}, "already named by mark #1"},
		{"a change that has an entry", &fakeImporter{applied: []string{"a"},
			extra: []pipeline.Mark{{Stage: "s1", ChangeID: "c", Operator: "o", Reason: "r"}}}, "already has an entry (ROLLED_BACK"},
		{"no operator", &fakeImporter{applied: []string{"a"}, operator: &empty}, "needs an operator and a reason"},
		{"metadata that is an array", &fakeImporter{applied: []string{"a"}, metadata: json.RawMessage(`[1]`)}, "metadata is not a JSON object"},
		{"metadata that is null", &fakeImporter{applied: []string{"a"}, metadata: json.RawMessage(`null`)}, "metadata is not a JSON object"},
		{"metadata that is not JSON", &fakeImporter{applied: []string{"a"}, metadata: json.RawMessage(`{"a":`)}, "metadata is not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(seedEntry("s1", "c", audit.StateRolledBack, audit.StrategyNonTx, audit.RecoveryManual))
			r := e.runner([]pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b", "c")...)}, pipeline.WithImport(tc.imp))
			_, err := r.Run(context.Background())
			if !errors.Is(err, pipeline.ErrImport) || !strings.Contains(err.Error(), "nothing recorded") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want ErrImport saying nothing was recorded and %q", err, tc.want)
			}
			snap, err := e.store.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(snap) != 1 || e.ran("a")+e.ran("b")+e.ran("c") != 0 {
				t.Errorf("trail holds %d entries, changes ran %d times: want the seeded entry only, nothing run", len(snap), e.ran("a")+e.ran("b")+e.ran("c"))
			}
		})
	}
}

func TestStartsWithNothingToImportDoNotCallTheImporter(t *testing.T) {
	ctx := context.Background()
	t.Run("the checkpoint is current", func(t *testing.T) {
		e := newEnv(t)
		st := []pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b")...)}
		if _, err := e.runner(st).Run(ctx); err != nil {
			t.Fatal(err)
		}
		imp := &fakeImporter{applied: []string{"a", "b"}}
		if _, err := e.runner(st, pipeline.WithImport(imp)).Run(ctx); err != nil {
			t.Fatal(err)
		}
		if imp.calls != 0 {
			t.Errorf("importer called %d times, want 0", imp.calls)
		}
	})
	t.Run("every change has an entry", func(t *testing.T) {
		e := newEnv(t)
		e.seed(seedEntry("s1", "a", audit.StateApplied, audit.StrategyNonTx, audit.RecoveryManual),
			seedEntry("s1", "b", audit.StateManualApplied, audit.StrategyNonTx, audit.RecoveryManual))
		imp := &fakeImporter{applied: []string{"a", "b"}}
		res, err := e.runner([]pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b")...)}, pipeline.WithImport(imp)).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if imp.calls != 0 || res.Count(pipeline.StatusSkipped) != 2 {
			t.Errorf("importer called %d times, %d skipped: want 0 calls, 2 skipped", imp.calls, res.Count(pipeline.StatusSkipped))
		}
	})
}

// failingAppends is a store whose appends fail after the first ok ones,
// as a process killed between two does: no later append lands.
type failingAppends struct {
	*sqlite.Store
	mu sync.Mutex
	ok int
}

func (s *failingAppends) Append(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok == 0 {
		return audit.Entry{}, errors.New("connection reset by peer")
	}
	s.ok--
	return s.Store.Append(ctx, l, e)
}

func TestAnImportStoppedBetweenTwoAppendsIsCompletedByTheNextStart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	imp := &fakeImporter{applied: []string{"a", "b", "c"}}
	opts := []pipeline.Option{pipeline.WithImport(imp), pipeline.WithRunnerID("test-runner")}
	st := []pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b", "c", "d")...)}
	broken, err := pipeline.New(&failingAppends{Store: e.store, ok: 1}, st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = broken.Run(ctx)
	if !errors.Is(err, pipeline.ErrImport) || !strings.Contains(err.Error(), "1 of 3 recorded, the next start records the rest") {
		t.Fatalf("Run = %v, want ErrImport saying 1 of 3 marks were recorded", err)
	}
	if got := [][]audit.State{states(e.history("s1", "a")), states(e.history("s1", "b"))}; !cmp.Equal(got, [][]audit.State{{audit.StateManualApplied}, nil}) {
		t.Fatalf("histories of a, b = %v, want a marked, b without entry", got)
	}

	res, err := e.runner(st, pipeline.WithImport(imp)).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=skipped", "s1/c=skipped", "s1/d=applied"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"b", "c"}}, imp.recorded); diff != "" {
		t.Errorf("marks recorded by the second start (-want +got):\n%s", diff)
	}
	for _, id := range []string{"a", "b", "c"} {
		if h := e.history("s1", id); len(h) != 1 || e.ran(id) != 0 {
			t.Errorf("change %s: history %v, ran %d times; want one mark, never run", id, states(h), e.ran(id))
		}
	}
}

func TestTwentyRunnersWithAnImporterImportOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	imp := &fakeImporter{applied: []string{"a", "b", "c"}}
	specs := nonTxSpecs("a", "b", "c", "d", "e")
	runners := make([]*pipeline.Runner, 20)
	for i := range runners {
		s, err := sqlite.Open(ctx, strings.TrimPrefix(e.storeURL, "sqlite:"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		runners[i], err = pipeline.New(s, []pipeline.Stage{e.stage("s1", specs...)}, pipeline.WithImport(imp),
			pipeline.WithLockWait(time.Minute, 5*time.Millisecond), pipeline.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(runners))
	for i, r := range runners {
		wg.Go(func() { _, errs[i] = r.Run(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(imp.recorded) != 1 {
		t.Errorf("Record wrote %d times (%v), want once", len(imp.recorded), imp.recorded)
	}
	for _, s := range specs {
		want, ran := []audit.State{audit.StateManualApplied}, 0
		if s.id == "d" || s.id == "e" {
			want, ran = []audit.State{audit.StateStarted, audit.StateApplied}, 1
		}
		if got := states(e.history("s1", s.id)); !cmp.Equal(got, want) || e.ran(s.id) != ran {
			t.Errorf("change %s: history %v, ran %d times; want %v, %d", s.id, got, e.ran(s.id), want, ran)
		}
	}
}
