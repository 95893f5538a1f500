package adopt_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/adopt"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// A database goose migrated to version 2 switches to flamingock-go with
// the same two changes and a new one: the first start imports goose's
// history and runs only the new change.
func ExampleGoose() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "flamingock-adopt")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	db := store.DB()
	// What goose left in the database.
	for _, q := range []string{
		`CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')))`,
		`INSERT INTO goose_db_version (version_id, is_applied, tstamp) VALUES (0, 1, '2024-01-01 09:00:00'), (1, 1, '2024-01-01 09:00:00'), (2, 1, '2024-03-01 12:30:00')`,
		`CREATE TABLE users (id INTEGER PRIMARY KEY)`,
		`ALTER TABLE users ADD COLUMN email TEXT`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			log.Fatal(err)
		}
	}

	change := func(order uint64, id, stmt string) pipeline.Change {
		return pipeline.NewChange(
			pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "alice", Target: "appdb"},
			pipeline.Target[*sql.Tx](sqltarget.Shared(store)),
			func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, stmt)
				return err
			},
			nil,
		)
	}
	r, err := pipeline.New(store, []pipeline.Stage{{Name: "schema", Changes: []pipeline.Change{
		change(1, "create-users", `CREATE TABLE users (id INTEGER PRIMARY KEY)`),
		change(2, "add-email", `ALTER TABLE users ADD COLUMN email TEXT`),
		change(3, "add-name", `ALTER TABLE users ADD COLUMN name TEXT`),
	}}}, pipeline.WithImport(adopt.Goose(db, adopt.SQLite)))
	if err != nil {
		log.Fatal(err)
	}
	res, err := r.Run(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range res.Changes() {
		fmt.Printf("%s: %s\n", o.ChangeID, o.Status)
	}
	trail, err := store.History(ctx, audit.Filter{ChangeID: "add-email"})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range trail {
		fmt.Printf("%s by %q: %s\n%s\n", e.State, e.Operator, e.Reason, e.Metadata)
	}
	// Output:
	// create-users: skipped
	// add-email: skipped
	// add-name: applied
	// MANUAL_MARKED_AS_APPLIED by "goose import": imported from goose_db_version version 2
	// {"imported":{"tool":"goose","table":"goose_db_version","version":"2","applied_at":"2024-03-01T12:30:00Z"}}
}
