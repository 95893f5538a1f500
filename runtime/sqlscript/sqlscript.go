// Package sqlscript runs the statements of a SQL file that flamingock-gen
// split at generate time, and names the one that fails by file, line and
// column.
//
// The generated code embeds the file's whole content (Script.Text) and the
// position of each statement in it (Script.Statements), so that nothing is
// parsed when the application starts:
//
//	var up = sqlscript.Script{
//		File:       "0012_split.sql",
//		Text:       text0012, // the embedded file
//		Statements: []sqlscript.Span{{Start: 31, End: 96, Line: 3, Col: 1}, …},
//	}
//
//	func apply0012(ctx context.Context, tx *sql.Tx) error {
//		return up.Exec(ctx, sqltarget.Exec(tx))
//	}
//
// The adapters live next to the handles they adapt, so that a SQLite user
// does not depend on pgx: sqltarget.Exec for a *sql.Tx, pgxtarget.Exec for
// a pgx.Tx.
//
// A statement that fails stops the script with a *StatementError, which
// names the statement ("0012_split.sql:20:1: statement 4 of 6 failed: …")
// and carries the script's progress (audit.Progress): the pipeline records
// it in the FAILED entry, so that `flamingock issue get` says how far a
// change that ran without a transaction got.
package sqlscript

import (
	"context"
	"errors"
	"fmt"
)

// Span is one statement of a script: Script.Text[Start:End], beginning at
// Line:Col (1-based, byte column) of Script.File.
type Span struct{ Start, End, Line, Col int }

// Script is one section (up or down) of a SQL file as flamingock-gen split
// it at generate time.
type Script struct {
	File       string // the file as its package knows it, e.g. "0007_add_index.sql"
	Text       string // the file's whole content, embedded by the generated code
	Statements []Span
}

// Exec runs the script's statements in order with exec (a *sql.Tx's
// ExecContext, a pgx.Tx's Exec wrapped — see the adapters), stopping at the
// first that fails, whose error is a *StatementError.
func (s Script) Exec(ctx context.Context, exec func(ctx context.Context, sql string) error) error {
	return errors.ErrUnsupported // implemented in the next commit, after its tests
}

// StatementError is a statement of a script that failed.
type StatementError struct {
	File      string
	Line, Col int
	Index     int // 1-based index of the statement that failed
	Count     int // statements in the script
	Err       error
}

// Error returns "0012_split.sql:20:1: statement 4 of 6 failed: <err>".
func (e *StatementError) Error() string {
	return fmt.Sprintf("%s:%d:%d: statement %d of %d failed: %v", e.File, e.Line, e.Col, e.Index, e.Count, e.Err)
}

// Unwrap returns Err.
func (e *StatementError) Unwrap() error { return e.Err }
