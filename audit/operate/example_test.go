package operate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/operate"
	"github.com/flamingock/flamingock-go/audit/sqlite"
)

// An application's admin endpoint lists the changes that block its
// pipeline and records an operator's resolution of one.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "operate")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")
	crashed(ctx, path) // a run that died while applying add-email

	s, err := operate.Open(ctx, "sqlite:"+path, operate.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	all, _, err := s.Snapshot(ctx)
	if err != nil {
		panic(err)
	}
	for _, a := range all {
		fmt.Printf("%s: %s\n", a.Latest.ChangeID, a.Verdict)
	}
	e, err := s.Resolve(ctx, operate.Mark{
		ChangeID: "add-email",
		State:    audit.StateManualApplied,
		Operator: "alice@ops",
		Reason:   "column email exists with its index",
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s by %s: %s\n", e.State, e.Operator, operate.NextRun(audit.Assess(e).Verdict))
	// Output:
	// add-email: issue
	// MANUAL_MARKED_AS_APPLIED by alice@ops: the next run skips it
}

// crashed writes the trail of a run that started change add-email, on a
// target without transactions, and died.
func crashed(ctx context.Context, path string) {
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	lease, err := store.Acquire(ctx, audit.DefaultLockKey, "web-1", time.Minute)
	if err != nil {
		panic(err)
	}
	if _, err := store.Append(ctx, lease, audit.Entry{
		ExecutionID: "exec-1", Stage: "app", ChangeID: "add-email", Order: audit.OrderOf(1), State: audit.StateStarted,
		Time: time.Now(), Host: "web-1", RunnerID: "web-1", TargetID: "appdb",
		Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual,
	}); err != nil {
		panic(err)
	}
	if err := store.Release(ctx, lease); err != nil {
		panic(err)
	}
}
