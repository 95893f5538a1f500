package operate_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/operate"
)

func TestResolveWithForceMarksAChangeThatNeverRanApplied(t *testing.T) {
	for _, tc := range []struct {
		name      string
		seed      []audit.Entry
		stage     string
		order     audit.Order
		wantStage string
	}{
		{name: "in the trail's only stage", seed: []audit.Entry{entry("app", "create-table", 1, audit.StateApplied)},
			order: audit.OrderOf(2), wantStage: "app"},
		{name: "in the stage given", seed: []audit.Entry{entry("app", "create-table", 1, audit.StateApplied), entry("search", "index", 1, audit.StateApplied)},
			stage: "search", wantStage: "search"},
		{name: "in an empty trail, in the stage given", stage: "app", order: audit.MustParseOrder("20240101120000000000001"), wantStage: "app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, seed(t, tc.seed...))
			got, err := s.Resolve(t.Context(), operate.Mark{
				ChangeID: "add-email", Stage: tc.stage, Order: tc.order, State: audit.StateManualApplied,
				Operator: "alice@ops", Reason: "the column was added by hand", Force: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			want := audit.Entry{
				Stage: tc.wantStage, ChangeID: "add-email", Order: tc.order, State: audit.StateManualApplied,
				Time: s.Now(), Host: "ops-laptop", Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual,
				Operator: "alice@ops", Reason: "the column was added by hand",
			}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(audit.Entry{}, "Seq", "ExecutionID", "RunnerID"), cmp.AllowUnexported(audit.Order{})); diff != "" {
				t.Errorf("entry (-want +got):\n%s", diff)
			}
			if h := history(t, s, "add-email"); len(h) != 1 {
				t.Errorf("history = %d entries, want 1", len(h))
			}
			if l, err := s.Lock(t.Context()); err != nil || l.Held() {
				t.Errorf("lock = %+v, %v: want released", l, err)
			}
		})
	}
}

func TestResolveOfAChangeThatNeverRanRefusesWritingNothing(t *testing.T) {
	two := []audit.Entry{entry("app", "create-table", 1, audit.StateApplied), entry("search", "index", 1, audit.StateApplied)}
	for _, tc := range []struct {
		name string
		seed []audit.Entry
		mark operate.Mark
		want string
	}{
		{"without --force", two[:1], operate.Mark{ChangeID: "add-email", State: audit.StateManualApplied},
			`no change "add-email" in the audit trail of sqlite:`},
		{"without --force, the hint", two[:1], operate.Mark{ChangeID: "add-email", State: audit.StateManualApplied},
			"if it never ran and its effects are in place, add --force to mark it applied"},
		{"several stages and none given", two, operate.Mark{ChangeID: "add-email", State: audit.StateManualApplied, Force: true},
			`change "add-email" has no entry, and the audit trail of sqlite:` + "\x00" + `records stages "app", "search": add --stage NAME`},
		{"an empty trail and no stage given", nil, operate.Mark{ChangeID: "add-email", State: audit.StateManualApplied, Force: true},
			"records no stage yet: add --stage NAME"},
		{"marked rolled back", two[:1], operate.Mark{ChangeID: "add-email", State: audit.StateManualRolledBack, Force: true},
			`change "add-email" has no entry: the next run applies it anyway; nothing to mark rolled back`},
		{"recorded under another stage", two, operate.Mark{ChangeID: "index", Stage: "app", State: audit.StateManualApplied, Force: true},
			`change "index" is recorded in stage "search", not "app": check --stage`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, seed(t, tc.seed...))
			m := tc.mark
			m.Operator, m.Reason = "alice@ops", "checked"
			_, err := s.Resolve(t.Context(), m)
			if err == nil {
				t.Fatal("Resolve succeeded")
			}
			for _, part := range strings.Split(tc.want, "\x00") {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Resolve = %v, want it to say %q", err, part)
				}
			}
			all, _, err := s.Snapshot(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(tc.seed) {
				t.Errorf("trail holds %d changes, want the %d seeded", len(all), len(tc.seed))
			}
		})
	}
}
