package sqlfiles

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/flamingock/flamingock-go/annotations"
	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/sqlsplit"
)

// Form is the form of a change's files.
type Form string

// The three forms.
const (
	Goose      Form = "goose"
	Migrate    Form = "golang-migrate"
	Flamingock Form = "flamingock"
)

// Options says how to read a directory.
type Options struct {
	// Dialect is the database the files run on: postgres, sqlite or mysql
	// (see sqlsplit.ParseDialect). It picks the variant files and the
	// splitting rules. Required.
	Dialect string
	// MinPostgresVersion is the oldest PostgreSQL major version the
	// changes must run on, 0 when unknown. Below 12, ALTER TYPE … ADD
	// VALUE in a transactional change is an error; at 0 it is a notice.
	MinPostgresVersion int
}

// Change is one change read from SQL files.
type Change struct {
	// ID is the id= attribute (flamingock form) or the file's
	// <version>_<name>.
	ID string
	// Name is the <name> part of the file name.
	Name string
	// Order is the version in the file name, or order= (flamingock form).
	Order audit.Order
	Form  Form
	// Up and Down are the statements of each section, positioned in File
	// and DownFile. Up is empty for a change that does nothing (an empty
	// up section, reported in a notice): it is recorded as applied.
	Up, Down []sqlsplit.Statement
	// HasDown is true when the change declares an undo: a down section or
	// a down file, even an empty one (an undo that does nothing).
	HasDown bool
	// Transactional is false for "-- +goose NO TRANSACTION",
	// transactional=false, a golang-migrate change holding a statement
	// that cannot run in a transaction, and, on MySQL, a change whose up
	// or down section holds a statement that commits implicitly
	// (sqlsplit.ImplicitCommit: data definition and the like).
	Transactional bool
	Author        string
	Recovery      audit.Recovery
	// Profiles are the profile= names of a flamingock form header, as
	// written (see annotations.ParseProfiles); nil for the other forms.
	Profiles []string
	// File holds the up section (and the down section but in the
	// golang-migrate form); DownFile is the golang-migrate down file, or "".
	File, DownFile string
	// UpLine is the line of File where the up section starts.
	UpLine int
	// Checksum is the hex sha256 of the change's files (see the package
	// documentation).
	Checksum string
}

// Error is one problem in a file.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Notice is something Load did that the user should know, such as a file
// it skipped.
type Notice struct {
	File      string
	Line, Col int
	Msg       string
}

func (n Notice) String() string { return fmt.Sprintf("%s:%d:%d: %s", n.File, n.Line, n.Col, n.Msg) }

func isDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// direction of a file: plain (.sql), up (.up.sql) or down (.down.sql).
type direction int

const (
	plain direction = iota
	up
	down
)

// fileName is what a change file's name says.
type fileName struct {
	file    string
	version string // as written; "" when the name has none
	name    string
	base    string // the name without its extensions: <version>_<name>
	dialect string // canonical name of the file's dialect (see fileDialects), "" for all
	dir     direction
}

// fileDialects maps the dialect suffixes of file names, lower case, to the
// dialect's canonical name. Only postgres, sqlite and mysql can be chosen
// (Options.Dialect); the others are known so that their variants are
// skipped rather than read as files for every dialect. The suffixes are
// those of pop/fizz (postgres, cockroach, mysql, sqlite3), goose's
// dialects, and the usual driver names.
var fileDialects = map[string]string{
	"postgres": "postgres", "postgresql": "postgres", "pgx": "postgres",
	"sqlite": "sqlite", "sqlite3": "sqlite",
	"mysql":     "mysql",
	"mariadb":   "mariadb",
	"cockroach": "cockroach", "cockroachdb": "cockroach", "crdb": "cockroach",
	"sqlserver": "sqlserver", "mssql": "sqlserver",
	"spanner":    "spanner",
	"clickhouse": "clickhouse",
	"redshift":   "redshift",
	"tidb":       "tidb",
	"oracle":     "oracle",
	"snowflake":  "snowflake",
	"vertica":    "vertica",
	"ydb":        "ydb",
	"turso":      "turso", "libsql": "turso",
	"starrocks": "starrocks",
}

func parseName(file string) fileName {
	fn := fileName{file: file}
	base := strings.TrimSuffix(file, ".sql")
	if b, ok := strings.CutSuffix(base, ".up"); ok {
		base, fn.dir = b, up
	} else if b, ok := strings.CutSuffix(base, ".down"); ok {
		base, fn.dir = b, down
	}
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		if d, ok := fileDialects[strings.ToLower(base[i+1:])]; ok {
			base, fn.dialect = base[:i], d
		}
	}
	fn.base = base
	if v, name, ok := strings.Cut(base, "_"); ok && isDecimal(v) {
		fn.version, fn.name = v, name
	} else {
		fn.name = base
	}
	return fn
}

// unit is one file read and parsed.
type unit struct {
	fileName
	form     Form
	raw      []byte
	order    audit.Order
	id       string
	sections section
}

// section is what a parser found in one file.
type section struct {
	up, down      []sqlsplit.Statement
	hasDown       bool
	transactional bool
	upLine        int
	author        string
	recovery      audit.Recovery
	profiles      []string
	// noTx lists the statements that cannot run in a transaction, for the
	// golang-migrate form, which decides after reading both files.
	noTx []Notice
}

// loader collects the problems of one Load.
type loader struct {
	opts    Options
	dialect sqlsplit.Dialect
	errs    []*Error
	notices []Notice
}

func (l *loader) errorf(file string, line, col int, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) noticef(file string, line, col int, format string, args ...any) {
	l.notices = append(l.notices, Notice{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// Load reads the .sql files at the root of fsys and returns their changes
// sorted by order, what it skipped or decided on its own, and every
// problem found. When there is a problem, it returns no change.
func Load(fsys fs.FS, opts Options) ([]Change, []Notice, []*Error) {
	d, ok := sqlsplit.ParseDialect(opts.Dialect)
	if !ok {
		return nil, nil, []*Error{{Msg: fmt.Sprintf("unknown SQL dialect %q: want postgres, sqlite or mysql", opts.Dialect)}}
	}
	l := &loader{opts: opts, dialect: d}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, []*Error{{File: ".", Line: 1, Col: 1, Msg: fmt.Sprintf("cannot read the directory: %v", err)}}
	}
	var units []*unit
	skippedUps := map[audit.Order][]string{} // the dialects of the skipped up files of an order
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		fn := parseName(e.Name())
		if fn.dialect != "" && fn.dialect != d.String() {
			l.noticef(fn.file, 1, 1, "skipped: a variant for %v, and the dialect is %v", fn.dialect, d)
			if o, err := audit.ParseOrder(fn.version); err == nil && fn.dir != down && !slices.Contains(skippedUps[o], fn.dialect) {
				skippedUps[o] = append(skippedUps[o], fn.dialect)
			}
			continue
		}
		if u := l.read(fsys, fn); u != nil {
			units = append(units, u)
		}
	}
	changes := l.build(units, skippedUps)
	slices.SortFunc(l.errs, func(a, b *Error) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col), strings.Compare(a.Msg, b.Msg))
	})
	slices.SortStableFunc(l.notices, func(a, b Notice) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	if len(l.errs) > 0 {
		return nil, l.notices, l.errs
	}
	return changes, l.notices, nil
}

// read reads and parses one file, or reports why it cannot.
func (l *loader) read(fsys fs.FS, fn fileName) *unit {
	raw, err := fs.ReadFile(fsys, fn.file)
	if err != nil {
		l.errorf(fn.file, 1, 1, "cannot read: %v", err)
		return nil
	}
	src := string(raw)
	if !utf8.ValidString(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRuneInString(src[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		line := 1 + strings.Count(src[:off], "\n")
		col := off - (strings.LastIndexByte(src[:off], '\n') + 1) + 1
		l.errorf(fn.file, line, col, "invalid UTF-8: a SQL file must be UTF-8 encoded")
		return nil
	}
	// A byte order mark is not SQL; blanking it keeps every offset.
	rest, bom := strings.CutPrefix(src, "\ufeff")
	if bom {
		src = "   " + rest
	}
	u := &unit{fileName: fn, raw: raw}
	p := &parser{l: l, file: fn.file, src: src, bom: bom}
	nerr := len(l.errs)
	switch {
	case fn.dir != plain:
		u.form = Migrate
		if fn.version == "" {
			l.errorf(fn.file, 1, 1, "invalid version in file name %q: want <version>_<name>.%s.sql, <version> a decimal integer", fn.file, map[direction]string{up: "up", down: "down"}[fn.dir])
		}
		u.sections = p.migrate(fn.dir == up)
	default:
		goose, flam := p.detect()
		switch {
		case goose > 0 && flam > 0:
			l.errorf(fn.file, flam, 1, "flamingock directive in a goose file (goose annotation at line %d): use one form per file", goose)
		case goose > 0:
			u.form = Goose
			if fn.version == "" {
				l.errorf(fn.file, 1, 1, "invalid version in file name %q: want <version>_<name>.sql, <version> a decimal integer", fn.file)
			}
			u.sections = p.goose()
		case flam > 0:
			u.form = Flamingock
			var h header
			u.sections, h = p.flamingock()
			switch {
			case h.order != "" && fn.version != "" && audit.MustParseOrder(h.order) != audit.MustParseOrder(fn.version):
				l.errorf(fn.file, h.orderLine, h.orderCol, "order=%s differs from the file name's version %s: make them equal, or drop order=", h.order, fn.version)
			case h.order == "" && fn.version == "" && h.line > 0:
				l.errorf(fn.file, h.line, 1, "no order: name the file <version>_<name>.sql or add order=N")
			}
			u.id = h.id
			if h.order != "" {
				fn.version = h.order
			}
		default:
			l.errorf(fn.file, 1, 1, "not a change file: a .sql file of a package of changes holds \"-- +goose Up\" (goose), \"-- flamingock:change\" (flamingock), or is named <version>_<name>.up.sql / .down.sql (golang-migrate)")
		}
	}
	if len(l.errs) > nerr {
		return nil
	}
	order, err := audit.ParseOrder(fn.version)
	if err != nil {
		l.errorf(fn.file, 1, 1, "no order: name the file <version>_<name>.sql")
		return nil
	}
	u.order = order
	if u.id == "" {
		u.id = fn.base
		if msg := idProblem(u.id); msg != "" {
			l.errorf(fn.file, 1, 1, "the file name gives the id %q: %s; rename the file%s", u.id, msg, map[bool]string{true: " or set id=…", false: ""}[u.form == Flamingock])
			return nil
		}
	}
	return u
}

// idProblem says why s is not a valid change id, or "".
func idProblem(s string) string {
	switch {
	case len(s) > audit.MaxIDLen:
		return fmt.Sprintf("%d bytes is longer than %d, the most every audit store takes", len(s), audit.MaxIDLen)
	case !annotations.ValidID(s):
		return annotations.IDRule
	}
	return ""
}

// build groups the units by order and makes their changes.
func (l *loader) build(units []*unit, skippedUps map[audit.Order][]string) []Change {
	groups := map[audit.Order][]*unit{}
	var orders []audit.Order
	for _, u := range units {
		if _, ok := groups[u.order]; !ok {
			orders = append(orders, u.order)
		}
		groups[u.order] = append(groups[u.order], u)
	}
	slices.SortFunc(orders, audit.Order.Compare)
	var changes []Change
	ids := map[string]string{} // id → file
	for _, o := range orders {
		g := groups[o]
		slices.SortFunc(g, func(a, b *unit) int { return strings.Compare(a.file, b.file) })
		ch, ok := l.change(o, g, skippedUps[o])
		if !ok {
			continue
		}
		if first, dup := ids[ch.ID]; dup {
			l.errorf(ch.File, 1, 1, "duplicate change id %q: first declared by %s", ch.ID, first)
			continue
		}
		ids[ch.ID] = ch.File
		changes = append(changes, ch)
	}
	return changes
}

// change makes the change of the units of one order, or reports why the
// units do not make one. skippedUps are the dialects of the order's up
// files skipped as other dialects' variants.
//
// The up file, and the down file, is the chosen dialect's when there is
// one (a file for all dialects beside it is skipped, with a notice), else
// the one for all dialects, as pop picks them. A down file for all
// dialects whose version has up files for other dialects only is skipped,
// with a notice: the version is no change for this dialect.
// preferDialect drops from units, files of one direction of one version,
// the ones for all dialects when one is the chosen dialect's, saying so.
func (l *loader) preferDialect(units []*unit, dir string) []*unit {
	i := slices.IndexFunc(units, func(u *unit) bool { return u.dialect != "" })
	if i < 0 {
		return units
	}
	own := units[i]
	return slices.DeleteFunc(units, func(u *unit) bool {
		if u.dialect == "" {
			l.noticef(u.file, 1, 1, "skipped: %s, the %s file for %s, takes its place", own.file, dir, own.dialect)
			return true
		}
		return false
	})
}

func (l *loader) change(order audit.Order, g []*unit, skippedUps []string) (Change, bool) {
	var ups, downs []*unit
	for _, u := range g {
		if u.dir == down {
			downs = append(downs, u)
		} else {
			ups = append(ups, u)
		}
	}
	ups, downs = l.preferDialect(ups, "up"), l.preferDialect(downs, "down")
	if len(ups) == 0 && len(downs) == 1 && downs[0].dialect == "" && len(skippedUps) > 0 {
		l.noticef(downs[0].file, 1, 1, "skipped: version %s has no up file for %v (its up files are variants for %s)", order, l.dialect, strings.Join(skippedUps, ", "))
		return Change{}, false
	}
	g = append(ups, downs...)
	for _, u := range g[1:] {
		if u.form != g[0].form {
			l.errorf(u.file, 1, 1, "mixed forms for version %s: %s is a %s file and %s a %s file", order, g[0].file, g[0].form, u.file, u.form)
			return Change{}, false
		}
	}
	var upU, downU *unit
	for _, u := range g {
		slot := &upU
		if u.dir == down {
			slot = &downU
		}
		if *slot != nil {
			l.errorf(u.file, 1, 1, "two files with version %s: %s and %s", order, (*slot).file, u.file)
			return Change{}, false
		}
		*slot = u
	}
	if upU == nil {
		l.errorf(downU.file, 1, 1, "down file without an up file: want %s.up.sql beside it", strings.TrimSuffix(strings.TrimSuffix(downU.file, ".sql"), ".down"))
		return Change{}, false
	}
	if downU != nil && downU.base != upU.base {
		l.errorf(downU.file, 1, 1, "two files with version %s: %s and %s have different names", order, upU.file, downU.file)
		return Change{}, false
	}
	s := upU.sections
	ch := Change{
		ID: upU.id, Name: upU.name, Order: order, Form: upU.form,
		Up: s.up, Down: s.down, HasDown: s.hasDown, Transactional: s.transactional,
		Author: s.author, Recovery: s.recovery, Profiles: s.profiles,
		File: upU.file, UpLine: s.upLine,
	}
	sum := sha256.Sum256(upU.raw)
	if downU != nil {
		d := downU.sections
		ch.Down, ch.HasDown, ch.DownFile = d.down, true, downU.file
		downSum := sha256.Sum256(downU.raw)
		sum = sha256.Sum256(append(sum[:], downSum[:]...))
		s.noTx = append(s.noTx, d.noTx...)
	}
	ch.Checksum = hex.EncodeToString(sum[:])
	if ch.Form == Migrate && len(s.noTx) > 0 {
		ch.Transactional = false
		for _, n := range s.noTx {
			l.noticef(n.File, n.Line, n.Col, "%s: change %s runs without a transaction", n.Msg, ch.ID)
		}
	}
	// MySQL commits before and after data definition: a change holding
	// some cannot be atomic, so it runs as one without a transaction does
	// (STARTED, each statement's progress recorded, APPLIED), and so does
	// its undo, whichever section holds it. No notice: most MySQL changes
	// are DDL, and one on each would be noise.
	if l.dialect == sqlsplit.MySQL && slices.ContainsFunc(slices.Concat(ch.Up, ch.Down), commitsImplicitly) {
		ch.Transactional = false
	}
	return ch, true
}

// commitsImplicitly reports whether MySQL commits the open transaction
// when it runs st.
func commitsImplicitly(st sqlsplit.Statement) bool {
	_, ok := sqlsplit.ImplicitCommit(st)
	return ok
}
