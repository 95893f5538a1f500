package flamingocktest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/flamingocktest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// schema is a stage as flamingock-gen builds one (migrations.Stage(…) in an
// application), written out: a table with its rollback, then a row without
// one.
func schema(k *flamingocktest.Kit) pipeline.Stage {
	db := pipeline.Target[*sql.Tx](sqltarget.Shared(k.SQLite()))
	return pipeline.Stage{Name: "schema", Changes: []pipeline.Change{
		pipeline.NewChange(pipeline.Meta{ID: "create-users", Order: audit.OrderOf(1), Target: "appdb"}, db,
			func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `CREATE TABLE users (email TEXT NOT NULL)`)
				return err
			},
			func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `DROP TABLE users`)
				return err
			}),
		pipeline.NewChange(pipeline.Meta{ID: "seed-admin", Order: audit.OrderOf(2), Target: "appdb"}, db,
			func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO users (email) VALUES ('admin@example.com')`)
				return err
			}, nil),
	}}
}

// Given nothing, when run, then every change is applied.
func Example() {
	t := &exampleT{} // in a test: the test's t
	defer t.end()

	k := flamingocktest.New(t)
	res := k.Run(schema(k))
	fmt.Println("applied:", res.Count(pipeline.StatusApplied))
	fmt.Println(k.AssertApplied("create-users", "seed-admin"))
	// Output:
	// applied: 2
	// true
}

// Given a change applied by an earlier release, when the next one runs,
// then only the new change runs. GivenApplied marks the change without
// running it; the test makes what it would have made.
func ExampleKit_GivenApplied() {
	t := &exampleT{}
	defer t.end()

	k := flamingocktest.New(t)
	stage := schema(k)
	k.SQLite().DB().Exec(`CREATE TABLE users (email TEXT NOT NULL)`)
	k.GivenApplied(stage, "create-users")

	res := k.RunOne(stage, "seed-admin")
	for _, o := range res.Changes() {
		fmt.Println(o.ChangeID, o.Status)
	}
	k.AssertTrail("schema", "create-users", audit.StateManualApplied)
	// Output:
	// create-users skipped
	// seed-admin applied
}

// Given a runner that died inside a change without a transaction, the next
// run stops at the issue and runs nothing.
func ExampleKit_Given() {
	t := &exampleT{}
	defer t.end()

	k := flamingocktest.New(t)
	k.GivenApplied(schema(k), "create-users")
	k.Given(audit.Entry{Stage: "schema", ChangeID: "seed-admin", State: audit.StateStarted, Strategy: audit.StrategyNonTx})

	_, err := k.TryRun(schema(k))
	fmt.Println(errors.Is(err, pipeline.ErrManualInterventionRequired))
	fmt.Println(k.AssertIssue("seed-admin", "whether it took effect is unknown"))
	// Output:
	// true
	// true
}

// An assertion that fails names the change and shows the whole trail.
func ExampleKit_AssertApplied() {
	t := &exampleT{}
	defer t.end()

	k := flamingocktest.New(t)
	k.Run(k.Through(schema(k), "create-users"))
	k.AssertApplied("seed-admin")
	// Output:
	// FAIL: flamingocktest: change "seed-admin": no entry, want applied
	// trail (1 entry):
	// SEQ  STAGE   CHANGE        STATE    STRATEGY   RECOVERY  NOTE
	// 1    schema  create-users  APPLIED  SHARED_TX  MANUAL
}

// RoundTrip applies each change, rolls it back and applies it again,
// comparing the snapshots; a change without a rollback is reported unchecked.
func ExampleKit_RoundTrip() {
	t := &exampleT{}
	defer t.end()

	k := flamingocktest.New(t)
	tables := func(ctx context.Context) (any, error) {
		var names []string
		rows, err := k.SQLite().DB().QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'users'`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return nil, err
			}
			names = append(names, n)
		}
		return names, rows.Err()
	}
	rep := k.RoundTrip(tables, schema(k))
	fmt.Println("checked:", rep.Checked)
	fmt.Println("unchecked:", rep.Unchecked)
	// Output:
	// checked: [create-users]
	// unchecked: [{seed-admin declares no rollback}]
}
