package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestBaselineMarksEveryChangeUpToOneAsApplied(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(seedEntry("s1", "a", audit.StateApplied, audit.StrategyNonTx, audit.RecoveryManual))
	r := e.runner([]pipeline.Stage{
		e.stage("s1", nonTxSpecs("a", "b", "c")...),
		e.stage("s2", spec{id: "d", order: 1, strategy: audit.StrategySharedTx}, spec{id: "e", order: 2, strategy: audit.StrategySharedTx}),
	})
	res, err := r.Baseline(ctx, "d", "ops@example.com", "schema created by hand in 2023")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=marked", "s1/c=marked", "s2/d=marked"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	h := e.history("s2", "d")
	if len(h) != 1 {
		t.Fatalf("history of d = %v, want one entry", states(h))
	}
	d := h[0]
	if d.State != audit.StateManualApplied || d.Operator != "ops@example.com" || d.Reason != "schema created by hand in 2023" ||
		d.Checksum != "sum-d" || d.ExecutionID != res.ExecutionID || !jsonEqual(d.Metadata, json.RawMessage(`{"baseline":{"through":"d"}}`)) {
		t.Errorf("entry of d = %+v, want MANUAL_MARKED_AS_APPLIED by the operator, with the reason, the checksum and {\"baseline\":{\"through\":\"d\"}}", d)
	}
	if h := e.history("s2", "e"); len(h) != 0 {
		t.Errorf("history of e = %v, want none: it is after the baseline", states(h))
	}

	// Again: nothing more to mark, nothing written.
	before, err := e.store.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err = r.Baseline(ctx, "d", "ops@example.com", "again")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Count(pipeline.StatusSkipped); got != 4 {
		t.Errorf("second baseline skipped %d changes, want 4: %v", got, statuses(res))
	}
	after, err := e.store.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if maxSeqOf(after) != maxSeqOf(before) {
		t.Errorf("second baseline wrote to the trail")
	}

	// The run applies only what is after the baseline.
	res, err = r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=skipped", "s1/c=skipped", "s2/d=skipped", "s2/e=applied"}, statuses(res)); diff != "" {
		t.Errorf("run after the baseline (-want +got):\n%s", diff)
	}
	for _, id := range []string{"b", "c", "d"} {
		if n := e.ran(id); n != 0 {
			t.Errorf("change %s ran %d times, want 0", id, n)
		}
	}
}

func maxSeqOf(entries []audit.Entry) int64 {
	var m int64
	for _, e := range entries {
		m = max(m, e.Seq)
	}
	return m
}

func TestBaselineRefusesWritingNothing(t *testing.T) {
	for _, tc := range []struct {
		name             string
		seed             []audit.Entry
		through, op, why string
		is               error
		want             string
	}{
		{name: "an unknown change", through: "zz", op: "o", why: "r", is: pipeline.ErrUnknownChange, want: `change "zz"`},
		{name: "no operator", through: "c", why: "r", want: "an operator and a reason"},
		{name: "no reason", through: "c", op: "o", want: "an operator and a reason"},
		{name: "a change rolled back", through: "c", op: "o", why: "r", is: pipeline.ErrBaselineRefused,
			seed: []audit.Entry{seedEntry("s1", "b", audit.StateRolledBack, audit.StrategyNonTx, audit.RecoveryManual)},
			want: `change "b" (stage "s1"): ROLLED_BACK: baseline marks only changes that never ran`},
		{name: "a change that failed in a transaction", through: "c", op: "o", why: "r", is: pipeline.ErrBaselineRefused,
			seed: []audit.Entry{seedEntry("s1", "a", audit.StateFailed, audit.StrategySharedTx, audit.RecoveryManual)},
			want: `change "a" (stage "s1"): FAILED`},
		{name: "an issue", through: "c", op: "o", why: "r", is: pipeline.ErrBaselineRefused,
			seed: []audit.Entry{seedEntry("s1", "c", audit.StateStarted, audit.StrategyNonTx, audit.RecoveryManual)},
			want: `change "c" (stage "s1"): STARTED: resolve its issue first (flamingock audit fix c`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			e.seed(tc.seed...)
			r := e.runner([]pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b", "c", "d")...)})
			_, err := r.Baseline(ctx, tc.through, tc.op, tc.why)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Baseline = %v, want an error matching %v saying %q", err, tc.is, tc.want)
			}
			snap, err := e.store.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(snap) != len(tc.seed) {
				t.Errorf("trail holds %d changes, want the %d seeded: nothing written", len(snap), len(tc.seed))
			}
		})
	}
}

// A mark an operator recorded for a change that never ran, from the trail
// alone (flamingock audit fix --force), knows neither the change's
// checksum nor, unless told, its order: it is applied, not a drift.
func TestAManualMarkWithoutChecksumOrWithAnotherOrderCountsAsApplied(t *testing.T) {
	e := newEnv(t)
	noSum := seedEntry("s1", "a", audit.StateManualApplied, audit.StrategyNonTx, audit.RecoveryManual)
	noSum.Checksum, noSum.Order, noSum.TargetID, noSum.Author = "", audit.Order{}, "", ""
	otherOrder := seedEntry("s1", "b", audit.StateManualApplied, audit.StrategyNonTx, audit.RecoveryManual)
	otherOrder.Checksum, otherOrder.Order = "", audit.OrderOf(99)
	e.seed(noSum, otherOrder)
	r := e.runner([]pipeline.Stage{e.stage("s1", nonTxSpecs("a", "b", "c")...)})
	p, err := r.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Drift(); len(d) != 0 {
		t.Errorf("plan drift = %v, want none", d)
	}
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=skipped", "s1/c=applied"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if len(res.Drift) != 0 || e.ran("a")+e.ran("b") != 0 {
		t.Errorf("drift %v, a and b ran %d times: want no drift, not run", res.Drift, e.ran("a")+e.ran("b"))
	}
}
