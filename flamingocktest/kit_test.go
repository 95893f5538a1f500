package flamingocktest_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/flamingocktest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestGivenNothingARunAppliesEveryChange(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})

	res := k.Run(stage)
	if got := res.Count(pipeline.StatusApplied); got != 3 {
		t.Errorf("applied %d changes, want 3", got)
	}
	k.AssertApplied("create-users", "seed-admin", "flag-on")
	k.AssertTrail("app", "create-users", audit.StateApplied)
	k.AssertTrail("app", "flag-on", audit.StateStarted, audit.StateApplied)
}

func TestGivenAppliedChangesAreMarkedNotRun(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	// The table the given change would have made.
	if _, err := a.db.ExecContext(t.Context(), `CREATE TABLE users (email TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}

	k.GivenApplied(stage, "create-users")
	k.AssertTrail("app", "create-users", audit.StateManualApplied)
	k.AssertPending("seed-admin", "flag-on")

	res := k.Run(stage)
	if got := res.Count(pipeline.StatusApplied); got != 2 {
		t.Errorf("applied %d changes, want 2", got)
	}
	if n := a.count("create-users"); n != 0 {
		t.Errorf("the given change ran %d times, want never", n)
	}
	k.AssertApplied("create-users", "seed-admin", "flag-on")
	for _, e := range k.Trail() {
		if e.ChangeID == "create-users" && (e.Operator != flamingocktest.Operator || !strings.Contains(e.Reason, t.Name()) || e.Strategy != audit.StrategySharedTx || e.Checksum != "c1") {
			t.Errorf("given entry %+v: want operator %q, a reason naming the test, the target's strategy and the code's checksum", e, flamingocktest.Operator)
		}
	}
}

func TestGivenAppliedWithoutIdsGivesTheWholeStage(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	k.GivenApplied(stage)
	k.AssertApplied("create-users", "seed-admin", "flag-on")
	if res := k.Run(stage); res.Count(pipeline.StatusSkipped) != 3 {
		t.Errorf("a run after the whole stage was given: %v, want every change skipped", res.Changes())
	}
}

func TestGivenACrashedChangeARunStopsAtTheIssue(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	k.GivenApplied(stage, "create-users", "seed-admin")
	k.Given(audit.Entry{Stage: "app", ChangeID: "flag-on", State: audit.StateStarted, Strategy: audit.StrategyNonTx})

	_, err := k.TryRun(stage)
	if !errors.Is(err, pipeline.ErrManualInterventionRequired) {
		t.Fatalf("run: %v, want the issue", err)
	}
	k.AssertIssue("flag-on", "whether it took effect is unknown")
	if n := a.count("flag-on"); n != 0 {
		t.Errorf("flag-on ran %d times past its issue", n)
	}
}

func TestGivenACrashedRetriedChangeARunAppliesItAgain(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	k.GivenApplied(stage, "create-users", "seed-admin")
	k.Given(audit.Entry{Stage: "app", ChangeID: "flag-on", State: audit.StateStarted, Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryRetry})
	k.AssertPending("flag-on")
	k.Run(stage)
	k.AssertTrail("app", "flag-on", audit.StateStarted, audit.StateStarted, audit.StateApplied)
}

func TestGivenRefusesAnEntryWithoutItsStrategy(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	if r.do(func() { k.Given(audit.Entry{Stage: "app", ChangeID: "flag-on", State: audit.StateStarted}) }) {
		t.Fatal("Given returned; want it to stop the test")
	}
	if !strings.Contains(r.fatal, "set Strategy") {
		t.Errorf("fatal = %q, want it to ask for the strategy", r.fatal)
	}
	if n := len(k.Trail()); n != 0 {
		t.Errorf("the trail holds %d entries, want none", n)
	}
}

func TestGivenReportsAnEntryTheStoreRefuses(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	if r.do(func() {
		k.Given(audit.Entry{Stage: "app", ChangeID: "x", State: audit.StateManualApplied, Strategy: audit.StrategyNonTx}) // no operator nor reason
	}) {
		t.Fatal("Given returned; want it to stop the test")
	}
	if !strings.Contains(r.fatal, "the store refused it") || !strings.Contains(r.fatal, "operator") {
		t.Errorf("fatal = %q, want the store's refusal", r.fatal)
	}
	// The lock was released: a run can take it.
	a := newApp(k)
	k.Run(a.stage(k, stageOptions{}))
}

func TestRunOneRunsOnlyThatChange(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	if _, err := a.db.ExecContext(t.Context(), `CREATE TABLE users (email TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	k.GivenApplied(stage, "create-users")

	res := k.RunOne(stage, "seed-admin")
	if diff := cmp.Diff([]string{"create-users skipped", "seed-admin applied"}, outcomes(res)); diff != "" {
		t.Errorf("RunOne (-want +got):\n%s", diff)
	}
	k.AssertApplied("seed-admin")
	k.AssertPending("flag-on")
	if n := a.count("flag-on"); n != 0 {
		t.Errorf("flag-on ran %d times", n)
	}
}

func TestRunOneRefusesToRunAChangeBeforeOneNotApplied(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	if r.do(func() { k.RunOne(stage, "seed-admin") }) {
		t.Fatal("RunOne returned; want it to stop the test")
	}
	for _, want := range []string{`change "create-users" (apply: never applied) comes before it and is not applied`, "GivenApplied", "trail: empty"} {
		if !strings.Contains(r.fatal, want) {
			t.Errorf("fatal = %q, want it to say %q", r.fatal, want)
		}
	}
	if a.count("create-users")+a.count("seed-admin") != 0 {
		t.Errorf("changes ran: %v", a.calls)
	}
}

func TestThroughRunsTheChangesBeforeAndLeavesOutTheLaterOnes(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	res := k.Run(k.Through(stage, "seed-admin"))
	if diff := cmp.Diff([]string{"create-users applied", "seed-admin applied"}, outcomes(res)); diff != "" {
		t.Errorf("Run(Through) (-want +got):\n%s", diff)
	}
	k.AssertPending("flag-on")
	k.AssertTrail("app", "flag-on")

	r := record(t)
	k2 := flamingocktest.New(r)
	if r.do(func() { k2.Through(stage, "nope") }) || !strings.Contains(r.fatal, `stage "app" has no change "nope" (it has "create-users", "seed-admin", "flag-on")`) {
		t.Errorf("Through an unknown change: fatal %q", r.fatal)
	}
}

func TestRunFailsTheTestWithTheTrail(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	k.GivenApplied(stage, "create-users") // but no table: seed-admin fails
	if r.do(func() { k.Run(stage) }) {
		t.Fatal("Run returned; want it to stop the test")
	}
	for _, want := range []string{`change "seed-admin" (stage "app") failed`, "no such table: users", "trail (2 entries)", "MANUAL_MARKED_AS_APPLIED", "by flamingocktest: given applied by " + t.Name()} {
		if !strings.Contains(r.fatal, want) {
			t.Errorf("fatal = %q, want it to say %q", r.fatal, want)
		}
	}
}

// The assertions fail when they should, naming the change and showing the
// whole trail.
func TestAssertionsFailWhenTheTrailSaysOtherwise(t *testing.T) {
	tests := []struct {
		name   string
		assert func(k *flamingocktest.Kit) bool
		want   []string
	}{
		{"applied, of a change without an entry", func(k *flamingocktest.Kit) bool { return k.AssertApplied("seed-admin", "nope") },
			[]string{`change "nope": no entry, want applied`}},
		{"applied, of a change that failed", func(k *flamingocktest.Kit) bool { return k.AssertApplied("flag-on") },
			[]string{`change "flag-on": latest state FAILED (error: boom), want applied`}},
		{"pending, of an applied change", func(k *flamingocktest.Kit) bool { return k.AssertPending("create-users") },
			[]string{`change "create-users": done: `, "want pending"}},
		{"an issue, of an applied change", func(k *flamingocktest.Kit) bool { return k.AssertIssue("create-users", "") },
			[]string{`change "create-users" is not an issue (APPLIED, done)`}},
		{"an issue, of a change without an entry", func(k *flamingocktest.Kit) bool { return k.AssertIssue("nope", "") },
			[]string{`change "nope" is no entry: the next run applies it`}},
		{"an issue with another problem", func(k *flamingocktest.Kit) bool { return k.AssertIssue("flag-on", "the moon") },
			[]string{`an issue whose problem is "it failed without a transaction, so it may have partly taken effect", want one containing "the moon"`}},
		{"a trail of other states", func(k *flamingocktest.Kit) bool {
			return k.AssertTrail("app", "flag-on", audit.StateStarted, audit.StateApplied)
		}, []string{`trail of change "flag-on" (stage "app") (-want +got)`, `"FAILED"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t)
			k := flamingocktest.New(r)
			k.Given(
				audit.Entry{Stage: "app", ChangeID: "create-users", State: audit.StateApplied, Strategy: audit.StrategySharedTx},
				audit.Entry{Stage: "app", ChangeID: "seed-admin", State: audit.StateApplied, Strategy: audit.StrategySharedTx},
				audit.Entry{Stage: "app", ChangeID: "flag-on", State: audit.StateStarted, Strategy: audit.StrategyNonTx},
				audit.Entry{Stage: "app", ChangeID: "flag-on", State: audit.StateFailed, Strategy: audit.StrategyNonTx, ErrorMessage: "boom"},
			)
			var held bool
			if !r.do(func() { held = tt.assert(k) }) {
				t.Fatalf("the assertion stopped the test: %s", r.fatal)
			}
			if held || len(r.errors) != 1 {
				t.Fatalf("assertion returned %v with %d errors, want false with one", held, len(r.errors))
			}
			msg := r.errors[0]
			for _, want := range append(tt.want, "trail (4 entries):", "SEQ  STAGE  CHANGE        STATE    STRATEGY   RECOVERY  NOTE",
				"4    app    flag-on       FAILED   NON_TX     MANUAL    error: boom") {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}

func TestAssertionsHoldWhenTheTrailAgrees(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	k.Given(
		audit.Entry{Stage: "app", ChangeID: "create-users", State: audit.StateApplied, Strategy: audit.StrategySharedTx},
		audit.Entry{Stage: "app", ChangeID: "flag-on", State: audit.StateFailed, Strategy: audit.StrategyNonTx, ErrorMessage: "boom"},
		audit.Entry{Stage: "app", ChangeID: "seed-admin", State: audit.StateRolledBack, Strategy: audit.StrategySharedTx},
	)
	r.do(func() {
		for _, ok := range []bool{
			k.AssertApplied("create-users"),
			k.AssertPending("seed-admin", "never-ran"),
			k.AssertIssue("flag-on", "partly taken effect"),
			k.AssertIssue("flag-on", ""),
			k.AssertTrail("app", "flag-on", audit.StateFailed),
			k.AssertTrail("app", "never-ran"),
		} {
			if !ok {
				t.Error("an assertion returned false")
			}
		}
	})
	if r.failed() {
		t.Errorf("the kit reported:\n%s", r.failures())
	}
}

func TestRoundTripChecksEveryChangeWithARollback(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	rep := k.RoundTrip(a.snapshot, stage)
	if diff := cmp.Diff([]string{"create-users", "flag-on"}, rep.Checked); diff != "" {
		t.Errorf("checked (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]flamingocktest.Unchecked{{ChangeID: "seed-admin", Reason: "declares no rollback"}}, rep.Unchecked); diff != "" {
		t.Errorf("unchecked (-want +got):\n%s", diff)
	}
	k.AssertApplied("create-users", "seed-admin", "flag-on")
	k.AssertTrail("app", "create-users", audit.StateApplied, audit.StateRolledBack, audit.StateApplied)
	k.AssertTrail("app", "seed-admin", audit.StateApplied)
	if n := a.count("flag-on rollback"); n != 1 {
		t.Errorf("flag-on's rollback ran %d times, want once", n)
	}
}

func TestRoundTripNamesTheChangeWhoseRollbackIsNoInverse(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	a := newApp(k)
	stage := a.stage(k, stageOptions{badUndo: true})
	var rep flamingocktest.RoundTripReport
	if !r.do(func() { rep = k.RoundTrip(a.snapshot, stage) }) {
		t.Fatalf("RoundTrip stopped the test: %s", r.fatal)
	}
	if len(r.errors) != 1 {
		t.Fatalf("errors: %q, want one", r.errors)
	}
	for _, want := range []string{`the rollback of change "flag-on" is not its inverse`, `"flags on": []string{"signup"}`} {
		if !strings.Contains(r.errors[0], want) {
			t.Errorf("error lacks %q:\n%s", want, r.errors[0])
		}
	}
	if !strings.Contains(strings.Join(r.logs, "\n"), `change "seed-admin" not checked: declares no rollback`) {
		t.Errorf("logs lack the unchecked change:\n%s", strings.Join(r.logs, "\n"))
	}
	if diff := cmp.Diff([]string{"create-users", "flag-on"}, rep.Checked); diff != "" {
		t.Errorf("checked (-want +got):\n%s", diff)
	}
}

func TestRoundTripWithoutASnapshotChecksThatRollbacksRun(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	a := newApp(k)
	var rep flamingocktest.RoundTripReport
	r.do(func() { rep = k.RoundTrip(nil, a.stage(k, stageOptions{badUndo: true})) })
	if r.failed() {
		t.Errorf("the kit reported:\n%s", r.failures())
	}
	if len(rep.Checked) != 2 || !strings.Contains(strings.Join(r.logs, "\n"), "without a snapshot") {
		t.Errorf("checked %v, logs %q", rep.Checked, r.logs)
	}
}

func TestRoundTripLeavesOutTheChangesAppliedBefore(t *testing.T) {
	k := flamingocktest.New(t)
	a := newApp(k)
	stage := a.stage(k, stageOptions{})
	k.Run(k.Through(stage, "create-users"))
	rep := k.RoundTrip(a.snapshot, stage)
	want := []flamingocktest.Unchecked{{"create-users", "applied before the round trip"}, {"seed-admin", "declares no rollback"}}
	if diff := cmp.Diff(want, rep.Unchecked); diff != "" {
		t.Errorf("unchecked (-want +got):\n%s", diff)
	}
}

func TestRoundTripReportsASnapshotGoCmpCannotCompare(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	a := newApp(k)
	type opaque struct{ n int }
	r.do(func() {
		k.RoundTrip(func(context.Context) (any, error) { return opaque{len(a.flags.snapshot())}, nil }, a.stage(k, stageOptions{}))
	})
	if !strings.Contains(r.failures(), "the snapshots cannot be compared") {
		t.Errorf("failures:\n%s", r.failures())
	}
}

func TestWithStoreRunsOnTheTestsStoreAndLeavesItOpen(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "own.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	t.Run("the kit", func(t *testing.T) {
		k := flamingocktest.New(t, flamingocktest.WithStore(store))
		if k.Store() != audit.Store(store) {
			t.Errorf("Store() = %v, want the test's", k.Store())
		}
		k.Given(audit.Entry{Stage: "app", ChangeID: "x", State: audit.StateApplied, Strategy: audit.StrategyNonTx})
	})
	entries, err := store.Snapshot(t.Context())
	if err != nil || len(entries) != 1 {
		t.Errorf("the test's store after the kit's test: %v, %v; want it open with one entry", entries, err)
	}

	r := record(t)
	k := flamingocktest.New(r, flamingocktest.WithStore(store))
	if r.do(func() { k.SQLite() }) || !strings.Contains(r.fatal, "not a temporary SQLite store") {
		t.Errorf("SQLite() on the test's store: fatal %q", r.fatal)
	}
}

func TestAGeneratedStageEditedByHandFailsTheTest(t *testing.T) {
	r := record(t)
	k := flamingocktest.New(r)
	a := newApp(k)
	hand := a.stage(k, stageOptions{})
	stage := pipeline.Stage{Name: "app", Generated: &pipeline.Generated{Digest: "0000", Len: 3, Changes: func() []pipeline.Change { return hand.Changes }}}
	if r.do(func() { k.Through(stage, "seed-admin") }) || !strings.Contains(r.fatal, "it was edited by hand; run go generate") {
		t.Errorf("Through of an edited stage: fatal %q", r.fatal)
	}
}

func TestAKitNotMadeByNewSaysSo(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "flamingocktest.New(t)") {
			t.Errorf("panic %v, want one naming New", p)
		}
	}()
	var k flamingocktest.Kit
	k.AssertApplied("x")
}

// outcomes lists a run's outcomes as "id status".
func outcomes(res *pipeline.Result) []string {
	var out []string
	for _, o := range res.Changes() {
		out = append(out, o.ChangeID+" "+string(o.Status))
	}
	return out
}
