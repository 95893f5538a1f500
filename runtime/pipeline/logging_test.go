package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// logged is a record a runner logged, its attributes as text.
type logged struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (l logged) String() string {
	keys := make([]string, 0, len(l.Attrs))
	for k := range l.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", l.Level, l.Msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, l.Attrs[k])
	}
	return b.String()
}

// logBook is a slog.Handler that keeps every record, at every level.
type logBook struct {
	mu    *sync.Mutex
	recs  *[]logged
	attrs []slog.Attr
}

func newLogBook() logBook { return logBook{mu: new(sync.Mutex), recs: new([]logged)} }

func (b logBook) logger() *slog.Logger { return slog.New(b) }

func (b logBook) Enabled(context.Context, slog.Level) bool { return true }

func (b logBook) WithAttrs(as []slog.Attr) slog.Handler {
	b.attrs = append(slices.Clip(b.attrs), as...)
	return b
}

func (b logBook) WithGroup(string) slog.Handler { return b }

func (b logBook) Handle(_ context.Context, r slog.Record) error {
	l := logged{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range b.attrs {
		l.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		l.Attrs[a.Key] = a.Value.Resolve().String()
		return true
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	*b.recs = append(*b.recs, l)
	return nil
}

// all returns the records kept so far.
func (b logBook) all() []logged {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(*b.recs)
}

// at returns the records of level lv whose message starts with msg.
func (b logBook) at(lv slog.Level, msg string) []logged {
	var out []logged
	for _, l := range b.all() {
		if l.Level == lv && strings.HasPrefix(l.Msg, msg) {
			out = append(out, l)
		}
	}
	return out
}

func (b logBook) dump() string {
	var s strings.Builder
	for _, l := range b.all() {
		s.WriteString("\n  " + l.String())
	}
	return s.String()
}

// withDefaultLogger makes slog.Default() log to a new logBook for the rest
// of the test. slog.SetDefault also points the log package's output at the
// new handler, and putting the old logger back does not undo that: the
// cleanup restores both.
func withDefaultLogger(t *testing.T) logBook {
	b := newLogBook()
	prev, out, flags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(b.logger())
	t.Cleanup(func() {
		slog.SetDefault(prev)
		log.SetOutput(out)
		log.SetFlags(flags)
	})
	return b
}

func TestARunLogsToTheDefaultLoggerUnlessTold(t *testing.T) {
	t.Run("without WithLogger a run logs each change and a summary to slog.Default()", func(t *testing.T) {
		logs := withDefaultLogger(t)
		e := newEnv(t)
		r, err := pipeline.New(e.store, []pipeline.Stage{e.stage("s1",
			spec{id: "a", order: 1, strategy: shared},
			spec{id: "b", order: 2, strategy: nonTx},
		)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		applied := logs.at(slog.LevelInfo, "applied")
		var ids []string
		for _, l := range applied {
			ids = append(ids, l.Attrs["change"])
		}
		if diff := cmp.Diff([]string{"a", "b"}, ids); diff != "" {
			t.Errorf("changes logged as applied (-want +got):\n%s\nlog:%s", diff, logs.dump())
		}
		sum := logs.at(slog.LevelInfo, "run finished")
		if len(sum) != 1 || sum[0].Attrs["result"] != "2 applied" || sum[0].Attrs["execution"] != res.ExecutionID {
			t.Errorf("summary lines %v, want one saying 2 applied for execution %s; log:%s", sum, res.ExecutionID, logs.dump())
		}

		// Up to date: one line, the summary.
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if sum := logs.at(slog.LevelInfo, "run finished"); len(sum) != 2 || sum[1].Attrs["result"] != "2 skipped" {
			t.Errorf("summary lines %v, want a second one saying 2 skipped; log:%s", sum, logs.dump())
		}
	})
	t.Run("WithLogger of a discarding handler silences it", func(t *testing.T) {
		logs := withDefaultLogger(t)
		e := newEnv(t)
		r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "a", strategy: nonTx, fail: errBoom})},
			pipeline.WithLogger(slog.New(slog.DiscardHandler)))
		if _, err := r.Run(context.Background()); !errors.Is(err, pipeline.ErrChangeFailed) {
			t.Fatalf("Run error = %v, want ErrChangeFailed", err)
		}
		if got := logs.all(); len(got) != 0 {
			t.Errorf("a discarding logger let %d records through to slog.Default():%s", len(got), logs.dump())
		}
	})
}

func TestAFailedRunLogsItsErrorInTheSummary(t *testing.T) {
	logs := newLogBook()
	e := newEnv(t)
	r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "a", strategy: nonTx, fail: errBoom})}, pipeline.WithLogger(logs.logger()))
	if _, err := r.Run(context.Background()); !errors.Is(err, pipeline.ErrChangeFailed) {
		t.Fatalf("Run error = %v, want ErrChangeFailed", err)
	}
	sum := logs.at(slog.LevelError, "run stopped")
	if len(sum) != 1 || sum[0].Attrs["result"] != "1 failed" || !strings.Contains(sum[0].Attrs["error"], "boom") {
		t.Errorf("summary lines %v, want one error saying 1 failed, with the error; log:%s", sum, logs.dump())
	}
}

// Waiting for a lock is said at warning level, with who holds it until
// when: once, then every 10s, not at every poll.
func TestWaitingForALockIsAWarningNotOneLinePerPoll(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other, err := e.store.Acquire(ctx, lockKey, "other-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogBook()
	r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "c1", strategy: nonTx})},
		pipeline.WithLockWait(300*time.Millisecond, 5*time.Millisecond), pipeline.WithLogger(logs.logger()))
	if _, err := r.Run(ctx); !errors.Is(err, pipeline.ErrLockNotAcquired) {
		t.Fatalf("Run error = %v, want ErrLockNotAcquired", err)
	}
	warns := logs.at(slog.LevelWarn, "waiting for lock")
	if len(warns) != 1 {
		t.Fatalf("%d warnings while waiting 300ms polling every 5ms, want 1; log:%s", len(warns), logs.dump())
	}
	w := warns[0]
	if w.Attrs["holder"] != "other-runner" || w.Attrs["until"] != other.ExpiresAt.String() || w.Attrs["key"] != lockKey {
		t.Errorf("warning %v does not say who holds lock %q until %s", w, lockKey, other.ExpiresAt)
	}
	if polls := logs.at(slog.LevelDebug, "waiting for lock"); len(polls) == 0 {
		t.Errorf("no debug line for the polls after the first, want one per poll; log:%s", logs.dump())
	}
}

// The drift of an applied change: its checksum in the trail is not the
// code's, nor one the code declares equivalent.
func TestAnAppliedChangeWhoseSourceChangedIsAWarning(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	edited := seedEntry("s1", "a", audit.StateApplied, nonTx, manual)
	edited.Checksum = "sum-old"
	cosmetic := seedEntry("s1", "b", audit.StateApplied, nonTx, manual)
	cosmetic.Checksum = "sum-cosmetic"
	e.seed(edited, cosmetic)
	stages := []pipeline.Stage{e.stage("s1",
		spec{id: "a", order: 1, strategy: nonTx},
		spec{id: "b", order: 2, strategy: nonTx, equivalent: []string{"sum-cosmetic"}},
	)}
	want := []pipeline.Drift{{Stage: "s1", ChangeID: "a", Recorded: "sum-old", Current: "sum-a", AppliedAt: edited.Time}}

	for i := range 2 { // the second time, no checkpoint hides it
		logs := newLogBook()
		res, err := e.runner(stages, pipeline.WithLogger(logs.logger())).Run(ctx)
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if diff := cmp.Diff(want, res.Drift); diff != "" {
			t.Errorf("run %d: Result.Drift (-want +got):\n%s", i+1, diff)
		}
		warns := logs.at(slog.LevelWarn, "applied change's source changed")
		if len(warns) != 1 || warns[0].Attrs["change"] != "a" || warns[0].Attrs["recorded_checksum"] != "sum-old" ||
			warns[0].Attrs["checksum"] != "sum-a" {
			t.Errorf("run %d: warnings %v, want one for change a; log:%s", i+1, warns, logs.dump())
		}
	}
	if n := e.ran("a") + e.ran("b"); n != 0 {
		t.Errorf("changes ran %d times, want none: drift is not a reason to apply again", n)
	}

	p, err := e.runner(stages).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Drift(); !cmp.Equal(want, got) {
		t.Errorf("Plan.Drift() = %+v, want %+v", got, want)
	}
	if p.Changes[0].Drift == nil || p.Changes[1].Drift != nil {
		t.Errorf("PlannedChange.Drift = %v, %v; want it set for a only", p.Changes[0].Drift, p.Changes[1].Drift)
	}

	// A readiness check stays ready, and the drift is in its log once,
	// however often it is probed.
	logs := newLogBook()
	r := e.runner(stages, pipeline.WithLogger(logs.logger()))
	for range 3 {
		if err := r.Validate(ctx); err != nil {
			t.Fatalf("Validate = %v, want nil: drift does not make a pipeline unready", err)
		}
	}
	if warns := logs.at(slog.LevelWarn, "applied change's source changed"); len(warns) != 1 || warns[0].Attrs["change"] != "a" {
		t.Errorf("Validate warnings %v, want one for change a; log:%s", warns, logs.dump())
	}
	wantText := `change "a" (stage "s1") was applied at 2025-03-01T10:00:00Z with checksum sum-old; its source now has checksum sum-a`
	if got := want[0].String(); !strings.HasPrefix(got, wantText) {
		t.Errorf("Drift.String() = %q, want it to start with %q", got, wantText)
	}
}
