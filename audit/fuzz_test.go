package audit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// FuzzAssess checks the decision table on arbitrary entries: Assess never
// panics, and an entry it cannot vouch for (an unknown state, strategy or
// recovery) is never done and never run again unless its recovery is
// exactly retry.
func FuzzAssess(f *testing.F) {
	for _, st := range []audit.State{audit.StateStarted, audit.StateApplied, audit.StateFailed, audit.StateRolledBack,
		audit.StateRollbackFailed, audit.StateManualApplied, audit.StateManualRolledBack, "DONE", ""} {
		for _, s := range []audit.Strategy{audit.StrategySharedTx, audit.StrategySeparateTx, audit.StrategyNonTx, "LATER"} {
			f.Add(string(st), string(s), string(audit.RecoveryManual), "boom", "op", "why", int64(1700000000), `{"a":1}`)
			f.Add(string(st), string(s), string(audit.RecoveryRetry), "", "", "", int64(-62135596800), "")
		}
	}
	f.Add("STARTED", "SEPARATE_TX", "retry", "\x00", "", "", int64(1<<62), "[1]")
	f.Fuzz(func(t *testing.T, state, strategy, recovery, errMsg, operator, reason string, unix int64, metadata string) {
		e := audit.Entry{
			ExecutionID: "x", Stage: "s", ChangeID: "c", State: audit.State(state), Time: time.Unix(unix, 0),
			Strategy: audit.Strategy(strategy), Recovery: audit.Recovery(recovery), ErrorMessage: errMsg,
			Operator: operator, Reason: reason, Metadata: json.RawMessage(metadata),
		}
		if e.Validate() == nil && (!e.State.Valid() || !e.Strategy.Valid() || !e.Recovery.Valid()) {
			t.Fatalf("Validate accepted %+v", e)
		}
		a := audit.Assess(e)
		if a.Reason == "" || a.What == "" {
			t.Errorf("assessment of %+v explains nothing: %+v", e, a)
		}
		switch a.Verdict {
		case audit.VerdictDone:
			undoRolledBack := e.State == audit.StateRollbackFailed && (e.Strategy == audit.StrategySharedTx || e.Strategy == audit.StrategySeparateTx)
			if e.State != audit.StateApplied && e.State != audit.StateManualApplied && !undoRolledBack {
				t.Errorf("state %q strategy %q assessed done", e.State, e.Strategy)
			}
		case audit.VerdictMarkerDecides:
			if e.State != audit.StateStarted || e.Strategy != audit.StrategySeparateTx {
				t.Errorf("state %q strategy %q left to a marker", e.State, e.Strategy)
			}
			if w := a.WithoutMarker(); w.Verdict != audit.VerdictIssue && w.Verdict != audit.VerdictPending {
				t.Errorf("without a marker: verdict %q", w.Verdict)
			}
		case audit.VerdictPending:
			certain := e.State == audit.StateRolledBack || e.State == audit.StateManualRolledBack ||
				(e.State == audit.StateFailed && (e.Strategy == audit.StrategySharedTx || e.Strategy == audit.StrategySeparateTx))
			if !certain && e.Recovery != audit.RecoveryRetry {
				t.Errorf("state %q strategy %q recovery %q applied again without recovery retry", e.State, e.Strategy, e.Recovery)
			}
		case audit.VerdictIssue:
			if a.Problem == "" {
				t.Errorf("issue without a problem: %+v", a)
			}
		default:
			t.Errorf("unknown verdict %q", a.Verdict)
		}
	})
}
