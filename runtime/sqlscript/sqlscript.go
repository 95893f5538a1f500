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
	"strconv"

	"github.com/flamingock/flamingock-go/audit"
)

// Span is one statement of a script: Script.Text[Start:End], beginning at
// Line:Col (1-based, byte column) of Script.File.
type Span struct{ Start, End, Line, Col int }

// Script is one section (up or down) of a SQL file as flamingock-gen split
// it at generate time.
type Script struct {
	File       string // the file as its package knows it, e.g. "0007_add_index.sql"
	Text       string // the file's whole content, embedded by the generated code
	Statements []Span // none for an empty section: Exec then does nothing
}

// Exec runs the script's statements in order with exec (a *sql.Tx's
// ExecContext, a pgx.Tx's Exec wrapped — see the adapters), stopping at the
// first that fails, whose error is a *StatementError.
//
// A script that Validate refuses runs nothing: its error matches
// ErrInvalidScript and is not a *StatementError.
//
// ctx is checked before each statement: once it is done, Exec runs no
// further statement and returns a *StatementError for the statement it did
// not run, wrapping ctx.Err(). Its progress is then exact (the statements
// before it completed), and errors.Is(err, context.Canceled) holds, so
// that the runtime records the failure as cancelled. A statement already
// sent is the driver's to interrupt.
func (s Script) Exec(ctx context.Context, exec func(ctx context.Context, sql string) error) error {
	if err := s.Validate(); err != nil {
		return err
	}
	for i, sp := range s.Statements {
		err := ctx.Err()
		if err == nil {
			err = exec(ctx, s.Text[sp.Start:sp.End])
		}
		if err != nil {
			return &StatementError{File: s.File, Line: sp.Line, Col: sp.Col, Index: i + 1, Count: len(s.Statements), Err: err}
		}
	}
	return nil
}

// ErrInvalidScript is matched by the error of a script whose statements
// do not describe its text: flamingock-gen computes them, so the generated
// file was edited by hand or is stale.
var ErrInvalidScript = errors.New("invalid script")

// Validate reports why s cannot run, or nil: it needs a file name, and
// each statement a non-empty span of Text after the one before it, with a
// 1-based line and column. A script of no statement is valid: an empty up
// section is a change that does nothing, as goose and golang-migrate apply
// one.
func (s Script) Validate() error {
	bad := func(format string, args ...any) error {
		where := ""
		if s.File != "" {
			where = s.File + ": "
		}
		return fmt.Errorf("%s%w: %s (the generated code does not match what flamingock-gen wrote: run go generate)",
			where, ErrInvalidScript, fmt.Sprintf(format, args...))
	}
	if s.File == "" {
		return bad("no file name")
	}
	n := len(s.Statements)
	for i, sp := range s.Statements {
		switch {
		case sp.Start < 0 || sp.End > len(s.Text) || sp.Start > sp.End:
			return bad("statement %d of %d spans bytes %d:%d of a text of %d", i+1, n, sp.Start, sp.End, len(s.Text))
		case sp.Start == sp.End:
			return bad("statement %d of %d is empty", i+1, n)
		case i > 0 && sp.Start < s.Statements[i-1].End:
			return bad("statement %d of %d starts at byte %d, before statement %d ends at byte %d", i+1, n, sp.Start, i, s.Statements[i-1].End)
		case sp.Line < 1 || sp.Col < 1:
			return bad("statement %d of %d has no position (line %d, column %d)", i+1, n, sp.Line, sp.Col)
		}
	}
	return nil
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

// Progress returns how far the script got: Done = Index-1 statements
// completed, of Total = Count, the failed one At "file:line". It makes
// a *StatementError an audit.ProgressError, which the runtime records in
// the change's FAILED (or ROLLBACK_FAILED) entry.
func (e *StatementError) Progress() audit.Progress {
	return audit.Progress{Done: e.Index - 1, Total: e.Count, At: e.File + ":" + strconv.Itoa(e.Line)}
}

var _ audit.ProgressError = (*StatementError)(nil)
