package audit_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

func TestProgressWording(t *testing.T) {
	for _, tc := range []struct {
		p                   audit.Progress
		applied, rolledBack string
	}{
		{audit.Progress{Done: 3, Total: 6, At: "0012_split.sql:20"},
			"statements 1–3 applied, 4 failed at 0012_split.sql:20",
			"statement 4 failed at 0012_split.sql:20 and its transaction rolled back statements 1–3"},
		{audit.Progress{Done: 1, Total: 3, At: "a.sql:5"},
			"statement 1 applied, 2 failed at a.sql:5",
			"statement 2 failed at a.sql:5 and its transaction rolled back statement 1"},
		{audit.Progress{Done: 0, Total: 3, At: "a.sql:1"},
			"no statement applied, 1 failed at a.sql:1",
			"statement 1 failed at a.sql:1 and its transaction was rolled back"},
		{audit.Progress{Done: 2, Total: 2},
			"all 2 statements applied, then it failed",
			"all 2 statements ran, then it failed and its transaction rolled them back"},
	} {
		if got := tc.p.Applied(); got != tc.applied {
			t.Errorf("%+v.Applied() = %q, want %q", tc.p, got, tc.applied)
		}
		if got := tc.p.RolledBack(); got != tc.rolledBack {
			t.Errorf("%+v.RolledBack() = %q, want %q", tc.p, got, tc.rolledBack)
		}
		if got := tc.p.Describe(audit.StrategyNonTx); got != tc.applied {
			t.Errorf("Describe(non-tx) = %q", got)
		}
		if got := tc.p.Describe(audit.StrategySharedTx); got != tc.rolledBack {
			t.Errorf("Describe(shared-tx) = %q", got)
		}
	}
}

func TestWithProgressMergesAndStaysValid(t *testing.T) {
	p := audit.Progress{Done: 3, Total: 6, At: "0012_split.sql:20"}
	got, err := audit.WithProgress(nil, p)
	if err != nil || string(got) != `{"progress":{"done":3,"total":6,"at":"0012_split.sql:20"}}` {
		t.Fatalf("WithProgress(nil) = %s, %v", got, err)
	}
	got, err = audit.WithProgress(json.RawMessage(`{"ticket": "OPS-1"}`), p)
	if err != nil || string(got) != `{"progress":{"done":3,"total":6,"at":"0012_split.sql:20"},"ticket":"OPS-1"}` {
		t.Fatalf("WithProgress(ticket) = %s, %v", got, err)
	}
	if _, err := audit.WithProgress(json.RawMessage(`[1]`), p); err == nil {
		t.Errorf("WithProgress of an array: no error")
	}
	long := audit.Progress{Done: 1, Total: 2, At: strings.Repeat("é", 300)}
	got, err = audit.WithProgress(nil, long)
	if err != nil {
		t.Fatal(err)
	}
	e := audit.Entry{ExecutionID: "x", Stage: "s", ChangeID: "c", State: audit.StateFailed, Time: time.Now(),
		Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual, Metadata: got}
	if err := e.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	back, ok := e.Progress()
	if !ok || len(back.At) > audit.MaxProgressAtLen || !strings.HasPrefix(long.At, back.At) || back.Done != 1 {
		t.Errorf("Progress() = %+v, %v; want At cut to %d bytes at a character", back, ok, audit.MaxProgressAtLen)
	}
}

func TestEntryProgressIgnoresWhatIsNotProgress(t *testing.T) {
	for _, m := range []string{``, `{}`, `{"progress": 3}`, `{"progress": {"done": 4, "total": 3}}`, `{"progress": {"done": 0, "total": 0}}`} {
		if p, ok := (audit.Entry{Metadata: json.RawMessage(m)}).Progress(); ok {
			t.Errorf("Progress() of %s = %+v, want none", m, p)
		}
	}
}
