package sqlscript_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/sqlscript"
)

// script builds a Script of stmts, each on its own line after a comment
// line, with the spans flamingock-gen would compute.
func script(file string, stmts ...string) sqlscript.Script {
	s := sqlscript.Script{File: file}
	var b strings.Builder
	line := 1
	for _, st := range stmts {
		b.WriteString("-- a comment\n")
		line++
		b.WriteString("  ")
		start := b.Len()
		b.WriteString(st)
		s.Statements = append(s.Statements, sqlscript.Span{Start: start, End: b.Len(), Line: line, Col: 3})
		b.WriteString("\n")
		line++
	}
	s.Text = b.String()
	return s
}

type recorder struct {
	ran    []string
	failOn string
	err    error
}

func (r *recorder) exec(ctx context.Context, sql string) error {
	r.ran = append(r.ran, sql)
	if sql == r.failOn {
		return r.err
	}
	return nil
}

func TestExecRunsEveryStatementInOrder(t *testing.T) {
	s := script("0001_init.sql", "CREATE TABLE a (x int);", "INSERT INTO a VALUES (1);", "CREATE INDEX ON a (x);")
	var r recorder
	if err := s.Exec(t.Context(), r.exec); err != nil {
		t.Fatal(err)
	}
	want := []string{"CREATE TABLE a (x int);", "INSERT INTO a VALUES (1);", "CREATE INDEX ON a (x);"}
	if diff := cmp.Diff(want, r.ran); diff != "" {
		t.Errorf("statements run (-want +got):\n%s", diff)
	}
}

func TestExecStopsAtTheFirstFailureAndNamesIt(t *testing.T) {
	s := script("0012_split.sql", "S1;", "S2;", "S3;", "S4;", "S5;", "S6;")
	cause := errors.New(`relation "t" does not exist`)
	r := recorder{failOn: "S4;", err: cause}
	err := s.Exec(t.Context(), r.exec)
	var se *sqlscript.StatementError
	if !errors.As(err, &se) {
		t.Fatalf("Exec = %v, want a *StatementError", err)
	}
	want := sqlscript.StatementError{File: "0012_split.sql", Line: 8, Col: 3, Index: 4, Count: 6, Err: cause}
	if diff := cmp.Diff(want, *se, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("StatementError (-want +got):\n%s", diff)
	}
	if got, w := err.Error(), `0012_split.sql:8:3: statement 4 of 6 failed: relation "t" does not exist`; got != w {
		t.Errorf("Error() = %q, want %q", got, w)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(err, cause) = false: Unwrap must return Err")
	}
	if diff := cmp.Diff([]string{"S1;", "S2;", "S3;", "S4;"}, r.ran); diff != "" {
		t.Errorf("statements run (-want +got):\n%s", diff)
	}
	p, ok := audit.ProgressOf(err)
	if !ok || p != (audit.Progress{Done: 3, Total: 6, At: "0012_split.sql:8"}) {
		t.Errorf("ProgressOf = %+v, %v; want {3 6 0012_split.sql:8}", p, ok)
	}
	if got, w := p.Applied(), "statements 1–3 applied, 4 failed at 0012_split.sql:8"; got != w {
		t.Errorf("Applied() = %q, want %q", got, w)
	}
}

func TestTheFirstStatementFailingRecordsNothingDone(t *testing.T) {
	s := script("0003_x.sql", "S1;", "S2;")
	r := recorder{failOn: "S1;", err: errors.New("syntax error")}
	p, ok := audit.ProgressOf(s.Exec(t.Context(), r.exec))
	if !ok || p.Done != 0 || p.Total != 2 || p.At != "0003_x.sql:2" {
		t.Fatalf("ProgressOf = %+v, %v", p, ok)
	}
	if got, w := p.Applied(), "no statement applied, 1 failed at 0003_x.sql:2"; got != w {
		t.Errorf("Applied() = %q, want %q", got, w)
	}
}

// A context cancelled between statements stops the script before the next
// one, with a *StatementError naming the statement that did not run and
// wrapping ctx's error: the progress is then exact (what ran before it
// completed), and errors.Is(err, context.Canceled) holds, so the runtime
// records the failure as cancelled.
func TestACancelledContextStopsBeforeTheNextStatement(t *testing.T) {
	s := script("0004_x.sql", "S1;", "S2;", "S3;")
	ctx, cancel := context.WithCancel(t.Context())
	var ran []string
	err := s.Exec(ctx, func(ctx context.Context, sql string) error {
		ran = append(ran, sql)
		if sql == "S1;" {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Exec = %v, want context.Canceled", err)
	}
	var se *sqlscript.StatementError
	if !errors.As(err, &se) || se.Index != 2 || se.Count != 3 || se.Line != 4 {
		t.Fatalf("Exec = %#v, want a *StatementError for statement 2 of 3 at line 4", err)
	}
	if diff := cmp.Diff([]string{"S1;"}, ran); diff != "" {
		t.Errorf("statements run (-want +got):\n%s", diff)
	}
}

func TestABadScriptIsRefusedBeforeAnythingRuns(t *testing.T) {
	good := script("0005_x.sql", "S1;", "S2;")
	for _, tc := range []struct {
		name  string
		edit  func(*sqlscript.Script)
		error string
	}{
		{"an empty span", func(s *sqlscript.Script) { s.Statements[1].End = s.Statements[1].Start }, "0005_x.sql: invalid script: statement 2 of 2 is empty"},
		{"a span past the text", func(s *sqlscript.Script) { s.Statements[1].End = len(s.Text) + 1 }, "0005_x.sql: invalid script: statement 2 of 2 spans bytes 34:39 of a text of 38"},
		{"a negative start", func(s *sqlscript.Script) { s.Statements[0].Start = -1 }, "0005_x.sql: invalid script: statement 1 of 2 spans bytes -1:18 of a text of 38"},
		{"spans out of order", func(s *sqlscript.Script) {
			s.Statements[0], s.Statements[1] = s.Statements[1], s.Statements[0]
		}, "0005_x.sql: invalid script: statement 2 of 2 starts at byte 15, before statement 1 ends at byte 37"},
		{"no position", func(s *sqlscript.Script) { s.Statements[0].Line = 0 }, "0005_x.sql: invalid script: statement 1 of 2 has no position (line 0, column 3)"},
		{"no file", func(s *sqlscript.Script) { s.File = "" }, "invalid script: no file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.Statements = append([]sqlscript.Span(nil), good.Statements...)
			tc.edit(&s)
			var r recorder
			err := s.Exec(t.Context(), r.exec)
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("Exec = %v, want %q", err, tc.error)
			}
			if !strings.Contains(err.Error(), "run go generate") {
				t.Errorf("Exec = %v, want it to say to run go generate", err)
			}
			var se *sqlscript.StatementError
			if errors.As(err, &se) {
				t.Errorf("Exec = %v: a bad script is not a failed statement", err)
			}
			if len(r.ran) > 0 {
				t.Errorf("ran %q, want nothing", r.ran)
			}
		})
	}
}

func TestABadScriptMatchesErrInvalidScript(t *testing.T) {
	s := script("0006_x.sql", "S1;")
	s.Statements[0].End = 1000
	if err := s.Validate(); !errors.Is(err, sqlscript.ErrInvalidScript) {
		t.Errorf("Validate = %v, want ErrInvalidScript", err)
	}
}

// TestAnEmptyScriptRunsNothing: a file whose up section holds no statement
// (goose's "-- +goose Up" alone, a comments-only golang-migrate file) is a
// change that does nothing, as goose and golang-migrate apply it.
func TestAnEmptyScriptRunsNothing(t *testing.T) {
	s := sqlscript.Script{File: "0002_nothing.sql", Text: "-- +goose Up\n"}
	ran := 0
	if err := s.Exec(t.Context(), func(context.Context, string) error { ran++; return nil }); err != nil || ran != 0 {
		t.Fatalf("Exec = %v after %d statements, want nil after none", err, ran)
	}
}
