package sqlfiles

import (
	"go/ast"
	"slices"
	"strings"
	"unicode"

	"github.com/flamingock/flamingock-go/annotations"
	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/sqlsplit"
)

// parser reads one file.
type parser struct {
	l    *loader
	file string
	src  string
	bom  bool // src starts with a byte order mark, blanked
}

// line is one line of a file, without its line end.
type line struct {
	n    int    // 1-based
	off  int    // offset of its first byte
	next int    // offset of the next line
	text string // without "\n" and a final "\r"
}

func (p *parser) lines() []line {
	var ls []line
	for off, n := 0, 1; off < len(p.src); n++ {
		end := strings.IndexByte(p.src[off:], '\n')
		next := len(p.src)
		if end < 0 {
			end = len(p.src)
		} else {
			end += off
			next = end + 1
		}
		ls = append(ls, line{n: n, off: off, next: next, text: strings.TrimSuffix(p.src[off:end], "\r")})
		off = next
	}
	return ls
}

func (p *parser) errorf(line, col int, format string, args ...any) {
	p.l.errorf(p.file, line, col, format, args...)
}

// commentText returns the text of a "--" line after "--" and blanks, and
// the column of its "--".
func commentText(text string) (rest string, col int, ok bool) {
	trimmed := strings.TrimLeft(text, " \t")
	rest, ok = strings.CutPrefix(trimmed, "--")
	if !ok {
		return "", 0, false
	}
	return strings.TrimLeft(rest, " \t"), len(text) - len(trimmed) + 1, true
}

func isGooseAnnotation(text string) bool {
	rest, _, ok := commentText(text)
	return ok && strings.HasPrefix(rest, "+goose")
}

// isFlamingockDirective reports whether text is a line
// "-- flamingock:<name>…" (any case, so that a mistyped one is reported).
// As in a Go directive, no blank follows the colon: "-- flamingock: note"
// is a comment.
func isFlamingockDirective(text string) bool {
	const prefix = "flamingock:"
	rest, _, ok := commentText(text)
	if !ok || len(rest) <= len(prefix) || !strings.EqualFold(rest[:len(prefix)], prefix) {
		return false
	}
	c := rest[len(prefix)]
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isBlankOrComment(text string) bool {
	t := strings.TrimSpace(text)
	return t == "" || strings.HasPrefix(t, "--")
}

// detect returns the lines of the first goose annotation and of the first
// flamingock directive, 0 when there is none.
func (p *parser) detect() (goose, flamingock int) {
	for _, ln := range p.lines() {
		if goose == 0 && isGooseAnnotation(ln.text) {
			goose = ln.n
		}
		if flamingock == 0 && isFlamingockDirective(ln.text) {
			flamingock = ln.n
		}
	}
	return goose, flamingock
}

// split splits src[from:to], where from starts line n, and positions the
// statements and errors in the file.
func (p *parser) split(from, to, n int) ([]sqlsplit.Statement, bool) {
	stmts, err := sqlsplit.Split(p.src[from:to], p.l.dialect)
	if err != nil {
		e := err.(*sqlsplit.Error)
		p.errorf(e.Line+n-1, e.Col, "%s", e.Msg)
		return nil, false
	}
	for i := range stmts {
		stmts[i].Offset += from
		stmts[i].Line += n - 1
	}
	return stmts, true
}

// checkTx reports the statements that cannot run in a transaction: errors
// in a transactional change (fix says how to mark it), and in a change
// without a transaction nothing. It returns them as notices.
func (p *parser) checkTx(stmts []sqlsplit.Statement, transactional bool, fix string) []Notice {
	var found []Notice
	for _, st := range stmts {
		r, ok := sqlsplit.NoTransactionRule(st, p.l.dialect)
		if !ok {
			continue
		}
		if r.BeforeVersion > 0 {
			v := p.l.opts.MinPostgresVersion
			switch {
			case v >= r.BeforeVersion:
				continue
			case v == 0 && transactional:
				p.l.noticef(p.file, st.Line, st.Col, "%s: this transactional change needs PostgreSQL %d or later (set the oldest server version to check it, or %s)", r.Reason, r.BeforeVersion, fix)
				continue
			}
		}
		found = append(found, Notice{File: p.file, Line: st.Line, Col: st.Col, Msg: r.Reason})
		if transactional && fix != "" {
			p.errorf(st.Line, st.Col, "%s, and the change is transactional: %s", r.Reason, fix)
		}
	}
	return found
}

// emptyUp is the notice of an up section without statements: as in goose
// and golang-migrate, such a change (a no-op, often for one dialect) is
// applied by doing nothing and recorded as applied.
const emptyUp = "the up section holds no statement: it is recorded as applied and does nothing"

// migrate reads a golang-migrate file: the whole file is the section.
func (p *parser) migrate(isUp bool) section {
	s := section{transactional: true, upLine: 1, recovery: audit.RecoveryManual}
	for _, ln := range p.lines() {
		switch {
		case isGooseAnnotation(ln.text):
			_, col, _ := commentText(ln.text)
			p.errorf(ln.n, col, "goose annotation in a golang-migrate file: goose files are named <version>_<name>.sql")
		case isFlamingockDirective(ln.text):
			_, col, _ := commentText(ln.text)
			p.errorf(ln.n, col, "flamingock directive in a golang-migrate file: flamingock files are named <version>_<name>.sql")
		}
	}
	stmts, ok := p.split(0, len(p.src), 1)
	if !ok {
		return s
	}
	if isUp {
		s.up = stmts
		if len(stmts) == 0 {
			p.l.noticef(p.file, 1, 1, "%s", emptyUp)
		}
	} else {
		s.down, s.hasDown = stmts, true
	}
	s.noTx = p.checkTx(stmts, false, "")
	return s
}

// goose reads a goose file.
func (p *parser) goose() section {
	const fix = "mark the file -- +goose NO TRANSACTION"
	s := section{transactional: true, recovery: audit.RecoveryManual}
	const (
		start = iota
		inUp
		inDown
	)
	state := start
	upAt, downAt := 0, 0
	var (
		inBlock     bool
		blockLine   line
		blockCol    int
		regionOff   = -1 // start of the current run of plain SQL
		regionLine  int
		sqlBeforeUp bool
		stmts       []sqlsplit.Statement // of the open section
		noTx        = false
		blocks      [][]sqlsplit.Statement // the statements inside each block
		valid       = true
	)
	flush := func(to int, before string) {
		if regionOff < 0 {
			return
		}
		got, ok := p.split(regionOff, to, regionLine)
		valid = valid && ok
		if n := len(got); n > 0 && !got[n-1].Terminated {
			p.errorf(got[n-1].Line, got[n-1].Col, "statement without ';' before %s: goose ends every statement with ';'", before)
			valid = false
		}
		stmts = append(stmts, got...)
		regionOff = -1
	}
	closeSection := func() {
		switch state {
		case inUp:
			s.up = stmts
		case inDown:
			s.down = stmts
		}
		stmts = nil
	}
	startRegion := func(ln line) { regionOff, regionLine = ln.next, ln.n+1 }

	for _, ln := range p.lines() {
		if !isGooseAnnotation(ln.text) {
			if state == start && !isBlankOrComment(ln.text) && !sqlBeforeUp {
				sqlBeforeUp = true
				p.errorf(ln.n, len(ln.text)-len(strings.TrimLeft(ln.text, " \t"))+1, "SQL before -- +goose Up")
			}
			continue
		}
		rest, col, _ := commentText(ln.text)
		if col != 1 && !(p.bom && ln.n == 1 && col == 4) {
			p.errorf(ln.n, col, "goose annotation not at column 1: goose refuses indented annotations")
			continue
		}
		cmd := strings.TrimSpace(strings.TrimPrefix(rest, "+goose"))
		is := func(name string) bool { return strings.EqualFold(cmd, name) }
		if inBlock && !is("StatementEnd") {
			p.errorf(ln.n, col, "-- +goose %s inside a StatementBegin block (opened at line %d): close it with -- +goose StatementEnd", cmd, blockLine.n)
			continue
		}
		switch {
		case is("Up"):
			if state != start {
				p.errorf(ln.n, col, "duplicate -- +goose Up: first at line %d", upAt)
				continue
			}
			state, upAt, s.upLine = inUp, ln.n, ln.n+1
			startRegion(ln)
		case is("Down"):
			switch state {
			case start:
				p.errorf(ln.n, col, "-- +goose Down before -- +goose Up")
				continue
			case inDown:
				p.errorf(ln.n, col, "duplicate -- +goose Down: first at line %d", downAt)
				continue
			}
			flush(ln.off, "-- +goose Down")
			closeSection()
			state, downAt, s.hasDown = inDown, ln.n, true
			startRegion(ln)
		case is("StatementBegin"):
			if state == start {
				p.errorf(ln.n, col, "-- +goose StatementBegin before -- +goose Up")
				continue
			}
			flush(ln.off, "-- +goose StatementBegin")
			inBlock, blockLine, blockCol = true, ln, col
		case is("StatementEnd"):
			if !inBlock {
				p.errorf(ln.n, col, "-- +goose StatementEnd without -- +goose StatementBegin")
				continue
			}
			inBlock = false
			startRegion(ln)
			inner, ok := p.split(blockLine.next, ln.off, blockLine.n+1)
			if !ok {
				valid = false
				continue
			}
			if len(inner) == 0 {
				p.errorf(blockLine.n, blockCol, "empty -- +goose StatementBegin block")
				valid = false
				continue
			}
			// The block is one statement, sent as written: from its first
			// token to its last non-blank byte, final ';' included.
			first := inner[0]
			text := strings.TrimRight(p.src[first.Offset:ln.off], " \t\r\n\f\v")
			stmts = append(stmts, sqlsplit.Statement{SQL: text, Offset: first.Offset, Line: first.Line, Col: first.Col, Terminated: true})
			// Checked statement by statement once the file's transaction
			// mode is known.
			blocks = append(blocks, inner)
		case is("NO TRANSACTION"):
			noTx = true
			if state != start {
				flush(ln.off, "-- +goose NO TRANSACTION")
				startRegion(ln)
			}
		case is("ENVSUB ON"), is("ENVSUB OFF"):
			p.errorf(ln.n, col, "-- +goose %s is not supported: SQL files are embedded at generate time, and substituting the environment at run time would run SQL no checksum covers", strings.ToUpper(cmd))
		default:
			p.errorf(ln.n, col, "unknown goose annotation %q: want Up, Down, StatementBegin, StatementEnd or NO TRANSACTION", cmd)
		}
	}
	if inBlock {
		p.errorf(blockLine.n, blockCol, "unterminated -- +goose StatementBegin: no -- +goose StatementEnd follows")
		return s
	}
	if state == start {
		p.errorf(1, 1, "no -- +goose Up annotation")
		return s
	}
	flush(len(p.src), "the end of the file")
	closeSection()
	if !valid {
		return s
	}
	if len(s.up) == 0 {
		p.l.noticef(p.file, upAt, 1, "%s", emptyUp)
	}
	s.transactional = !noTx
	if s.transactional {
		// Inside a block, each statement counts; the block itself is
		// checked through them.
		blockStmts := slices.Concat(blocks...)
		var plainStmts []sqlsplit.Statement
		for _, st := range slices.Concat(s.up, s.down) {
			if !slices.ContainsFunc(blockStmts, func(b sqlsplit.Statement) bool { return b.Offset == st.Offset }) {
				plainStmts = append(plainStmts, st)
			}
		}
		p.checkTx(slices.Concat(plainStmts, blockStmts), true, fix)
	}
	return s
}

// header is what a -- flamingock:change line says beyond the section.
type header struct {
	line                int
	id, order           string
	orderLine, orderCol int
}

// flamingock reads a flamingock file.
func (p *parser) flamingock() (section, header) {
	const fix = "add transactional=false to its -- flamingock:change header"
	s := section{transactional: true, recovery: audit.RecoveryManual}
	var h header
	undoAt := 0
	regionOff, regionLine := -1, 0
	sqlBefore := false
	var up, down []sqlsplit.Statement
	valid := true
	flush := func(to int) []sqlsplit.Statement {
		if regionOff < 0 {
			return nil
		}
		got, ok := p.split(regionOff, to, regionLine)
		valid = valid && ok
		return got
	}
	for _, ln := range p.lines() {
		if !isFlamingockDirective(ln.text) {
			if h.line == 0 && !isBlankOrComment(ln.text) && !sqlBefore {
				sqlBefore = true
				p.errorf(ln.n, len(ln.text)-len(strings.TrimLeft(ln.text, " \t"))+1, "SQL before the -- flamingock:change header")
			}
			continue
		}
		rest, col, _ := commentText(ln.text)
		dirCol := len(ln.text) - len(rest) + 1 // column of "flamingock:"
		if !strings.HasPrefix(rest, "flamingock:") {
			p.errorf(ln.n, dirCol, "write flamingock directives in lower case: -- flamingock:…")
			continue
		}
		name, args, _ := strings.Cut(rest[len("flamingock:"):], " ")
		name = strings.TrimRightFunc(name, unicode.IsSpace)
		switch name {
		case "change":
			if h.line != 0 {
				p.errorf(ln.n, col, "second -- flamingock:change header: the first is at line %d", h.line)
				continue
			}
			h.line, s.upLine = ln.n, ln.n+1
			p.header(ln, dirCol, &s, &h)
			regionOff, regionLine = ln.next, ln.n+1
		case "undo":
			switch {
			case h.line == 0:
				p.errorf(ln.n, col, "-- flamingock:undo before the -- flamingock:change header")
				continue
			case undoAt != 0:
				p.errorf(ln.n, col, "second -- flamingock:undo: the first is at line %d", undoAt)
				continue
			case strings.TrimSpace(args) != "":
				p.errorf(ln.n, col, "-- flamingock:undo takes no attribute")
			}
			up = flush(ln.off)
			undoAt, s.hasDown = ln.n, true
			regionOff, regionLine = ln.next, ln.n+1
		default:
			p.errorf(ln.n, dirCol, "unknown directive -- flamingock:%s: the directives are -- flamingock:change and -- flamingock:undo", name)
		}
	}
	if h.line == 0 {
		p.errorf(1, 1, "no -- flamingock:change header")
		return s, h
	}
	if undoAt == 0 {
		up = flush(len(p.src))
	} else {
		down = flush(len(p.src))
	}
	if !valid {
		return s, h
	}
	s.up, s.down = up, down
	if len(up) == 0 {
		p.l.noticef(p.file, h.line, 1, "%s", emptyUp)
	}
	if s.transactional {
		p.checkTx(slices.Concat(up, down), true, fix)
	}
	return s, h
}

// Attributes of the -- flamingock:change header.
var headerAttrs = []string{"id", "order", "author", "recovery", "transactional", "profile"}

// header parses the attributes of a -- flamingock:change line, whose
// "flamingock:" is at column dirCol.
func (p *parser) header(ln line, dirCol int, s *section, h *header) {
	// As a Go directive, so that quoting follows the Go directive's rules;
	// offset i of text is column dirCol-2+i of the line.
	text := "//" + ln.text[dirCol-1:]
	d, ok := ast.ParseDirective(0, text)
	if !ok || d.Tool != "flamingock" || d.Name != "change" {
		p.errorf(ln.n, dirCol, "malformed -- flamingock:change header")
		return
	}
	colOf := func(pos int) int { return dirCol - 2 + pos }
	args, err := d.ParseArgs()
	if err != nil {
		p.errorf(ln.n, colOf(int(d.ArgsPos)), `malformed quoted attribute: quote a whole attribute as a Go string, as in "author=Alice Smith"`)
		return
	}
	seen := map[string]bool{}
	for _, a := range args {
		col := colOf(int(a.Pos))
		name, value, hasEq := strings.Cut(a.Arg, "=")
		fail := func(format string, args ...any) { p.errorf(ln.n, col, format, args...) }
		switch {
		case !hasEq || name == "":
			fail("malformed attribute %q: want name=value", a.Arg)
			continue
		case name == "target":
			fail("target is not an attribute of a SQL file: the package directive names the target of every SQL file")
			continue
		case name == "rollback":
			fail("rollback is not an attribute of a SQL file: write the undo after a -- flamingock:undo line")
			continue
		case name == "compensate":
			fail("compensate is not an attribute of a SQL file: its undo is run by RollbackTo only")
			continue
		case !slices.Contains(headerAttrs, name):
			fail("unknown attribute %q: the attributes are %s", name, strings.Join(headerAttrs, ", "))
			continue
		case seen[name]:
			fail("repeated attribute %q", name)
			continue
		case value == "":
			fail("empty value for %s", name)
			continue
		}
		seen[name] = true
		switch name {
		case "id":
			if msg := idProblem(value); msg != "" {
				fail("invalid id %q: %s", value, msg)
			}
			h.id = value
		case "order":
			if !isDecimal(value) {
				fail("invalid order %q: want a non-negative decimal integer", value)
				continue
			}
			h.order, h.orderLine, h.orderCol = value, ln.n, col
		case "author":
			switch {
			case strings.ContainsFunc(value, unicode.IsControl):
				fail("invalid author: control characters are not allowed")
			case len(value) > audit.MaxAuthorLen:
				fail("invalid author: %d bytes is longer than %d, the most every audit store takes", len(value), audit.MaxAuthorLen)
			}
			s.author = value
		case "recovery":
			switch value {
			case "manual":
				s.recovery = audit.RecoveryManual
			case "retry":
				s.recovery = audit.RecoveryRetry
			default:
				fail("invalid recovery %q: want manual or retry", value)
			}
		case "transactional":
			if value != "true" && value != "false" {
				fail("invalid transactional %q: want true or false", value)
			}
			s.transactional = value != "false"
		case "profile":
			names, errs := annotations.ParseProfiles(value)
			for _, e := range errs {
				at := col // a quoted attribute: at the attribute
				if q := ln.text[col-1]; q != '"' && q != '`' {
					at = col + len("profile=") + e.Offset
				}
				p.errorf(ln.n, at, "%s", e.Msg)
			}
			s.profiles = names
		}
	}
}
