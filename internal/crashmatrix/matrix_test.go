package crashmatrix_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
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
const childEnv = "FLAMINGOCK_CRASHMATRIX_CHILD"

// childRunner is the runner id of the children.
const childRunner = "child"

// childLease is the lease of the children, short so that the restart
// soon takes over the lock a dead child left; its refresh every third of
// it is what crash.DuringRefresh interrupts. Two seconds, not one: under
// the race detector on a loaded machine a refresh on FerretDB took longer
// than a third of a second, and a child that loses its lease stops before
// its crash point (a failed case that proves nothing).
const childLease = 2 * time.Second

// The changes of the matrix pipeline. The child applies the first in a run
// of its own, then runs all three and dies at the crash point inside the
// second; the third is never reached. In an undo case the run applies all
// three, then the child rolls back to the first and dies at the crash
// point inside the undo of the second, the third rolled back already.
var ids = []string{"first", "second", "third"}

// pointsOf lists the crash points of each strategy: where the runtime
// applying such a change passes (see package crash). Combinations that do
// not exist are not cases.
var pointsOf = map[audit.Strategy][]crash.Point{
	audit.StrategySharedTx: {crash.InApply, crash.AfterApply, crash.BeforeCommit, crash.AfterApplied,
		crash.DuringRefresh},
	audit.StrategySeparateTx: {crash.BeforeStarted, crash.AfterStarted, crash.InApply, crash.AfterApply,
		crash.BeforeCommit, crash.AfterTargetCommit, crash.AfterApplied, crash.DuringRefresh},
	audit.StrategyNonTx: {crash.BeforeStarted, crash.AfterStarted, crash.InApply, crash.AfterApply,
		crash.AfterApplied, crash.AfterFailed, crash.InRollback, crash.AfterRollback, crash.AfterRolledBack, crash.DuringRefresh},
}

// undoPointsOf lists the crash points where the runtime undoing a change of
// each strategy passes: RollbackTo runs the strategies Run does, with the
// undo's marker held first in a separate transaction.
var undoPointsOf = map[audit.Strategy][]crash.Point{
	audit.StrategySharedTx: {crash.InRollback, crash.AfterRollback, crash.BeforeCommit, crash.AfterRolledBack,
		crash.DuringRefresh},
	audit.StrategySeparateTx: {crash.BeforeStarted, crash.AfterMarkerHeld, crash.AfterStarted, crash.InRollback,
		crash.AfterRollback, crash.BeforeCommit, crash.AfterTargetCommit, crash.AfterRolledBack, crash.DuringRefresh},
	audit.StrategyNonTx: {crash.BeforeStarted, crash.AfterStarted, crash.InRollback, crash.AfterRollback,
		crash.AfterRolledBack, crash.DuringRefresh},
}

var strategyNames = map[audit.Strategy]string{
	audit.StrategySharedTx:   "shared-transaction",
	audit.StrategySeparateTx: "separate-transaction",
	audit.StrategyNonTx:      "non-transactional",
}

var pointNames = map[crash.Point]string{
	crash.BeforeStarted:     "before STARTED",
	crash.AfterStarted:      "after STARTED",
	crash.InApply:           "inside apply",
	crash.AfterApply:        "after apply",
	crash.BeforeCommit:      "before the commit",
	crash.AfterTargetCommit: "after the target's commit",
	crash.AfterApplied:      "after APPLIED",
	crash.AfterFailed:       "after FAILED, before its compensation",
	crash.InRollback:        "inside the compensating rollback",
	crash.AfterRollback:     "after the compensating rollback returned",
	crash.AfterRolledBack:   "after ROLLED_BACK",
	crash.DuringRefresh:     "during a lock refresh",
}

// undoPointNames name the points of an undo where they say more than
// pointNames.
var undoPointNames = map[crash.Point]string{
	crash.AfterMarkerHeld: "after its marker is held",
	crash.InRollback:      "inside the rollback",
	crash.AfterRollback:   "after the rollback returned",
}

// implicitPoints are the points a target whose database may commit a
// change's transaction by itself passes in a shared transaction besides
// those of pointsOf and undoPointsOf: STARTED is written first inside the
// transaction (pipeline.SharedTxImplicit).
var implicitPoints = []crash.Point{crash.BeforeStarted, crash.AfterStarted}

// pointsFor returns the crash points of medium m, applying (pointsOf) or
// undoing (undoPointsOf).
func pointsFor(m medium, of map[audit.Strategy][]crash.Point) []crash.Point {
	ps := of[m.strategy()]
	if traitsOf(m).implicit && m.strategy() == audit.StrategySharedTx {
		ps = append(slices.Clone(implicitPoints), ps...)
	}
	return ps
}

// childJob is what a child process does.
type childJob struct {
	World    worldSpec
	Medium   string // its key
	Recovery audit.Recovery
	Point    crash.Point
	// Undo has the child die in RollbackTo rather than Run.
	Undo bool `json:",omitempty"`
}

// matrixCase is one case of the matrix.
type matrixCase struct {
	medium   string // its key in the world
	strategy audit.Strategy
	target   string
	recovery audit.Recovery
	point    crash.Point
	// undo: the child dies undoing the second change, not applying it.
	undo bool
	traits
}

func (c matrixCase) String() string {
	if c.undo {
		name, ok := undoPointNames[c.point]
		if !ok {
			name = pointNames[c.point]
		}
		return fmt.Sprintf("undo of a %s change on %s with recovery %s killed %s",
			strategyNames[c.strategy], c.target, c.recovery, name)
	}
	return fmt.Sprintf("%s change on %s with recovery %s killed %s",
		strategyNames[c.strategy], c.target, c.recovery, pointNames[c.point])
}

// cases lists every case the media of a world offer.
func cases(media []medium) []matrixCase {
	var out []matrixCase
	for _, m := range media {
		for _, rec := range []audit.Recovery{audit.RecoveryManual, audit.RecoveryRetry} {
			for _, p := range pointsFor(m, pointsOf) {
				out = append(out, matrixCase{medium: mediumKey(m), strategy: m.strategy(), target: m.name(), recovery: rec, point: p,
					traits: traitsOf(m)})
			}
			for _, p := range pointsFor(m, undoPointsOf) {
				out = append(out, matrixCase{medium: mediumKey(m), strategy: m.strategy(), target: m.name(), recovery: rec, point: p, undo: true,
					traits: traitsOf(m)})
			}
		}
	}
	return out
}

// TestMain runs a case's child when the test binary is one, else the
// tests, six cases at a time unless -test.parallel says otherwise.
func TestMain(m *testing.M) { crashtest.Main(m, childEnv, runChild, 6) }

// runChild applies the first change, then runs the whole pipeline and
// kills its own process at the job's crash point; for an undo job, it runs
// the whole pipeline, then rolls it back to the first change and kills its
// process at the job's point in the undo of the second (the second time
// the point is met: the third is undone first). It returns only when
// something went wrong: the exit code says what.
func runChild(arg string) int {
	var job childJob
	if err := json.Unmarshal([]byte(arg), &job); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad job:", err)
		return 2
	}
	ctx := context.Background()
	w, err := openWorld(ctx, job.World)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	m, err := w.medium(job.Medium)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	opts := []pipeline.Option{pipeline.WithLease(childLease), pipeline.WithRunnerID(childRunner)}

	first, err := pipeline.New(w.store, stages(m, job.Recovery, ids[:1], ""), opts...)
	if err == nil {
		_, err = first.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: first run:", err)
		return 2
	}

	if job.Undo {
		r, err := pipeline.New(w.store, stages(m, job.Recovery, ids, ""), opts...)
		if err == nil {
			_, err = r.Run(ctx)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: the run before the rollback:", err)
			return 2
		}
		_, err = r.RollbackTo(crash.With(ctx, killAt(job.Point, crash.InRollback, 2)), ids[0])
		fmt.Fprintf(os.Stderr, "child: the rollback returned without reaching %s: %v\n", job.Point, err)
		return 3
	}
	failing := ""
	if compensating(job.Point) {
		failing = ids[1] // it fails, and its compensation is where the child dies
	}
	r, err := pipeline.New(w.store, stages(m, job.Recovery, ids, failing), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	_, err = r.Run(crash.With(ctx, killAt(job.Point, crash.InApply, 1)))
	fmt.Fprintf(os.Stderr, "child: the run returned without reaching %s: %v\n", job.Point, err)
	return 3
}

// compensating reports whether the crash point p is on the way of a
// compensation: the change fails, and asks for its rollback to run then.
func compensating(p crash.Point) bool {
	return p == crash.AfterFailed || p == crash.InRollback || p == crash.AfterRollback || p == crash.AfterRolledBack
}

// killAt returns the crash hook that kills the process with SIGKILL at the
// nth hit of point p, after saying so on stdout. The kill for
// crash.DuringRefresh waits for the nth hit of inWork (crash.InApply or
// crash.InRollback), so that a refresh interrupts a change at work.
func killAt(p, inWork crash.Point, nth int) func(crash.Point) {
	var mu sync.Mutex
	trigger := p
	if p == crash.DuringRefresh {
		trigger = inWork
	}
	seen := 0 // hits of trigger
	return func(hit crash.Point) {
		mu.Lock()
		if hit == trigger {
			seen++
		}
		kill := hit == p && (seen == nth || (p == crash.DuringRefresh && seen >= nth))
		hold := p == crash.DuringRefresh && hit == inWork && seen == nth
		mu.Unlock()
		switch {
		case kill:
			crashtest.Kill(p)
		case hold:
			// Hold the change until the refresher's hit kills the
			// process; the lease is refreshed every third of it.
			time.Sleep(time.Minute)
			fmt.Fprintln(os.Stderr, "child: no lease refresh came in a minute")
			os.Exit(4)
		}
	}
}

// tally counts the cases' verdicts; subtests add to it in parallel.
type tally struct {
	mu                                 sync.Mutex
	cases, undo, lost, doubled, silent int
}

func (t *tally) add(c matrixCase, v verdict) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cases++
	if c.undo {
		t.undo++
	}
	t.lost += v.lost
	t.doubled += v.doubled
	t.silent += v.silent
}

// verdict is what one case found wrong, by the summary's counts.
type verdict struct{ lost, doubled, silent int }

func (v verdict) plus(w verdict) verdict {
	return verdict{v.lost + w.lost, v.doubled + w.doubled, v.silent + w.silent}
}

func TestCrashMatrix(t *testing.T) {
	covered := map[crash.Point]bool{}
	for _, of := range []map[audit.Strategy][]crash.Point{pointsOf, undoPointsOf} {
		for _, ps := range of {
			for _, p := range ps {
				covered[p] = true
			}
		}
	}
	for _, p := range crash.Points() {
		if !covered[p] {
			t.Errorf("crash point %s is in no case of the matrix", p)
		}
	}

	var sum tally
	t.Run("cases", func(t *testing.T) {
		for _, store := range stores {
			t.Run("on "+store, func(t *testing.T) {
				// A world to learn which strategies the store offers; a
				// PostgreSQL or MongoDB world skips without a server.
				probe := newWorld(t, store)
				for _, c := range cases(probe.media) {
					t.Run(c.String(), func(t *testing.T) {
						t.Parallel()
						// Counted even when the case stops at a fatal error.
						var v verdict
						defer func() { sum.add(c, v) }()
						v = c.run(t, newWorld(t, store))
					})
				}
			})
		}
	})
	fmt.Printf("crash matrix: %d cases (%d of them undo), %d lost, %d doubled, %d silent\n",
		sum.cases, sum.undo, sum.lost, sum.doubled, sum.silent)
	if sum.lost+sum.doubled+sum.silent > 0 {
		t.Errorf("the guarantee does not hold: %d lost, %d doubled, %d silent", sum.lost, sum.doubled, sum.silent)
	}
}

// crashState is the state the second change is left in by the crash.
type crashState struct {
	latest  audit.State // "" when it has no entries
	effects int
	marker  bool // the marker of its STARTED execution is committed
	// begun: the begun marker of its latest execution is the one
	// committed (pipeline.BegunMarker): the database committed that
	// execution's transaction by itself part-way. Looked for on media
	// with implicit commits only.
	begun bool
}

// expectedCrashState is where the crash point of the case leaves the
// second change: what the point's name promises.
func (c matrixCase) expectedCrashState() crashState {
	s, p := c.strategy, c.point
	if c.implicit {
		return c.expectedImplicitCrashState()
	}
	if c.undo {
		return expectedUndoCrashState(s, p)
	}
	switch p {
	case crash.BeforeStarted:
		return crashState{}
	case crash.AfterStarted:
		return crashState{latest: audit.StateStarted}
	case crash.AfterTargetCommit:
		return crashState{latest: audit.StateStarted, effects: 1, marker: true}
	case crash.AfterApplied:
		// Under a separate transaction the marker is cleared after APPLIED.
		return crashState{latest: audit.StateApplied, effects: 1, marker: s == audit.StrategySeparateTx}
	case crash.AfterFailed, crash.InRollback:
		return crashState{latest: audit.StateFailed, effects: 1}
	case crash.AfterRollback:
		return crashState{latest: audit.StateFailed}
	case crash.AfterRolledBack:
		return crashState{latest: audit.StateRolledBack}
	}
	// Inside or after apply, before the commit: the transaction died
	// uncommitted; without one, the effect stays.
	switch s {
	case audit.StrategySharedTx:
		return crashState{}
	case audit.StrategySeparateTx:
		return crashState{latest: audit.StateStarted}
	}
	return crashState{latest: audit.StateStarted, effects: 1}
}

// expectedImplicitCrashState is where the crash point of a case on a
// target whose database may commit a change's transaction by itself
// (MySQL) leaves the second change. A shared transaction holds STARTED
// from its first statement; a separate one holds the begun marker first,
// replaced by the marker (one per change) when the change is done. A
// change of DML alone commits all at once; a change with DDL has its
// transaction committed by the DDL, before the crash points inside it,
// and its statements commit one by one from then on (so the marker that
// follows it does too).
func (c matrixCase) expectedImplicitCrashState() crashState {
	s, p := c.strategy, c.point
	if c.undo {
		switch {
		case p == crash.AfterRolledBack:
			return crashState{latest: audit.StateRolledBack}
		case p == crash.BeforeStarted || p == crash.AfterMarkerHeld || (s == audit.StrategySharedTx && p == crash.AfterStarted):
			return crashState{latest: audit.StateApplied, effects: 1}
		case !c.ddl:
			return expectedUndoCrashState(s, p)
		case s == audit.StrategySharedTx:
			// STARTED of the undo and its effect, committed by the DDL.
			return crashState{latest: audit.StateStarted}
		case p == crash.AfterStarted:
			return crashState{latest: audit.StateStarted, effects: 1, marker: true}
		case p == crash.BeforeCommit || p == crash.AfterTargetCommit:
			// The undo's marker replaced the begun one.
			return crashState{latest: audit.StateStarted}
		}
		return crashState{latest: audit.StateStarted, begun: true}
	}
	switch {
	case p == crash.AfterApplied:
		return crashState{latest: audit.StateApplied, effects: 1, marker: s == audit.StrategySeparateTx}
	case p == crash.BeforeStarted:
		return crashState{}
	case s == audit.StrategySharedTx && p == crash.AfterStarted:
		return crashState{}
	case s == audit.StrategySharedTx && c.ddl:
		return crashState{latest: audit.StateStarted, effects: 1}
	case s == audit.StrategySharedTx:
		return crashState{}
	case p == crash.AfterStarted:
		return crashState{latest: audit.StateStarted}
	case p == crash.AfterTargetCommit || (c.ddl && p == crash.BeforeCommit):
		return crashState{latest: audit.StateStarted, effects: 1, marker: true}
	case c.ddl:
		return crashState{latest: audit.StateStarted, effects: 1, begun: true}
	}
	return crashState{latest: audit.StateStarted}
}

// expectedUndoCrashState is where crash point p of its undo leaves the
// second change, applied before.
func expectedUndoCrashState(s audit.Strategy, p crash.Point) crashState {
	switch {
	case p == crash.AfterRolledBack:
		return crashState{latest: audit.StateRolledBack}
	case p == crash.AfterTargetCommit:
		// The undo's transaction replaced the marker of its execution.
		return crashState{latest: audit.StateStarted}
	case p == crash.BeforeStarted || p == crash.AfterMarkerHeld:
		return crashState{latest: audit.StateApplied, effects: 1}
	case s == audit.StrategySharedTx:
		// The undo and ROLLED_BACK died uncommitted.
		return crashState{latest: audit.StateApplied, effects: 1}
	case s == audit.StrategySeparateTx:
		// The undo died uncommitted: the marker held proves the change
		// still applied.
		return crashState{latest: audit.StateStarted, effects: 1, marker: true}
	case p == crash.AfterRollback:
		return crashState{latest: audit.StateStarted}
	}
	return crashState{latest: audit.StateStarted, effects: 1}
}

// partway reports whether st, the state a crash left a change of
// strategy s in, says that the database committed its transaction by
// itself part-way through it: STARTED alone, committed with the shared
// transaction, or the begun marker without the marker.
func partway(s audit.Strategy, st crashState) bool {
	return st.latest == audit.StateStarted && (s == audit.StrategySharedTx || (st.begun && !st.marker))
}

// restartOutcome is what DESIGN §6 has the next run do with the second
// change, restated here rather than taken from the runtime: "issue", or
// the pipeline.Status it gets.
func restartOutcome(s audit.Strategy, rec audit.Recovery, st crashState) string {
	switch {
	case st.latest == "":
		return string(pipeline.StatusApplied)
	case st.latest == audit.StateApplied:
		return string(pipeline.StatusSkipped)
	case st.latest == audit.StateRolledBack:
		return string(pipeline.StatusApplied)
	case st.latest == audit.StateStarted && s == audit.StrategySeparateTx && st.marker:
		return string(pipeline.StatusRecovered)
	case st.latest == audit.StateStarted && s == audit.StrategySeparateTx && !st.begun:
		return string(pipeline.StatusApplied)
	case st.latest == audit.StateFailed && s != audit.StrategyNonTx:
		return string(pipeline.StatusApplied)
	case rec == audit.RecoveryRetry:
		return string(pipeline.StatusApplied)
	}
	return "issue"
}

// run kills a child at the case's point, restarts the pipeline, resolves an
// issue as an operator would with the CLI, and checks the outcome.
func (c matrixCase) run(t *testing.T, w *world) verdict {
	ctx := t.Context()
	var v verdict
	m, err := w.medium(c.medium)
	if err != nil {
		t.Fatal(err)
	}
	prepare(t, m)
	if !c.crashChild(t, w) {
		return v
	}
	second := ids[1]

	// Where the crash left the pipeline.
	st := crashState{effects: effects(t, m, second)}
	h := history(t, w, second)
	if len(h) > 0 {
		last := h[len(h)-1]
		st.latest = last.State
		if mm, ok := m.(markerMedium); ok {
			var err error
			if st.marker, err = mm.hasMarker(ctx, last.Key(), last.ExecutionID); err != nil {
				t.Fatal(err)
			}
			if c.implicit && c.strategy == audit.StrategySeparateTx {
				if st.begun, err = mm.hasMarker(ctx, last.Key(), last.ExecutionID+pipeline.BegunMarker); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if want := c.expectedCrashState(); st != want {
		t.Errorf("after the crash the second change is in %+v, want %+v", st, want)
	}
	if n := effects(t, m, ids[0]); n != 1 {
		t.Errorf("after the crash the first change has %d effects, want 1", n)
	}
	if n, h := effects(t, m, ids[2]), history(t, w, ids[2]); n != 0 || (!c.undo && len(h) != 0) ||
		(c.undo && (len(h) == 0 || h[len(h)-1].State != audit.StateRolledBack)) {
		t.Errorf("after the crash the third change has %d effects and entries %v, want none (rolled back in an undo case)", n, crashtest.States(h))
	}

	// Restart: two replicas race to take over once the dead child's lease
	// expires.
	runner := func(id string) *pipeline.Runner {
		r, err := pipeline.New(w.store, stages(m, c.recovery, ids, ""),
			pipeline.WithRunnerID(id), pipeline.WithLockWait(time.Minute, 10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	replicas := []*pipeline.Runner{runner("replica-1"), runner("replica-2")}
	restart := func() (res [2]*pipeline.Result, errs [2]error) {
		var wg sync.WaitGroup
		for i, r := range replicas {
			wg.Go(func() { res[i], errs[i] = r.Run(ctx) })
		}
		wg.Wait()
		return res, errs
	}
	before := trailLen(t, w)
	res, errs := restart()
	want := restartOutcome(c.strategy, c.recovery, st)
	allowed := 1 // effects the second change may end with
	if want == string(pipeline.StatusApplied) && (c.strategy == audit.StrategyNonTx || partway(c.strategy, st)) {
		allowed += st.effects // recovery retry declares it safe to run again
	}

	if want == "issue" {
		var ie, ie2 *pipeline.IssuesError
		ranNothing := trailLen(t, w) == before && effects(t, m, second) == st.effects &&
			effects(t, m, ids[2]) == 0
		switch {
		case !errors.As(errs[0], &ie) || !errors.As(errs[1], &ie2) || !ranNothing:
			v.silent++
			t.Errorf("restart over an uncertain state under manual recovery: errors %v, ran nothing %v; want issues and nothing run", errs, ranNothing)
		case len(ie.Issues) != 1 || ie.Issues[0].ChangeID != second || ie.Issues[0].Latest.RunnerID != childRunner:
			t.Errorf("issues = %v, want the second change left by the child", ie.Issues)
		case !strings.Contains(ie.Error(), "flamingock audit fix "+second+" --resolution"):
			t.Errorf("the issue does not say how to resolve it:\n%v", ie)
		default:
			// The operator looks at the target and says what is true.
			resolution := "applied"
			want = string(pipeline.StatusSkipped)
			if st.effects == 0 {
				resolution, want = "rolled-back", string(pipeline.StatusApplied)
			}
			// A change that only its target's begun marker shows partly
			// committed (STARTED, separate transaction) is not an issue
			// to the CLI, which reads the trail alone and leaves it to the
			// marker: the runner's commands force the mark instead.
			if l := ie.Issues[0].Latest; l.State == audit.StateStarted && l.Strategy == audit.StrategySeparateTx {
				if !strings.Contains(ie.Error(), "--force") {
					t.Errorf("the issue of a change its begun marker shows partly committed does not force the mark:\n%v", ie)
				}
			} else if code, out := runCLI(t, w, "issue", "list"); code != 3 || !strings.Contains(out, second) {
				t.Errorf("flamingock issue list: exit status %d, want 3 and the issue of %s:\n%s", code, second, out)
			}
			fixWithCLI(t, w, ie.Issues[0], resolution, "ops@example.com", "looked at the target")
			res, errs = restart()
		}
	}
	if want != "issue" {
		if errs[0] != nil || errs[1] != nil {
			t.Errorf("restart: %v", errs)
		} else {
			// One replica does the work, the other finds it done.
			wantStatuses := []string{
				ids[0] + "=skipped+skipped",
				second + "=" + pair(pipeline.Status(want), pipeline.StatusSkipped),
				ids[2] + "=" + pair(pipeline.StatusApplied, pipeline.StatusSkipped),
			}
			if diff := cmp.Diff(wantStatuses, merged(res)); diff != "" {
				t.Errorf("restart outcomes of both replicas (-want +got):\n%s", diff)
			}
		}
	}

	// Once done, the pipeline stays done.
	if res, err := replicas[0].Run(ctx); err != nil || len(res.Skipped()) != len(ids) {
		t.Errorf("the run after the restart: %v, %v; want every change skipped", crashtest.Statuses(res), err)
	}
	if code, out := runCLI(t, w, "issue", "list"); code != 0 {
		t.Errorf("flamingock issue list: exit status %d, want 0:\n%s", code, out)
	}

	for i, id := range ids {
		n, max := effects(t, m, id), 1
		if i == 1 {
			max = allowed
		}
		switch {
		case n < 1:
			v.lost++
			t.Errorf("change %s has %d effects at the end, want it applied", id, n)
		case n > max:
			v.doubled++
			t.Errorf("change %s has %d effects at the end, want at most %d", id, n, max)
		}
		if problems := checkTrail(history(t, w, id), c); len(problems) > 0 {
			t.Errorf("trail of change %s: %s", id, strings.Join(problems, "; "))
		}
	}
	if c.ddl {
		// The proof that the DDL committed the transaction part-way, and
		// that the runtime found it out: the first change, applied by the
		// child before the crash, is recorded as run without a transaction.
		if h := history(t, w, ids[0]); !slices.ContainsFunc(h, func(e audit.Entry) bool {
			return e.State == audit.StateApplied && e.Strategy == audit.StrategyNonTx
		}) {
			t.Errorf("trail of change %s: %v, want it APPLIED %s: its DDL committed its transaction", ids[0], h, audit.StrategyNonTx)
		}
	}
	if c.undo {
		v = v.plus(c.undoAgain(t, w, m, replicas[0]))
	}
	return v
}

// undoAgain finishes what the crashed child of an undo case began, now that
// the restart decided every change: a rollback to the first change must
// take the effect of each later one back exactly once.
func (c matrixCase) undoAgain(t *testing.T, w *world, m medium, r *pipeline.Runner) verdict {
	var v verdict
	before := map[string]int{}
	for _, id := range ids[1:] {
		before[id] = effects(t, m, id)
	}
	res, err := r.RollbackTo(t.Context(), ids[0])
	if err != nil {
		t.Errorf("the rollback after the restart: %v", err)
	} else if diff := cmp.Diff([]string{ids[2] + "=rolled back", ids[1] + "=rolled back"}, crashtest.Statuses(res)); diff != "" {
		t.Errorf("outcomes of the rollback after the restart (-want +got):\n%s", diff)
	}
	for _, id := range ids[1:] {
		switch n := effects(t, m, id); {
		case n >= before[id]:
			v.lost++
			t.Errorf("change %s has %d effects after its rollback, %d before: the rollback did not take", id, n, before[id])
		case n < before[id]-1:
			v.doubled++
			t.Errorf("change %s has %d effects after its rollback, %d before: undone more than once", id, n, before[id])
		}
		h := history(t, w, id)
		problems := checkTransitions(h, c)
		if last := h[len(h)-1].State; last != audit.StateRolledBack {
			problems = append(problems, fmt.Sprintf("ends in %s, not rolled back", last))
		}
		if len(problems) > 0 {
			t.Errorf("trail of change %s after the rollback: %s", id, strings.Join(problems, "; "))
		}
	}
	if n := effects(t, m, ids[0]); n != 1 {
		v.lost++
		t.Errorf("change %s has %d effects after the rollback to it, want 1", ids[0], n)
	}
	return v
}

// crashChild runs the child process of the case and checks that it died by
// SIGKILL at the case's point.
func (c matrixCase) crashChild(t *testing.T, w *world) bool {
	t.Helper()
	return crashtest.Child(t, childEnv, childJob{World: w.spec, Medium: c.medium, Recovery: c.recovery, Point: c.point, Undo: c.undo}, c.point)
}

// checkTrail returns how the entries of one change, in seq order, break
// the transitions of DESIGN §5 and §6, or do not leave it applied.
func checkTrail(h []audit.Entry, c matrixCase) []string {
	problems := checkTransitions(h, c)
	if len(h) > 0 {
		if last := h[len(h)-1].State; last != audit.StateApplied && last != audit.StateManualApplied {
			problems = append(problems, fmt.Sprintf("ends in %s, not applied", last))
		}
	}
	return problems
}

// checkTransitions returns how the entries of one change, in seq order,
// break the transitions of DESIGN §5 and §6: those of applies, and those
// of undos (RollbackTo), whose entries carry the rollback's reason.
//
// On a target whose database may commit a change's transaction by itself
// (c.implicit), a shared transaction's execution begins with STARTED too,
// and STARTED alone is never committed by a change of DML alone; a change
// with DDL (c.ddl) ends its executions as run without a transaction, and
// its STARTED alone is uncertain (a separate transaction's, when its begun
// marker is there, which the trail does not show: run checks that case).
func checkTransitions(h []audit.Entry, c matrixCase) []string {
	s, rec := c.strategy, c.recovery
	implicitShared := c.implicit && s == audit.StrategySharedTx
	var problems []string
	bad := func(e audit.Entry, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("seq %d %s: ", e.Seq, e.State)+fmt.Sprintf(format, args...))
	}
	undoes := func(e audit.Entry) bool { return strings.HasPrefix(e.Reason, "rollback of ") }
	// begins reports whether e can be the first entry of an execution: of
	// an apply, or of an undo.
	begins := func(e audit.Entry) bool {
		switch {
		case implicitShared:
			return e.State == audit.StateStarted
		case s == audit.StrategySharedTx && undoes(e):
			return e.State == audit.StateRolledBack || e.State == audit.StateRollbackFailed
		case s == audit.StrategySharedTx:
			return e.State == audit.StateApplied || e.State == audit.StateFailed
		}
		return e.State == audit.StateStarted
	}
	for i, e := range h {
		manual := e.State == audit.StateManualApplied || e.State == audit.StateManualRolledBack
		switch {
		case manual && (e.Operator == "" || e.Reason == ""):
			bad(e, "manual mark without operator or reason")
		case !manual && c.ddl && e.State != audit.StateStarted && e.Strategy == audit.StrategyNonTx && e.Recovery == rec:
			// the DDL committed the transaction part-way
		case !manual && (e.Strategy != s || e.Recovery != rec):
			bad(e, "recorded as %s/%s, want %s/%s", e.Strategy, e.Recovery, s, rec)
		}
		if i == 0 {
			if !begins(e) || undoes(e) {
				bad(e, "a trail cannot begin with it")
			}
			continue
		}
		prev := h[i-1]
		applied := prev.State == audit.StateApplied || prev.State == audit.StateManualApplied
		uncertain := prev.State == audit.StateRollbackFailed ||
			(s == audit.StrategyNonTx && (prev.State == audit.StateStarted || prev.State == audit.StateFailed)) ||
			(c.ddl && prev.State == audit.StateFailed && prev.Strategy == audit.StrategyNonTx) ||
			(c.ddl && implicitShared && prev.State == audit.StateStarted)
		// maybeUncertain: STARTED of a separate transaction with DDL, an
		// issue when its begun marker is there.
		maybeUncertain := c.ddl && prev.State == audit.StateStarted
		switch {
		case manual:
			if !(uncertain || maybeUncertain) || prev.Recovery != audit.RecoveryManual {
				bad(e, "an operator resolved a change that was no issue (after %s)", prev.State)
			}
		case e.ExecutionID == prev.ExecutionID:
			finishes := func(states ...audit.State) bool {
				return prev.State == audit.StateStarted && undoes(e) == undoes(prev) && slices.Contains(states, e.State)
			}
			continues := (!undoes(e) && finishes(audit.StateApplied, audit.StateFailed)) ||
				(undoes(e) && finishes(audit.StateRolledBack, audit.StateRollbackFailed)) ||
				// the compensation of a failure
				(s == audit.StrategyNonTx && !undoes(prev) && prev.State == audit.StateFailed &&
					(e.State == audit.StateRolledBack || e.State == audit.StateRollbackFailed)) ||
				// an undo that failed in a transaction leaves the change applied
				(s != audit.StrategyNonTx && undoes(prev) && prev.State == audit.StateRollbackFailed && e.State == audit.StateApplied)
			if !continues {
				bad(e, "does not follow %s in one execution", prev.State)
			}
		case implicitShared && !c.ddl && prev.State == audit.StateStarted:
			bad(e, "follows %s of another execution, committed without its done state by a change of DML alone", prev.State)
		case undoes(e) && !applied:
			bad(e, "an undo began after %s, of a change not applied", prev.State)
		case applied && !undoes(e):
			bad(e, "the change ran again after %s", prev.State)
		case uncertain && prev.Recovery == audit.RecoveryManual:
			bad(e, "a run went past %s under recovery manual without an operator", prev.State)
		case s == audit.StrategySeparateTx && prev.State == audit.StateStarted && e.State == audit.StateApplied:
			if !strings.Contains(e.Reason, "marker") {
				bad(e, "recorded by another execution without saying a marker proved it")
			}
		case !begins(e):
			bad(e, "a new execution cannot begin with it after %s", prev.State)
		}
	}
	return problems
}

func effects(t *testing.T, m medium, id string) int {
	t.Helper()
	n, err := m.effects(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func history(t *testing.T, w *world, id string) []audit.Entry {
	t.Helper()
	h, err := w.history(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func trailLen(t *testing.T, w *world) int {
	t.Helper()
	h, err := w.store.History(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(h)
}

// pair names two statuses in a fixed order, "applied+skipped".
func pair(a, b pipeline.Status) string {
	if a > b {
		a, b = b, a
	}
	return string(a) + "+" + string(b)
}

// merged returns "id=status+status" for every change of the results of two
// replicas.
func merged(res [2]*pipeline.Result) []string {
	if res[0] == nil || res[1] == nil || len(res[0].Changes()) != len(res[1].Changes()) {
		return append(crashtest.Statuses(res[0]), crashtest.Statuses(res[1])...)
	}
	var out []string
	other := res[1].Changes()
	for i, o := range res[0].Changes() {
		out = append(out, o.ChangeID+"="+pair(o.Status, other[i].Status))
	}
	return out
}
