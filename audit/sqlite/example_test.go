package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
)

// The store holds the lock and the trail: take a lease, record transitions
// under it, and read every change's latest state.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "flamingock-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlite.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	lease, err := store.Acquire(ctx, "default", "runner-1", time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Release(ctx, lease)

	for _, state := range []audit.State{audit.StateStarted, audit.StateApplied} {
		_, err := store.Append(ctx, lease, audit.Entry{
			ExecutionID: "exec-1",
			Stage:       "quickstart",
			ChangeID:    "send-welcome-email",
			State:       state,
			Time:        time.Now(),
			Strategy:    audit.StrategyNonTx,
			Recovery:    audit.RecoveryManual,
		})
		if err != nil {
			log.Fatal(err)
		}
	}

	latest, err := store.Snapshot(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range latest {
		fmt.Println(e.Seq, e.Stage, e.ChangeID, e.State)
	}
	// Output:
	// 2 quickstart send-welcome-email APPLIED
}

// A change to the audit store's own database commits together with the
// entry that records it: either both are stored or neither is.
func ExampleStore_AppendTx() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "flamingock-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlite.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	lease, err := store.Acquire(ctx, "default", "runner-1", time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Release(ctx, lease)

	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback() // a no-op once committed
	if _, err := tx.ExecContext(ctx, `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		log.Fatal(err)
	}
	applied, err := store.AppendTx(ctx, tx, lease, audit.Entry{
		ExecutionID: "exec-1",
		Stage:       "quickstart",
		ChangeID:    "create-users",
		State:       audit.StateApplied,
		Time:        time.Now(),
		Strategy:    audit.StrategySharedTx,
		Recovery:    audit.RecoveryManual,
	})
	if err != nil {
		log.Fatal(err) // audit.ErrFenced: the lease was lost; nothing commits
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(applied.Seq, applied.ChangeID, applied.State)
	// Output:
	// 1 create-users APPLIED
}
