package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

func TestUnderLock(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 30, 0, time.UTC)
	started := audit.Entry{ExecutionID: "x", Stage: "app", ChangeID: "publish-flags", State: audit.StateStarted,
		Time: now.Add(-10 * time.Second), RunnerID: "web-1-42", TargetID: "flags",
		Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual}
	held := audit.LockInfo{Key: "flamingock", Owner: "web-1-42", Epoch: 3, ExpiresAt: now.Add(time.Minute), Now: now}
	with := func(f func(*audit.LockInfo)) audit.LockInfo {
		l := held
		f(&l)
		return l
	}
	tests := []struct {
		name  string
		entry audit.Entry
		lock  audit.LockInfo
		want  audit.Verdict
	}{
		{"STARTED by the runner holding the lock is running", started, held, audit.VerdictRunning},
		{"STARTED under an expired lease is an issue", started, with(func(l *audit.LockInfo) { l.ExpiresAt = now.Add(-time.Second) }), audit.VerdictIssue},
		{"STARTED under a released lease is an issue", started, with(func(l *audit.LockInfo) { l.Owner = "" }), audit.VerdictIssue},
		{"STARTED while another runner holds the lock is an issue", started, with(func(l *audit.LockInfo) { l.Owner = "web-2-7" }), audit.VerdictIssue},
		{"a lock never acquired changes nothing", started, audit.LockInfo{Key: "flamingock", Now: now}, audit.VerdictIssue},
		{"STARTED with recovery retry, in flight, is running", func() audit.Entry { e := started; e.Recovery = audit.RecoveryRetry; return e }(), held, audit.VerdictRunning},
		{"STARTED in a separate transaction, in flight, is running", func() audit.Entry { e := started; e.Strategy = audit.StrategySeparateTx; return e }(), held, audit.VerdictRunning},
		{"FAILED under the holder's lease stays an issue", func() audit.Entry { e := started; e.State = audit.StateFailed; return e }(), held, audit.VerdictIssue},
		{"APPLIED under the holder's lease stays done", func() audit.Entry { e := started; e.State = audit.StateApplied; return e }(), held, audit.VerdictDone},
		{"an entry without a runner is never running", func() audit.Entry { e := started; e.RunnerID = ""; return e }(), with(func(l *audit.LockInfo) { l.Owner = "" }), audit.VerdictIssue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := audit.Assess(tt.entry).UnderLock(tt.lock)
			if a.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s (%s)", a.Verdict, tt.want, a.Reason)
			}
			if a.Verdict == audit.VerdictRunning {
				if a.Problem != "" {
					t.Errorf("a running change has a problem: %q", a.Problem)
				}
				if !strings.Contains(a.Reason, `holds lock "flamingock" until 2025-03-01T10:01:30Z`) {
					t.Errorf("reason %q does not say who holds the lock until when", a.Reason)
				}
			}
		})
	}
}
