package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// Two changes with rollbacks, applied, then the second one rolled back:
// Validate, the readiness gate, reports it pending until the next run.
func ExampleRunner_RollbackTo() {
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

	appdb := pipeline.Target[*sql.Tx](sqltarget.Shared(store))
	exec := func(stmt string) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, stmt)
			return err
		}
	}
	meta := func(id string, order uint64) pipeline.Meta {
		return pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "alice", Target: "appdb", Recovery: audit.RecoveryManual}
	}
	r, err := pipeline.New(store, []pipeline.Stage{{Name: "schema", Changes: []pipeline.Change{
		pipeline.NewChange(meta("create-users", 1), appdb,
			exec(`CREATE TABLE users (id INTEGER PRIMARY KEY)`), exec(`DROP TABLE users`)),
		pipeline.NewChange(meta("create-orders", 2), appdb,
			exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY)`), exec(`DROP TABLE orders`)),
	}}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := r.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after the run, valid:", r.Validate(ctx) == nil)

	res, err := r.RollbackTo(ctx, "create-users") // keeps create-users applied
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range res.Changes() {
		fmt.Printf("%s/%s: %s\n", o.Stage, o.ChangeID, o.Status)
	}
	err = r.Validate(ctx)
	fmt.Println("after the rollback, pending:", errors.Is(err, pipeline.ErrPending))
	// Output:
	// after the run, valid: true
	// schema/create-orders: rolled back
	// after the rollback, pending: true
}
