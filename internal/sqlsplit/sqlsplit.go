// Package sqlsplit splits a SQL script into statements the way the database
// reads it: a ';' ends a statement only outside string literals, quoted
// identifiers, dollar-quoted strings, comments and the bodies that contain
// statements of their own.
//
//	stmts, err := sqlsplit.Split("CREATE TABLE t (a int);\nINSERT INTO t VALUES (';');", sqlsplit.PostgreSQL)
//	// stmts[0].SQL == "CREATE TABLE t (a int)", stmts[1].Line == 2
//
// What each dialect knows:
//
//	                          PostgreSQL   SQLite   MySQL
//	'…' with '' escape        yes          yes      yes, and backslash escapes
//	E'…' backslash escapes    yes          -        -
//	"…"                       identifier   identifier  string (backslash escapes)
//	`…`                       -            identifier  identifier
//	[…]                       -            identifier  -
//	$$…$$, $tag$…$tag$        yes          -        -
//	-- line comment           yes          yes      when followed by a blank
//	# line comment            -            -        yes
//	/* */ block comment       nested       flat     flat; /*!…*/ is SQL
//	BEGIN ATOMIC … END        in CREATE FUNCTION/PROCEDURE
//	BEGIN … END               -            in CREATE TRIGGER
//	; inside ( )              no split     split    split
//
// PostgreSQL strings are read with standard_conforming_strings on (the
// default since 9.1): a backslash is literal except in E'…'. As psql does,
// a ';' inside parentheses ends no PostgreSQL statement (CREATE RULE … DO
// ALSO (…; …)), and a parenthesis still open at the end is an error. psql
// meta-commands (a statement starting with '\') and COPY … FROM STDIN,
// which need psql's input stream, are errors.
//
// Inside a BEGIN ATOMIC or trigger body, CASE … END pairs are counted so
// that the END of a CASE expression does not close the body.
//
// MySQL's DELIMITER is a command of the mysql client, not SQL: a statement
// starting with it is an error. MySQL compound statements (a procedure or
// trigger body with BEGIN … END) cannot be split by ';'; keep such a body
// in one statement by other means (goose's StatementBegin/StatementEnd).
//
// A statement starts at its first character that is neither blank nor part
// of a comment: comments before it are dropped, comments inside it are kept.
// Its SQL ends before the ';' that terminates it, trimmed. The last
// statement needs no ';'. Empty statements are dropped.
package sqlsplit

import (
	"fmt"
	"sort"
	"strings"
)

// Dialect selects the lexical rules of one database.
type Dialect int

// The dialects Split knows. The zero value is not a dialect, so that a
// caller cannot split by accident with rules it did not choose.
const (
	PostgreSQL Dialect = iota + 1
	SQLite
	MySQL
)

func (d Dialect) String() string {
	switch d {
	case PostgreSQL:
		return "postgres"
	case SQLite:
		return "sqlite"
	case MySQL:
		return "mysql"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// ParseDialect returns the dialect named s: "postgres" (or "postgresql",
// "pgx"), "sqlite" (or "sqlite3"), "mysql"; case-insensitive.
func ParseDialect(s string) (Dialect, bool) {
	switch strings.ToLower(s) {
	case "postgres", "postgresql", "pgx":
		return PostgreSQL, true
	case "sqlite", "sqlite3":
		return SQLite, true
	case "mysql":
		return MySQL, true
	}
	return 0, false
}

// Statement is one statement of a script.
type Statement struct {
	// SQL is the statement's text, from its first non-blank, non-comment
	// character to the last non-blank character before its terminating
	// ';' (or the end of input). It is a substring of the script:
	// src[Offset:Offset+len(SQL)].
	SQL string
	// Offset is the byte offset of SQL in the script; Line and Col its
	// 1-based line and column (in bytes, as go/token counts).
	Offset    int
	Line, Col int
	// Terminated is false for a last statement that no ';' ends.
	Terminated bool
}

// Error is a problem in a script, at the token that opens the construct at
// fault (the quote of an unterminated string, the BEGIN of an unterminated
// body).
type Error struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// lines maps byte offsets of a script to lines and columns.
type lines []int // offsets at which each line starts

func newLines(src string) lines {
	ls := lines{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			ls = append(ls, i+1)
		}
	}
	return ls
}

func (ls lines) pos(off int) (line, col int) {
	i := sort.Search(len(ls), func(i int) bool { return ls[i] > off }) - 1
	return i + 1, off - ls[i] + 1
}

// Split returns the statements of src, or the first problem found. d must
// be one of the declared dialects.
func Split(src string, d Dialect) ([]Statement, error) {
	if d != PostgreSQL && d != SQLite && d != MySQL {
		return nil, &Error{Line: 1, Col: 1, Msg: fmt.Sprintf("unknown dialect %v", d)}
	}
	ls := newLines(src)
	fail := func(off int, format string, args ...any) error {
		l, c := ls.pos(off)
		return &Error{Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
	}
	sc := scanner{src: src, d: d}
	var (
		stmts []Statement
		st    stmtState
	)
	emit := func(terminated bool) {
		if st.start >= 0 {
			l, c := ls.pos(st.start)
			// A line comment's text may end in blanks.
			sql := strings.TrimRight(src[st.start:st.end], " \t\n\r\f\v")
			stmts = append(stmts, Statement{SQL: sql, Offset: st.start, Line: l, Col: c, Terminated: terminated})
		}
		st = newStmtState()
	}
	st = newStmtState()
	for {
		t, err := sc.next()
		if err != nil {
			return nil, fail(err.off, "%s", err.msg)
		}
		switch t.kind {
		case tEOF:
			if st.depth > 0 {
				return nil, fail(st.bodyOff, "%s", st.bodyMsg)
			}
			if st.paren > 0 {
				return nil, fail(st.parenOff, "unclosed parenthesis: a ';' inside parentheses does not end a statement")
			}
			emit(false)
			return stmts, nil
		case tComment:
			if st.start >= 0 {
				st.end = t.end
			}
			continue
		case tSemi:
			if st.depth == 0 && st.paren == 0 {
				emit(true)
				continue
			}
		}
		if st.start < 0 {
			st.start = t.start
		}
		st.end = t.end
		if t.kind == tWord {
			if msg := st.word(strings.ToUpper(src[t.start:t.end]), t.start, d); msg != "" {
				return nil, fail(t.start, "%s", msg)
			}
		} else {
			st.pendingBegin = -1
			if d == PostgreSQL {
				if msg := st.other(src[t.start:t.end], t.start); msg != "" {
					return nil, fail(t.start, "%s", msg)
				}
			}
		}
		st.ntok++
	}
}

func newStmtState() stmtState { return stmtState{start: -1, pendingBegin: -1} }

// other follows the punctuation of a PostgreSQL statement: as psql does,
// a ';' inside parentheses (CREATE RULE … DO (…; …)) ends no statement.
func (st *stmtState) other(tok string, off int) string {
	switch tok {
	case "(":
		if st.paren == 0 {
			st.parenOff = off
		}
		st.paren++
	case ")":
		if st.paren > 0 {
			st.paren--
		}
	case "\\":
		if st.ntok == 0 {
			return "psql meta-commands (\\connect, \\i, …) are not SQL and are not supported"
		}
	}
	return ""
}

// stmtState follows the words of one statement, to know when a ';' is
// inside a body.
type stmtState struct {
	start, end int
	ntok       int
	lead       []string // the statement's first words, upper case
	// depth counts the open body (1) and the CASE expressions inside it.
	depth   int
	bodyOff int
	bodyMsg string
	// pendingBegin is the offset of a BEGIN that an ATOMIC may follow.
	pendingBegin int
	// paren counts open parentheses (PostgreSQL), the outermost at parenOff.
	paren, parenOff int
	prev            string // the previous word
}

const maxLead = 4

func (st *stmtState) word(w string, off int, d Dialect) string {
	if st.ntok == len(st.lead) && len(st.lead) < maxLead {
		st.lead = append(st.lead, w)
	}
	if st.ntok == 0 && d == MySQL && w == "DELIMITER" {
		return "DELIMITER is a command of the mysql client, not SQL, and is not supported: end each statement with ';'"
	}
	prev := st.prev
	st.prev = w
	if d == PostgreSQL && w == "STDIN" && prev == "FROM" && len(st.lead) > 0 && st.lead[0] == "COPY" {
		return "COPY … FROM STDIN reads data that follows in psql's input, and is not supported: load the data with INSERT statements"
	}
	begin := st.pendingBegin
	st.pendingBegin = -1
	if st.depth > 0 {
		switch w {
		case "CASE":
			st.depth++
		case "END":
			st.depth--
		}
		return ""
	}
	switch {
	case d == PostgreSQL && st.isRoutine():
		if w == "BEGIN" {
			st.pendingBegin = off
		} else if w == "ATOMIC" && begin >= 0 {
			st.depth, st.bodyOff, st.bodyMsg = 1, begin, "unterminated BEGIN ATOMIC body: no END closes it"
		}
	case d == SQLite && st.isTrigger():
		if w == "BEGIN" {
			st.depth, st.bodyOff, st.bodyMsg = 1, off, "unterminated trigger body: no END closes this BEGIN"
		}
	}
	return ""
}

// isRoutine reports whether the statement is CREATE [OR REPLACE]
// FUNCTION|PROCEDURE.
func (st *stmtState) isRoutine() bool {
	l := st.lead
	if len(l) < 2 || l[0] != "CREATE" {
		return false
	}
	if len(l) >= 4 && l[1] == "OR" && l[2] == "REPLACE" {
		return l[3] == "FUNCTION" || l[3] == "PROCEDURE"
	}
	return l[1] == "FUNCTION" || l[1] == "PROCEDURE"
}

// isTrigger reports whether the statement is CREATE [TEMP|TEMPORARY] TRIGGER.
func (st *stmtState) isTrigger() bool {
	l := st.lead
	if len(l) < 2 || l[0] != "CREATE" {
		return false
	}
	if len(l) >= 3 && (l[1] == "TEMP" || l[1] == "TEMPORARY") {
		return l[2] == "TRIGGER"
	}
	return l[1] == "TRIGGER"
}
