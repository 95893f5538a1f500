package crashproof_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/internal/crashtest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// childEnv carries a childJob to a child process: the test binary run
// again, which TestMain sends to runChild instead of the tests.
const childEnv = "FLAMINGOCK_CRASHPROOF_CHILD"

const childRunner = "child"

// childLease is the lease of the children: short, so that the restart
// soon takes over the lock a dead child left.
const childLease = 2 * time.Second

// The crash points a change without a transaction meets, applying and
// undoing (see package internal/crash).
var (
	applyPoints = []crash.Point{crash.BeforeStarted, crash.AfterStarted, crash.InApply, crash.AfterApply, crash.AfterApplied}
	undoPoints  = []crash.Point{crash.BeforeStarted, crash.AfterStarted, crash.InRollback, crash.AfterRollback, crash.AfterRolledBack}
)

// TestMain runs a case's child when the test binary is one, else the
// tests, eight cases at a time unless -test.parallel says otherwise.
func TestMain(m *testing.M) { crashtest.Main(m, childEnv, runChild, 8) }

// childJob is what a child process does.
type childJob struct {
	Spec  caseSpec
	Point crash.Point
	Undo  bool `json:",omitempty"`
}

// runChild applies the first change, then runs the whole pipeline and
// kills its own process at the job's point in the second change; for an
// undo job it runs the whole pipeline, rolls it back to the first change
// and kills its process at the point in the undo of the second (the
// second time the point is met: the third is undone first). It returns
// only when something went wrong: the exit code says what.
func runChild(arg string) int {
	var job childJob
	if err := json.Unmarshal([]byte(arg), &job); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad job:", err)
		return 2
	}
	ctx := context.Background()
	store, err := openStore(ctx, job.Spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	sys, err := openSystem(ctx, job.Spec.Target, job.Spec.Kind, job.Spec.Prefix, job.Spec.At)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	opts := []pipeline.Option{pipeline.WithLease(childLease), pipeline.WithRunnerID(childRunner), pipeline.WithLogger(quiet)}
	rec := job.Spec.recovery()
	first, err := pipeline.New(store, stages(sys, rec, ids[:1]), opts...)
	if err == nil {
		_, err = first.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: first run:", err)
		return 2
	}
	r, err := pipeline.New(store, stages(sys, rec, ids), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	if job.Undo {
		if _, err := r.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "child: the run before the rollback:", err)
			return 2
		}
		_, err = r.RollbackTo(crash.With(ctx, killAt(job.Point, 2)), ids[0])
		fmt.Fprintf(os.Stderr, "child: the rollback returned without reaching %s: %v\n", job.Point, err)
		return 3
	}
	_, err = r.Run(crash.With(ctx, killAt(job.Point, 1)))
	fmt.Fprintf(os.Stderr, "child: the run returned without reaching %s: %v\n", job.Point, err)
	return 3
}

// killAt returns the crash hook that kills the process with SIGKILL at the
// nth hit of point p, after saying so on stdout.
func killAt(p crash.Point, nth int) func(crash.Point) {
	var mu sync.Mutex
	seen := 0
	return func(hit crash.Point) {
		mu.Lock()
		if hit == p {
			seen++
		}
		kill := hit == p && seen == nth
		mu.Unlock()
		if kill {
			crashtest.Kill(p)
		}
	}
}

// proofCase is one case of the matrix.
type proofCase struct {
	target, kind string
	point        crash.Point
	undo         bool
}

func (c proofCase) String() string {
	what := "change"
	if c.undo {
		what = "undo of a change"
	}
	rec := "retry"
	if c.kind == kindAppend {
		rec = "manual"
	}
	return fmt.Sprintf("%s %s on %s with recovery %s killed at %s", c.kind, what, c.target, rec, c.point)
}

func cases() []proofCase {
	var out []proofCase
	for _, target := range targets {
		for _, kind := range []string{kindEnsure, kindAppend} {
			for _, p := range applyPoints {
				out = append(out, proofCase{target: target, kind: kind, point: p})
			}
			for _, p := range undoPoints {
				out = append(out, proofCase{target: target, kind: kind, point: p, undo: true})
			}
		}
	}
	return out
}

// verdict is what one case found wrong, by the summary's counts.
type verdict struct{ lost, doubled, silent int }

func (v verdict) plus(w verdict) verdict {
	return verdict{v.lost + w.lost, v.doubled + w.doubled, v.silent + w.silent}
}

// tally adds up the cases' verdicts; subtests add to it in parallel.
type tally struct {
	mu                                 sync.Mutex
	cases, undo, lost, doubled, silent int
}

func (t *tally) add(undo bool, v verdict) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cases++
	if undo {
		t.undo++
	}
	t.lost += v.lost
	t.doubled += v.doubled
	t.silent += v.silent
}

func TestCrashMatrix(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t)
	var sum tally
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases() {
			t.Run(c.String(), func(t *testing.T) {
				t.Parallel()
				var v verdict
				defer func() { sum.add(c.undo, v) }()
				v = c.run(t, newWorld(t, c.target, c.kind, api))
			})
		}
	})
	fmt.Printf("crash matrix (beyond databases): %d cases (%d of them undo) on %s: %d lost, %d doubled, %d silent\n",
		sum.cases, sum.undo, strings.Join(targets, ", "), sum.lost, sum.doubled, sum.silent)
	if sum.lost+sum.doubled+sum.silent > 0 {
		t.Errorf("the guarantee does not hold: %d lost, %d doubled, %d silent", sum.lost, sum.doubled, sum.silent)
	}
}

// crashState is where an interruption left the second change: its latest
// state in the trail, and its level counted on the server.
type crashState struct {
	latest audit.State
	level  int
}

// expected is where the case's crash point leaves the second change: what
// the point's name promises.
func (c proofCase) expected() crashState {
	if c.undo {
		switch c.point {
		case crash.BeforeStarted:
			return crashState{audit.StateApplied, fullLevel}
		case crash.AfterStarted:
			return crashState{audit.StateStarted, fullLevel}
		case crash.InRollback:
			return crashState{audit.StateStarted, 1}
		case crash.AfterRollback:
			return crashState{audit.StateStarted, 0}
		}
		return crashState{audit.StateRolledBack, 0}
	}
	switch c.point {
	case crash.BeforeStarted:
		return crashState{"", 0}
	case crash.AfterStarted:
		return crashState{audit.StateStarted, 0}
	case crash.InApply:
		return crashState{audit.StateStarted, 1}
	case crash.AfterApply:
		return crashState{audit.StateStarted, fullLevel}
	}
	return crashState{audit.StateApplied, fullLevel}
}

// run kills a child at the case's point, then settles the pipeline in the
// parent as after any interruption.
func (c proofCase) run(t *testing.T, w *world) verdict {
	if !c.crashChild(t, w) {
		return verdict{}
	}
	st := w.crashState(t, ids[1])
	if want := c.expected(); st != want {
		t.Errorf("after the crash the second change is in %+v, want %+v", st, want)
	}
	if n := w.level(t, ids[0]); n != fullLevel {
		t.Errorf("after the crash the first change has level %d on the server, want %d", n, fullLevel)
	}
	if n, h := w.level(t, ids[2]), w.history(t, ids[2]); n != 0 || (!c.undo && len(h) != 0) ||
		(c.undo && (len(h) == 0 || h[len(h)-1].State != audit.StateRolledBack)) {
		t.Errorf("after the crash the third change has level %d and entries %v, want none (rolled back in an undo case)", n, crashtest.States(h))
	}
	// The restart runs on a connection of the parent's.
	sys, err := openSystem(t.Context(), w.spec.Target, w.spec.Kind, w.spec.Prefix, w.spec.At)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.close()
	return w.settle(t, sys, ids, st)
}

// crashChild runs the child process of the case and checks that it died
// by SIGKILL at the case's point.
func (c proofCase) crashChild(t *testing.T, w *world) bool {
	t.Helper()
	return crashtest.Child(t, childEnv, childJob{Spec: w.spec, Point: c.point, Undo: c.undo}, c.point)
}

// crashState reads where an interruption left change id.
func (w *world) crashState(t *testing.T, id string) crashState {
	t.Helper()
	st := crashState{level: w.level(t, id)}
	if h := w.history(t, id); len(h) > 0 {
		st.latest = h[len(h)-1].State
	}
	return st
}

// uncertain reports whether a change without a transaction in state s is
// an issue under recovery manual (DESIGN §6).
func uncertain(s audit.State) bool {
	return s == audit.StateStarted || s == audit.StateFailed || s == audit.StateRollbackFailed
}

// restartOutcome is what DESIGN §6 has the next run do with a change
// without a transaction in state s, restated here rather than taken from
// the runtime: "issue", or the pipeline.Status it gets.
func restartOutcome(rec audit.Recovery, s audit.State) string {
	switch {
	case s == audit.StateApplied || s == audit.StateManualApplied:
		return string(pipeline.StatusSkipped)
	case uncertain(s) && rec == audit.RecoveryManual:
		return "issue"
	}
	return string(pipeline.StatusApplied)
}

// settle runs the pipeline of changes ids on sys after an interruption
// that left the second change in st: the run decides each change by
// DESIGN §6; an issue is resolved as an operator would, counting on the
// server, finishing by hand a change left half-way, and running the
// command the issue prints with the real CLI; the next run must complete.
// Then every change must hold on the server exactly as the trail says,
// and a rollback to the first change must take each later change back
// exactly once.
func (w *world) settle(t *testing.T, sys system, ids []string, st crashState) verdict {
	ctx := t.Context()
	var v verdict
	second := ids[1]
	r := w.runner(t, sys, ids)
	born := w.births(t, second)
	before := w.trailLen(t)
	res, err := r.Run(ctx)
	want := restartOutcome(w.spec.recovery(), st.latest)
	if want == "issue" {
		var ie *pipeline.IssuesError
		ranNothing := w.trailLen(t) == before && w.level(t, second) == st.level
		switch {
		case !errors.As(err, &ie) || !ranNothing:
			v.silent++
			t.Errorf("the run after an uncertain state under manual recovery: %v, ran nothing %v; want an issue and nothing run", err, ranNothing)
		case len(ie.Issues) != 1 || ie.Issues[0].ChangeID != second:
			t.Errorf("issues = %v, want the second change's", ie.Issues)
		default:
			if code, out := runCLI(t, w, "issue", "list"); code != 3 || !strings.Contains(out, second) {
				t.Errorf("flamingock issue list: exit status %d, want 3 and the issue of %s:\n%s", code, second, out)
			}
			resolution := w.operate(t, second)
			want = string(pipeline.StatusSkipped)
			if resolution == "rolled-back" {
				want = string(pipeline.StatusApplied)
			}
			fixWithCLI(t, w, ie.Issues[0], resolution, "ops@example.com", "counted on "+w.spec.Target)
			res, err = r.Run(ctx)
		}
	}
	if want != "issue" {
		if err != nil {
			t.Errorf("the run after the interruption: %v", err)
		} else {
			wantStatuses := []string{ids[0] + "=skipped", second + "=" + want}
			for _, id := range ids[2:] {
				wantStatuses = append(wantStatuses, id+"=applied")
			}
			if diff := cmp.Diff(wantStatuses, crashtest.Statuses(res)); diff != "" {
				t.Errorf("outcomes of the run after the interruption (-want +got):\n%s", diff)
			}
		}
	}
	// Once done, the pipeline stays done.
	if res, err := r.Run(ctx); err != nil || len(res.Skipped()) != len(ids) {
		t.Errorf("the run after that: %v, %v; want every change skipped", crashtest.Statuses(res), err)
	}
	if code, out := runCLI(t, w, "issue", "list"); code != 0 {
		t.Errorf("flamingock issue list: exit status %d, want 0:\n%s", code, out)
	}
	for _, id := range ids {
		switch n := w.level(t, id); {
		case n < fullLevel:
			v.lost++
			t.Errorf("change %s holds %d of its %d steps on %s at the end, want it applied", id, n, fullLevel, w.spec.Target)
		case n > fullLevel:
			v.doubled++
			t.Errorf("change %s counts %d on %s at the end, want %d: appended more than once", id, n, w.spec.Target, fullLevel)
		}
		h := w.history(t, id)
		problems := checkTransitions(h)
		if last := h[len(h)-1].State; last != audit.StateApplied && last != audit.StateManualApplied {
			problems = append(problems, fmt.Sprintf("ends in %s, not applied", last))
		}
		if len(problems) > 0 {
			t.Errorf("trail of change %s %v: %s", id, crashtest.States(h), strings.Join(problems, "; "))
		}
	}
	for what, when := range born {
		if now := w.births(t, second)[what]; !now.Equal(when) {
			v.doubled++
			t.Errorf("the %s of change %s, created at %v before the run, was created again at %v", what, second, when, now)
		}
	}
	v = v.plus(w.undoAgain(t, r, ids))
	if n := w.noops(); n > 0 {
		v.doubled++
		t.Errorf("the server saw %d writes that changed nothing: a retry wrote again what held", n)
	}
	return v
}

// operate is the operator of an issue left by change id: counted on the
// server, a change that holds wholly is marked applied, one that holds
// nothing rolled back; one that holds half is finished by hand in the
// direction it was going (the second step put in, or the first taken
// back), then marked so. It returns the resolution.
func (w *world) operate(t *testing.T, id string) string {
	t.Helper()
	n := w.level(t, id)
	if n == 1 {
		h := w.history(t, id)
		undoing := undoes(h[len(h)-1])
		var err error
		if undoing {
			err, n = w.probe.step(t.Context(), id, 1, true), 0
		} else {
			err, n = w.probe.step(t.Context(), id, 2, false), fullLevel
		}
		if err != nil {
			t.Fatalf("the operator finishing change %s by hand: %v", id, err)
		}
		if got := w.level(t, id); got != n {
			t.Fatalf("the operator finished change %s by hand to level %d, counts %d", id, n, got)
		}
	}
	switch n {
	case fullLevel:
		return "applied"
	case 0:
		return "rolled-back"
	}
	t.Fatalf("change %s counts %d on %s: no resolution fits", id, n, w.spec.Target)
	return ""
}

// undoAgain rolls back to the first change, once the pipeline settled:
// each later one must be taken back exactly once, on the server (after an
// interrupted undo, this finishes what the child began).
func (w *world) undoAgain(t *testing.T, r *pipeline.Runner, ids []string) verdict {
	var v verdict
	before := map[string]int{}
	for _, id := range ids[1:] {
		before[id] = w.level(t, id)
	}
	res, err := r.RollbackTo(t.Context(), ids[0])
	if err != nil {
		t.Errorf("the rollback after the restart: %v", err)
	} else {
		var want []string
		for i := len(ids) - 1; i > 0; i-- {
			want = append(want, ids[i]+"=rolled back")
		}
		if diff := cmp.Diff(want, crashtest.Statuses(res)); diff != "" {
			t.Errorf("outcomes of the rollback after the restart (-want +got):\n%s", diff)
		}
	}
	for _, id := range ids[1:] {
		switch n := w.level(t, id); {
		case n > before[id]-fullLevel:
			v.lost++
			t.Errorf("change %s counts %d after its rollback, %d before: the rollback did not take", id, n, before[id])
		case n < before[id]-fullLevel:
			v.doubled++
			t.Errorf("change %s counts %d after its rollback, %d before: undone more than once", id, n, before[id])
		}
		h := w.history(t, id)
		problems := checkTransitions(h)
		if last := h[len(h)-1].State; last != audit.StateRolledBack {
			problems = append(problems, fmt.Sprintf("ends in %s, not rolled back", last))
		}
		if len(problems) > 0 {
			t.Errorf("trail of change %s after the rollback %v: %s", id, crashtest.States(h), strings.Join(problems, "; "))
		}
	}
	if n := w.level(t, ids[0]); n != fullLevel {
		v.lost++
		t.Errorf("change %s counts %d after the rollback to it, want %d", ids[0], n, fullLevel)
	}
	return v
}

func undoes(e audit.Entry) bool { return strings.HasPrefix(e.Reason, "rollback of ") }

// checkTransitions returns how the entries of one change without a
// transaction, in seq order, break DESIGN §5 and §6: a trail begins with
// STARTED; an execution's STARTED is followed by its done state; a change
// applied runs again only to be undone; a manual mark names operator and
// reason and follows an uncertain state under recovery manual, which
// nothing else may follow.
func checkTransitions(h []audit.Entry) []string {
	var problems []string
	bad := func(e audit.Entry, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("seq %d %s: ", e.Seq, e.State)+fmt.Sprintf(format, args...))
	}
	for i, e := range h {
		manual := e.State == audit.StateManualApplied || e.State == audit.StateManualRolledBack
		if manual && (e.Operator == "" || e.Reason == "") {
			bad(e, "manual mark without operator or reason")
		}
		if !manual && e.Strategy != audit.StrategyNonTx {
			bad(e, "recorded as %s, want %s", e.Strategy, audit.StrategyNonTx)
		}
		if i == 0 {
			if e.State != audit.StateStarted || undoes(e) {
				bad(e, "a trail cannot begin with it")
			}
			continue
		}
		prev := h[i-1]
		applied := prev.State == audit.StateApplied || prev.State == audit.StateManualApplied
		switch {
		case manual:
			if !uncertain(prev.State) || prev.Recovery != audit.RecoveryManual {
				bad(e, "an operator resolved a change that was no issue (after %s)", prev.State)
			}
		case e.ExecutionID == prev.ExecutionID:
			if prev.State != audit.StateStarted || undoes(e) != undoes(prev) {
				bad(e, "does not follow %s in one execution", prev.State)
			}
		case uncertain(prev.State) && prev.Recovery == audit.RecoveryManual:
			bad(e, "a run went past %s under recovery manual without an operator", prev.State)
		case e.State != audit.StateStarted:
			bad(e, "a new execution cannot begin with it after %s", prev.State)
		case undoes(e) && !applied:
			bad(e, "an undo began after %s, of a change not applied", prev.State)
		case applied && !undoes(e):
			bad(e, "the change ran again after %s", prev.State)
		}
	}
	return problems
}
