package audit_test

import (
	stdcmp "cmp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

func TestAssess(t *testing.T) {
	const at = "2025-03-01T10:00:00Z"
	entry := func(st audit.State, s audit.Strategy, r audit.Recovery, errMsg string) audit.Entry {
		e := audit.Entry{
			ExecutionID: "exec-1", Stage: "s1", ChangeID: "c1", State: st,
			Time:     time.Date(2025, 3, 1, 11, 0, 0, 0, time.FixedZone("CET", 3600)),
			RunnerID: "r1", TargetID: "flags", Strategy: s, Recovery: r, ErrorMessage: errMsg,
		}
		if st == audit.StateManualApplied || st == audit.StateManualRolledBack {
			e.Operator, e.Reason = "alice@ops", "checked the flag console"
		}
		return e
	}
	const (
		manual   = audit.RecoveryManual
		retry    = audit.RecoveryRetry
		shared   = audit.StrategySharedTx
		separate = audit.StrategySeparateTx
		nonTx    = audit.StrategyNonTx
	)
	const (
		partly     = "it failed without a transaction, so it may have partly taken effect"
		unrecorded = "it ran without a transaction and its outcome was not recorded, so whether it took effect is unknown"
		undone     = "its rollback failed, so the change may be partly undone"
		implicitly = "it ran in a transaction shared with the audit store, and its STARTED entry, written inside that transaction, was committed without an outcome, " +
			"as happens when the database commits the transaction by itself part-way through the change (an implicit commit, as MySQL's and MariaDB's before and after DDL): it may have partly taken effect"
		toOperator = "; recovery manual: an operator must resolve it"
		again      = "; recovery retry: applying it again"
	)
	tests := []struct {
		name    string
		latest  audit.Entry
		verdict audit.Verdict
		problem string
		reason  string
	}{
		{"an APPLIED change is done", entry(audit.StateApplied, nonTx, manual, ""),
			audit.VerdictDone, "", "applied at " + at + " by runner r1"},
		{"an APPLIED change without a runner id names the runner unknown", func() audit.Entry {
			e := entry(audit.StateApplied, shared, manual, "")
			e.RunnerID = ""
			return e
		}(), audit.VerdictDone, "", "applied at " + at + " by runner (unknown)"},
		{"a change marked as applied is done, and says who marked it and why", entry(audit.StateManualApplied, nonTx, manual, ""),
			audit.VerdictDone, "", "marked as applied at " + at + " by alice@ops: checked the flag console"},
		{"a ROLLED_BACK change is pending", entry(audit.StateRolledBack, nonTx, manual, ""),
			audit.VerdictPending, "", "rolled back at " + at + " by runner r1"},
		{"a change marked as rolled back is pending, and says who marked it and why", entry(audit.StateManualRolledBack, nonTx, manual, ""),
			audit.VerdictPending, "", "marked as rolled back at " + at + " by alice@ops: checked the flag console"},
		{"a change FAILED in a shared transaction is pending even with recovery manual", entry(audit.StateFailed, shared, manual, "boom"),
			audit.VerdictPending, "", "FAILED at " + at + " by runner r1 (error: boom) inside a transaction the database rolled back"},
		{"a change FAILED in a separate transaction is pending even with recovery manual", entry(audit.StateFailed, separate, manual, "boom"),
			audit.VerdictPending, "", "FAILED at " + at + " by runner r1 (error: boom) inside a transaction the database rolled back"},
		{"a change STARTED in a separate transaction is for the marker to decide", entry(audit.StateStarted, separate, manual, ""),
			audit.VerdictMarkerDecides, "", "STARTED at " + at + ` by runner r1; it ran in a separate transaction: the next run records it APPLIED if the marker in target "flags" shows the transaction committed, and applies it again otherwise`},
		{"a change STARTED in a separate transaction is for the marker to decide whatever its recovery", entry(audit.StateStarted, separate, retry, ""),
			audit.VerdictMarkerDecides, "", "STARTED at " + at + ` by runner r1; it ran in a separate transaction: the next run records it APPLIED if the marker in target "flags" shows the transaction committed, and applies it again otherwise`},
		{"a change FAILED without a transaction is an issue with recovery manual", entry(audit.StateFailed, nonTx, manual, "connection reset"),
			audit.VerdictIssue, partly, "FAILED at " + at + " by runner r1 (error: connection reset); " + partly + toOperator},
		{"a change FAILED without a transaction is pending with recovery retry", entry(audit.StateFailed, nonTx, retry, "connection reset"),
			audit.VerdictPending, partly, "FAILED at " + at + " by runner r1 (error: connection reset); " + partly + again},
		{"a change STARTED without a transaction is an issue with recovery manual", entry(audit.StateStarted, nonTx, manual, ""),
			audit.VerdictIssue, unrecorded, "STARTED at " + at + " by runner r1; " + unrecorded + toOperator},
		{"a change STARTED without a transaction is pending with recovery retry", entry(audit.StateStarted, nonTx, retry, ""),
			audit.VerdictPending, unrecorded, "STARTED at " + at + " by runner r1; " + unrecorded + again},
		{"a STARTED entry under a shared transaction, committed by the database on its own, is an issue with recovery manual", entry(audit.StateStarted, shared, manual, ""),
			audit.VerdictIssue, implicitly, "STARTED at " + at + " by runner r1; " + implicitly + toOperator},
		{"a STARTED entry under a shared transaction is pending with recovery retry", entry(audit.StateStarted, shared, retry, ""),
			audit.VerdictPending, implicitly, "STARTED at " + at + " by runner r1; " + implicitly + again},
		{"a ROLLBACK_FAILED change is an issue with recovery manual", entry(audit.StateRollbackFailed, nonTx, manual, "delete failed"),
			audit.VerdictIssue, undone, "ROLLBACK_FAILED at " + at + " by runner r1 (error: delete failed); " + undone + toOperator},
		{"a ROLLBACK_FAILED change is pending with recovery retry", entry(audit.StateRollbackFailed, nonTx, retry, "delete failed"),
			audit.VerdictPending, undone, "ROLLBACK_FAILED at " + at + " by runner r1 (error: delete failed); " + undone + again},
		{"a change whose undo failed in a transaction is done, even with recovery retry", entry(audit.StateRollbackFailed, shared, retry, "delete failed"),
			audit.VerdictDone, "", "ROLLBACK_FAILED at " + at + " by runner r1 (error: delete failed) inside a transaction the database rolled back, so the change is still applied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := audit.Assess(tt.latest)
			what := string(tt.latest.State) + " at " + at + " by runner " + stdcmp.Or(tt.latest.RunnerID, "(unknown)")
			if tt.latest.ErrorMessage != "" {
				what += " (error: " + tt.latest.ErrorMessage + ")"
			}
			want := audit.Assessment{Verdict: tt.verdict, Latest: tt.latest, What: what, Problem: tt.problem, Reason: tt.reason}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Assess (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAssessWithoutMarker(t *testing.T) {
	const problem = "it ran in a separate transaction, but its target no longer keeps markers to tell whether it committed"
	started := audit.Entry{
		ExecutionID: "exec-1", Stage: "s1", ChangeID: "c1", State: audit.StateStarted,
		Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), RunnerID: "r1", Strategy: audit.StrategySeparateTx,
	}
	t.Run("with recovery manual the change becomes an issue", func(t *testing.T) {
		e := started
		e.Recovery = audit.RecoveryManual
		got := audit.Assess(e).WithoutMarker()
		want := audit.Assessment{Verdict: audit.VerdictIssue, Latest: e, Problem: problem,
			What:   "STARTED at 2025-03-01T10:00:00Z by runner r1",
			Reason: "STARTED at 2025-03-01T10:00:00Z by runner r1; " + problem + "; recovery manual: an operator must resolve it"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("WithoutMarker (-want +got):\n%s", diff)
		}
	})
	t.Run("with recovery retry the change is pending", func(t *testing.T) {
		e := started
		e.Recovery = audit.RecoveryRetry
		got := audit.Assess(e).WithoutMarker()
		if got.Verdict != audit.VerdictPending || got.Problem != problem {
			t.Errorf("WithoutMarker = %+v, want pending with problem %q", got, problem)
		}
	})
	t.Run("an assessment the marker does not decide is left alone", func(t *testing.T) {
		e := started
		e.State, e.Strategy, e.Recovery = audit.StateFailed, audit.StrategyNonTx, audit.RecoveryManual
		a := audit.Assess(e)
		if diff := cmp.Diff(a, a.WithoutMarker()); diff != "" {
			t.Errorf("WithoutMarker changed a %s assessment (-before +after):\n%s", a.Verdict, diff)
		}
	})
}

func TestAssessGivesEveryEntryAVerdict(t *testing.T) {
	states := []audit.State{audit.StateStarted, audit.StateApplied, audit.StateFailed, audit.StateRolledBack,
		audit.StateRollbackFailed, audit.StateManualApplied, audit.StateManualRolledBack}
	for _, st := range states {
		for _, s := range []audit.Strategy{audit.StrategySharedTx, audit.StrategySeparateTx, audit.StrategyNonTx} {
			for _, r := range []audit.Recovery{audit.RecoveryManual, audit.RecoveryRetry} {
				a := audit.Assess(audit.Entry{State: st, Strategy: s, Recovery: r, Time: time.Unix(0, 0)})
				switch a.Verdict {
				case audit.VerdictDone, audit.VerdictPending, audit.VerdictMarkerDecides, audit.VerdictIssue:
				default:
					t.Errorf("Assess(%s, %s, %s) = verdict %q", st, s, r, a.Verdict)
				}
				if a.Reason == "" {
					t.Errorf("Assess(%s, %s, %s) gives no reason", st, s, r)
				}
				if (a.Verdict == audit.VerdictIssue) != (a.Problem != "" && r == audit.RecoveryManual) {
					t.Errorf("Assess(%s, %s, %s) = %s with problem %q: an issue needs a problem and recovery manual", st, s, r, a.Verdict, a.Problem)
				}
			}
		}
	}
}

func TestResolutions(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		storeArgs []string
		want      []string
	}{
		{"plain words are printed as they are", "add-index", []string{"--store", "sqlite:app.db"}, []string{
			`flamingock audit fix add-index --resolution applied --reason "describe what you checked" --store sqlite:app.db`,
			`flamingock audit fix add-index --resolution rolled-back --reason "describe what you checked" --store sqlite:app.db`,
		}},
		{"words a shell would split or expand are quoted", "it's mine", []string{"--store", "postgres://ops@db/app?sslmode=require&x=1", "--schema", "ops"}, []string{
			`flamingock audit fix 'it'\''s mine' --resolution applied --reason "describe what you checked" --store 'postgres://ops@db/app?sslmode=require&x=1' --schema ops`,
			`flamingock audit fix 'it'\''s mine' --resolution rolled-back --reason "describe what you checked" --store 'postgres://ops@db/app?sslmode=require&x=1' --schema ops`,
		}},
		{"no store arguments leave the command to FLAMINGOCK_STORE", "c1", nil, []string{
			`flamingock audit fix c1 --resolution applied --reason "describe what you checked"`,
			`flamingock audit fix c1 --resolution rolled-back --reason "describe what you checked"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range audit.Resolutions(tt.id, tt.storeArgs...) {
				got = append(got, r.Command)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("each resolution names the state it records and what the next run does", func(t *testing.T) {
		type res struct{ Name, State, Effect string }
		var got []res
		for _, r := range audit.Resolutions("c1") {
			got = append(got, res{r.Name, string(r.State), r.Effect})
		}
		want := []res{
			{"applied", "MANUAL_MARKED_AS_APPLIED", "if its effects are in place, mark it applied; the next run skips it:"},
			{"rolled-back", "MANUAL_MARKED_AS_ROLLED_BACK", "if it had no effect or you undid it, mark it rolled back; the next run applies it again:"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("resolutions (-want +got):\n%s", diff)
		}
	})
}
