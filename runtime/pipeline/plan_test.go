package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestPlanReportsEveryDecisionAndRunsNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	oldSum := seedEntry("s1", "i", audit.StateApplied, shared, manual)
	oldSum.Checksum = "sum-old"
	e.seed(
		seedEntry("s1", "a", audit.StateApplied, shared, manual),
		seedEntry("s1", "b", audit.StateStarted, separate, manual),
		seedEntry("s1", "d", audit.StateStarted, nonTx, manual),
		seedEntry("s1", "e", audit.StateStarted, nonTx, retry),
		seedEntry("s1", "e", audit.StateFailed, nonTx, retry),
		seedEntry("s1", "f", audit.StateManualApplied, nonTx, manual),
		seedEntry("s1", "g", audit.StateRolledBack, nonTx, manual),
		seedEntry("s1", "h", audit.StateFailed, shared, manual),
		oldSum,
	)
	e.seedMarker("s1", "b", seedExec)
	specs := []spec{
		{id: "a", strategy: shared}, {id: "b", strategy: separate}, {id: "c", strategy: shared},
		{id: "d", strategy: nonTx}, {id: "e", strategy: nonTx}, {id: "f", strategy: nonTx},
		{id: "g", strategy: nonTx}, {id: "h", strategy: shared}, {id: "i", strategy: shared},
	}
	for i := range specs {
		specs[i].order = uint64(i + 1)
	}
	r := e.runner([]pipeline.Stage{e.stage("s1", specs...)})
	// Plan takes no lock: it works while another runner holds it.
	other, err := e.store.Acquire(ctx, lockKey, "other-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]int{}
	for _, s := range specs {
		before[s.id] = len(e.history("s1", s.id))
	}

	p, err := r.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}

	type decision struct {
		ID     string
		Action pipeline.Action
		Reason string
	}
	var got []decision
	for _, c := range p.Changes {
		got = append(got, decision{c.ChangeID, c.Action, c.Reason})
	}
	const at = "2025-03-01T10:00:00Z by runner old-runner"
	want := []decision{
		{"a", pipeline.ActionSkip, "applied at " + at},
		{"b", pipeline.ActionRecover, "STARTED at " + at + `; the marker in target "otherdb" shows its transaction committed`},
		{"c", pipeline.ActionApply, "never applied"},
		{"d", pipeline.ActionIssue, "STARTED at " + at + "; it ran without a transaction and its outcome was not recorded, so whether it took effect is unknown" +
			"; recovery manual: an operator must resolve it" +
			"; runner other-runner holds the lock until " + other.ExpiresAt.Format(time.RFC3339) + ", so the change may still be running"},
		{"e", pipeline.ActionApply, "FAILED at " + at + " (error: connection reset); it failed without a transaction, so it may have partly taken effect" +
			"; recovery retry: applying it again"},
		{"f", pipeline.ActionSkip, "marked as applied at 2025-03-01T10:00:00Z by ops@example.com: checked by hand"},
		{"g", pipeline.ActionApply, "rolled back at " + at},
		{"h", pipeline.ActionApply, "FAILED at " + at + " (error: connection reset) inside a transaction the database rolled back"},
		{"i", pipeline.ActionSkip, "applied at " + at + "; its source changed since (checksum sum-old, now sum-i) and is not applied again"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}

	var pending []string
	for _, c := range p.Pending() {
		pending = append(pending, c.ChangeID)
	}
	if diff := cmp.Diff([]string{"b", "c", "e", "g", "h"}, pending); diff != "" {
		t.Errorf("Pending() (-want +got):\n%s", diff)
	}
	issues := p.Issues()
	if len(issues) != 1 || issues[0].ChangeID != "d" || issues[0].Latest.State != audit.StateStarted || len(issues[0].Resolutions) != 2 {
		t.Errorf("Issues() = %+v, want one for d with two resolutions", issues)
	}
	if p.Changes[0].Latest == nil || p.Changes[0].Latest.State != audit.StateApplied || p.Changes[2].Latest != nil {
		t.Errorf("Latest entries not reported: a=%v c=%v", p.Changes[0].Latest, p.Changes[2].Latest)
	}
	if p.Lock.Owner != "other-runner" {
		t.Errorf("Plan.Lock = %+v, want the other runner's lock", p.Lock)
	}

	// Nothing ran, nothing was written, the lock is untouched.
	for _, s := range specs {
		if n := e.ran(s.id); n != 0 {
			t.Errorf("%s ran %d times during Plan", s.id, n)
		}
		if n := len(e.history("s1", s.id)); n != before[s.id] {
			t.Errorf("%s has %d entries after Plan, want %d", s.id, n, before[s.id])
		}
	}
	if !e.hasMarker("s1", "b", seedExec) {
		t.Error("Plan cleared a marker")
	}
	if l := e.lock(); l.Owner != "other-runner" || l.Epoch != other.Epoch {
		t.Errorf("lock after Plan = %+v, want it untouched", l)
	}
}

func TestPlanDoesNotReportAnEditRecordedAsCosmetic(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var seeded []audit.Entry
	for _, id := range []string{"cosmetic", "edited"} {
		en := seedEntry("s1", id, audit.StateApplied, audit.StrategySharedTx, audit.RecoveryManual)
		en.Checksum = "sum-old"
		seeded = append(seeded, en)
	}
	e.seed(seeded...)
	r := e.runner([]pipeline.Stage{e.stage("s1",
		spec{id: "cosmetic", order: 1, strategy: audit.StrategySharedTx, equivalent: []string{"sum-older", "sum-old"}},
		spec{id: "edited", order: 2, strategy: audit.StrategySharedTx, equivalent: []string{"sum-older"}},
	)})
	p, err := r.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const at = "applied at 2025-03-01T10:00:00Z by runner old-runner"
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.Reason)
	}
	want := []string{at, at + "; its source changed since (checksum sum-old, now sum-edited) and is not applied again"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}
