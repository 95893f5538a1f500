package adopt

import (
	"context"
	"database/sql"
	"testing"

	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestImportRefusesBadInputBeforeReadingAnything(t *testing.T) {
	db, err := sql.Open("sqlite", "file:never-opened.db?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	two := append(planned("schema", 1), planned("data", 2)...)
	for _, tt := range []struct {
		name    string
		imp     pipeline.Importer
		changes []pipeline.PlannedChange
		want    string
	}{
		{"no database", Goose(nil, SQLite), planned("schema", 1), "goose import: nil *sql.DB"},
		{"no dialect", Goose(db, ""), planned("schema", 1), `goose import: dialect "": use adopt.PostgreSQL or adopt.SQLite`},
		{"an unknown dialect", Migrate(db, "mysql"), planned("schema", 1), `golang-migrate import: dialect "mysql"`},
		{"a table name to inject", Goose(db, PostgreSQL, WithTable(`x"; DROP TABLE users; --`)), planned("schema", 1), `invalid table "x\"; DROP TABLE users; --"`},
		{"a qualified table on SQLite", Goose(db, SQLite, WithTable("main.goose_db_version")), planned("schema", 1), `invalid table "main.goose_db_version": on SQLite a table is not qualified`},
		{"three parts", Migrate(db, PostgreSQL, WithTable("a.b.c")), planned("schema", 1), `invalid table "a.b.c": use table or schema.table`},
		{"an empty table", Goose(db, SQLite, WithTable("")), planned("schema", 1), "WithTable: empty table name"},
		{"a wait of zero", Goose(db, PostgreSQL, WithLockWait(0)), planned("schema", 1), "WithLockWait: 0s is not positive"},
		{"several stages, none named", Goose(db, SQLite), two, `goose import of goose_db_version: the pipeline has 2 stages ("schema", "data"): name the one the old history belongs to with adopt.WithStage`},
		{"a stage that is not in the pipeline", Goose(db, SQLite, WithStage("schemas")), two, `the pipeline has no stage "schemas" (its stages: "schema", "data")`},
		{"two changes of one order", Goose(db, SQLite), append(planned("schema", 1), pipeline.PlannedChange{Stage: "schema", ChangeID: "again", Order: planned("schema", 1)[0].Order}), `changes "c1" and "again" of stage "schema" both have order 1`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			err := tt.imp.Import(context.Background(), rec.request(tt.changes))
			wantErr(t, err, tt.want)
		})
	}
}

func TestWithStagePicksTheStageOfTheHistory(t *testing.T) {
	w := sqliteWorld(t)
	w.gooseTable(t, "goose_db_version")
	w.gooseRows(t, "goose_db_version", gooseRow{1, true, "2024-01-01 10:00:00"})
	var rec recorder
	changes := append(planned("bootstrap", 1), planned("schema", 1, 2)...)
	if err := Goose(w.db, w.dialect, WithStage("schema")).Import(context.Background(), rec.request(changes)); err != nil {
		t.Fatal(err)
	}
	if len(rec.marks) != 1 || rec.marks[0].Stage != "schema" || rec.marks[0].ChangeID != "c1" {
		t.Errorf("marks %+v, want schema/c1", rec.marks)
	}
}
