package cli_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/cli"
)

// TestDoResolvesAnIssueInProcess runs flamingock as its tests and
// applications do, without building it: issue list, audit fix, issue list.
func TestDoResolvesAnIssueInProcess(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := store.Acquire(ctx, "flamingock", "web-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, lease, audit.Entry{
		ExecutionID: "exec-1", Stage: "app", ChangeID: "add-email", Order: audit.OrderOf(1), State: audit.StateStarted,
		Time: time.Now(), Host: "web-1", RunnerID: "web-1", TargetID: "appdb",
		Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual,
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Release(ctx, lease); err != nil {
		t.Fatal(err)
	}
	store.Close()

	env := cli.Env{
		Getenv:   func(k string) string { return map[string]string{"FLAMINGOCK_STORE": "sqlite:" + path}[k] },
		Hostname: func() (string, error) { return "laptop", nil },
		Username: func() (string, error) { return "alice", nil },
	}
	do := func(want int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if got := cli.Do(ctx, args, strings.NewReader(""), &stdout, &stderr, env); got != want {
			t.Fatalf("flamingock %s: exit status %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, want, &stdout, &stderr)
		}
		return stdout.String()
	}
	do(2)
	do(3, "issue", "list")
	out := do(0, "audit", "fix", "add-email", "--resolution", "applied", "--reason", "the column exists")
	if !strings.Contains(out, "by alice@laptop: the column exists") {
		t.Errorf("audit fix printed %q, want the default operator alice@laptop", out)
	}
	do(0, "issue", "list")
}
