package pipeline_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// A hand-written stage (flamingock-gen writes the same calls): one change
// in the database of the audit store, run twice.
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

	createUsers := pipeline.NewChange(
		pipeline.Meta{ID: "create-users", Order: audit.OrderOf(1), Author: "alice", Target: "appdb", Recovery: audit.RecoveryManual},
		pipeline.Target[*sql.Tx](sqltarget.Shared(store)),
		func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)`)
			return err
		},
		nil,
	)
	r, err := pipeline.New(store, []pipeline.Stage{{Name: "schema", Changes: []pipeline.Change{createUsers}}})
	if err != nil {
		log.Fatal(err)
	}

	for range 2 {
		res, err := r.Run(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, o := range res.Changes() {
			fmt.Printf("%s/%s: %s\n", o.Stage, o.ChangeID, o.Status)
		}
	}
	p, err := r.Plan(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending:", len(p.Pending()))
	// Output:
	// schema/create-users: applied
	// schema/create-users: skipped
	// pending: 0
}
