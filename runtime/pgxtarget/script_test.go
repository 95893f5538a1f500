package pgxtarget_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/sqlscript"
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
		"INSERT INTO no_such_table VALUES (1);\n"+
		"INSERT INTO "+table+" (change_id) VALUES ('third');\n")
}

func TestAScriptWithoutATransactionKeepsWhatRanAndRecordsItsProgress(t *testing.T) {
	e := newEnv(t)
	fx := effects(t, e.pool, e.schema)
	up := threeStatements(fx)
	tg := pgxtarget.New(e.pool)
	c := change("0012_split", 1, tg, false, func(ctx context.Context, tx pgx.Tx) error {
		return up.Exec(ctx, pgxtarget.Exec(tx))
	})
	_, err := runner(t, e.store, stages(c)).Run(t.Context())
	var se *sqlscript.StatementError
	if !errors.As(err, &se) || se.File != "0012_split.sql" || se.Line != 4 || se.Index != 2 || se.Count != 3 {
		t.Fatalf("Run = %v, want statement 2 of 3 failing at 0012_split.sql:4", err)
	}
	if !strings.Contains(err.Error(), `0012_split.sql:4:1: statement 2 of 3 failed: ERROR: relation "no_such_table" does not exist`) {
		t.Errorf("Run = %v, want it to name 0012_split.sql:4:1 and the server's error", err)
	}
	if n := ran(t, e.srv.Admin, fx, "first"); n != 1 {
		t.Errorf("statement 1 left %d rows, want 1: it committed when it ran", n)
	}
	if n := ran(t, e.srv.Admin, fx, "third"); n != 0 {
		t.Errorf("statement 3 left %d rows, want 0: it never ran", n)
	}
	h := history(t, e.store, "0012_split")
	failed := h[len(h)-1]
	if failed.State != audit.StateFailed {
		t.Fatalf("trail = %v, want FAILED last", states(h))
	}
	if want := `{"progress": {"at": "0012_split.sql:4", "done": 1, "total": 3}}`; !sameJSON(t, failed.Metadata, want) {
		t.Errorf("FAILED metadata = %s, want %s", failed.Metadata, want)
	}
	if a := audit.Assess(failed); !strings.Contains(a.Problem, "statement 1 applied, 2 failed at 0012_split.sql:4") {
		t.Errorf("Assess.Problem = %q", a.Problem)
	}
}

func TestAScriptInATransactionLeavesNothingAndSaysSo(t *testing.T) {
	e := newEnv(t)
	fx := effects(t, e.pool, e.schema)
	up := threeStatements(fx)
	c := change("0012_split", 1, pgxtarget.Shared(e.store), true, func(ctx context.Context, tx pgx.Tx) error {
		return up.Exec(ctx, pgxtarget.Exec(tx))
	})
	_, err := runner(t, e.store, stages(c)).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "0012_split.sql:4:1: statement 2 of 3 failed") {
		t.Fatalf("Run = %v, want statement 2 of 3 failing at 0012_split.sql:4:1", err)
	}
	if n := ran(t, e.srv.Admin, fx, "first"); n != 0 {
		t.Errorf("statement 1 left %d rows, want 0: its transaction was rolled back", n)
	}
	h := history(t, e.store, "0012_split")
	a := audit.Assess(h[len(h)-1])
	if want := "statement 2 failed at 0012_split.sql:4 and its transaction rolled back statement 1"; a.Verdict != audit.VerdictPending || !strings.Contains(a.Reason, want) {
		t.Errorf("Assess = %s %q, want pending and %q", a.Verdict, a.Reason, want)
	}
}

// The simple protocol runs a statement as psql does: several commands in
// one (which the extended protocol refuses in a prepared statement), and
// a table altered by one statement and read by the next.
func TestExecRunsAStatementAsPsqlDoes(t *testing.T) {
	e := newEnv(t)
	fx := effects(t, e.pool, e.schema)
	up := scriptOf("0001_multi.sql",
		"INSERT INTO "+fx+" (change_id) VALUES ('a'); INSERT INTO "+fx+" (change_id) VALUES ('b');\n"+
			"ALTER TABLE "+fx+" ADD COLUMN n int DEFAULT 7;\n"+
			"UPDATE "+fx+" SET n = n + 1 WHERE change_id = 'a';\n")
	c := change("0001_multi", 1, pgxtarget.New(e.pool), false, func(ctx context.Context, tx pgx.Tx) error {
		return up.Exec(ctx, pgxtarget.Exec(tx))
	})
	if _, err := runner(t, e.store, stages(c)).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.srv.Admin.QueryRow(t.Context(), "SELECT sum(n) FROM "+fx).Scan(&n); err != nil || n != 15 {
		t.Errorf("sum(n) = %d, %v; want 15", n, err)
	}
}

// sameJSON reports whether got and want hold the same JSON value.
func sameJSON(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(g, w)
}
