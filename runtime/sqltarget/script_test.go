package sqltarget_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqlscript"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// scriptOf splits text as flamingock-gen would for these tests: each line
// that is neither blank nor a comment is one statement.
func scriptOf(file, text string) sqlscript.Script {
	s := sqlscript.Script{File: file, Text: text}
	start := 0
	for i, line := range strings.SplitAfter(text, "\n") {
		body := strings.TrimRight(line, "\n")
		trimmed := strings.TrimLeft(body, " \t")
		if trimmed != "" && !strings.HasPrefix(trimmed, "--") {
			lead := len(body) - len(trimmed)
			s.Statements = append(s.Statements, sqlscript.Span{Start: start + lead, End: start + len(body), Line: i + 1, Col: lead + 1})
		}
		start += len(line)
	}
	return s
}

// threeStatements is a script whose second statement fails: its table
// does not exist.
func threeStatements(table string) sqlscript.Script {
	return scriptOf("0012_split.sql", "-- +goose Up\n"+
		"INSERT INTO "+table+" (change_id) VALUES ('first');\n"+
		"\n"+
		"  INSERT INTO no_such_table VALUES (1);\n"+
		"INSERT INTO "+table+" (change_id) VALUES ('third');\n")
}

// runScript runs the script as change 0012_split on tg, and returns Run's
// error and the change's latest entry.
func runScript(t *testing.T, store audit.Store, tg pipeline.Target[*sql.Tx], up sqlscript.Script) (audit.Entry, error) {
	t.Helper()
	st := pgStages(tg, pgChange{id: "0012_split", apply: func(ctx context.Context, tx *sql.Tx) error {
		return up.Exec(ctx, sqltarget.Exec(tx))
	}})
	_, err := pgRunner(t, store, st).Run(t.Context())
	h, herr := store.History(context.Background(), audit.Filter{Stage: "s1", ChangeID: "0012_split"})
	if herr != nil || len(h) == 0 {
		t.Fatalf("History = %v, %v", h, herr)
	}
	return h[len(h)-1], err
}

// checkSecondFailed checks that err names statement 2 of 3 at line 4,
// column 3, with the database's error, and that the FAILED entry records
// the progress, said as rolled back.
func checkSecondFailed(t *testing.T, err error, latest audit.Entry, dbErr string) {
	t.Helper()
	var se *sqlscript.StatementError
	if !errors.As(err, &se) || se.File != "0012_split.sql" || se.Line != 4 || se.Col != 3 || se.Index != 2 || se.Count != 3 {
		t.Fatalf("Run = %v, want statement 2 of 3 failing at 0012_split.sql:4:3", err)
	}
	if !strings.Contains(err.Error(), "0012_split.sql:4:3: statement 2 of 3 failed: ") || !strings.Contains(err.Error(), dbErr) {
		t.Errorf("Run = %v, want 0012_split.sql:4:3 and %q", err, dbErr)
	}
	if latest.State != audit.StateFailed {
		t.Fatalf("latest entry %s, want FAILED", latest.State)
	}
	if p, ok := latest.Progress(); !ok || p != (audit.Progress{Done: 1, Total: 3, At: "0012_split.sql:4"}) {
		t.Errorf("FAILED progress = %+v, %v (metadata %s)", p, ok, latest.Metadata)
	}
	if a := audit.Assess(latest); !strings.Contains(a.Reason, "statement 2 failed at 0012_split.sql:4 and its transaction rolled back statement 1") {
		t.Errorf("Assess.Reason = %q", a.Reason)
	}
}

func TestExecOnSQLite(t *testing.T) {
	for _, tt := range []struct {
		name   string
		target func(store *sqlite.Store, db *sql.DB) *sqltarget.Target
		db     func(store *sqlite.Store, db *sql.DB) *sql.DB
	}{
		{"shared", func(s *sqlite.Store, _ *sql.DB) *sqltarget.Target { return sqltarget.Shared(s) }, func(s *sqlite.Store, _ *sql.DB) *sql.DB { return s.DB() }},
		{"separate", func(_ *sqlite.Store, db *sql.DB) *sqltarget.Target { return sqltarget.New(db) }, func(_ *sqlite.Store, db *sql.DB) *sql.DB { return db }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, other := openStore(t), openDB(t)
			db := tt.db(store, other)
			if _, err := db.Exec(`CREATE TABLE effects (change_id TEXT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			latest, err := runScript(t, store, tt.target(store, other), threeStatements("effects"))
			checkSecondFailed(t, err, latest, "no such table: no_such_table")
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM effects`).Scan(&n); err != nil || n != 0 {
				t.Errorf("effects = %d, %v; want 0: the transaction was rolled back", n, err)
			}
		})
	}
}

func TestExecOnPostgreSQL(t *testing.T) {
	e := newPGEnv(t)
	db := openPG(t, e.srv.ConnString(t))
	fx := pgEffects(t, db, e.schema)
	latest, err := runScript(t, e.store, sqltarget.New(db, sqltarget.WithPostgreSQL()), threeStatements(fx))
	checkSecondFailed(t, err, latest, `relation "no_such_table" does not exist`)
	if n := pgRan(t, db, fx, "first"); n != 0 {
		t.Errorf("statement 1 left %d rows, want 0: the transaction was rolled back", n)
	}
}
