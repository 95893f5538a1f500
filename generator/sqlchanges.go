package generator

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/flamingock/flamingock-go/annotations"
	"github.com/flamingock/flamingock-go/generator/sqlfiles"
	"github.com/flamingock/flamingock-go/internal/sqlsplit"
)

// SQL files are changes: the .sql files beside the Go files of a package
// that holds the //flamingock:sql package directive (annotations.SQL) are
// read by package sqlfiles, and each becomes a change of the model like a
// Go one, on the directive's target. sqlchanges.go turns them into
// changes; render writes them as embedded files and statement spans.

// sqlChange is what a change read from SQL files runs.
type sqlChange struct {
	// up and down are the sections; down is nil when the change declares
	// no undo.
	up, down *sqlScript
	// adapter is the import path of the package whose Exec adapts the
	// handle to sqlscript.Script.Exec.
	adapter string
}

// Import paths of the generated code of SQL changes.
const (
	sqlscriptPath = "github.com/flamingock/flamingock-go/runtime/sqlscript"
	sqltargetPath = "github.com/flamingock/flamingock-go/runtime/sqltarget"
	pgxtargetPath = "github.com/flamingock/flamingock-go/runtime/pgxtarget"
)

// sqlScript is one section of a change, as the generated code embeds it.
type sqlScript struct {
	// file is the file holding the section, relative to the package
	// directory.
	file  string
	spans []span
}

// span is one statement: the file's text [start, end), at line:col.
type span struct{ start, end, line, col int }

// embeddable matches the file names that //go:embed takes as they are.
var embeddable = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// packageDirective records the //flamingock:sql directive cm, if it is one,
// and reports whether it is.
func (c *checker) packageDirective(cm *ast.Comment) bool {
	d, ok, err := annotations.ParseSQLComment(cm)
	if !ok {
		return false
	}
	c.addDirectiveErrors(err)
	if c.sqlDirective != nil {
		c.add(cm.Slash, "second //flamingock:sql directive (first at %s): a package has one", where(c.fset.Position(c.sqlDirective.Pos)))
		return true
	}
	c.sqlDirective, c.sqlDirectiveBad = &d, err != nil
	return true
}

// sqlChanges returns the changes of the package's SQL files, reporting
// their problems. It reads nothing when the directory is unknown (an
// analysis pass).
func (c *checker) sqlChanges() []*change {
	entries, ok := c.dirEntries()
	if !ok {
		return nil
	}
	var first string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			first = e.Name()
			break
		}
	}
	d := c.sqlDirective
	switch {
	case d == nil && first != "":
		c.errs = append(c.errs, &Error{Pos: c.fileStart(first), Msg: fmt.Sprintf(
			"%s is a change file, but the package does not say what its SQL files run on: add //flamingock:sql target=… handle=database/sql|pgx dialect=postgres|sqlite|mysql to a Go file of the package", first)})
		return nil
	case d == nil || c.sqlDirectiveBad:
		return nil
	case first == "":
		c.warnings = append(c.warnings, &Error{Pos: c.fset.Position(d.Pos), Msg: "//flamingock:sql, but the package directory holds no .sql file"})
		return nil
	}

	loaded, notices, errs := sqlfiles.Load(os.DirFS(c.dir), sqlfiles.Options{Dialect: d.Dialect, MinPostgresVersion: d.MinPostgres})
	for _, n := range notices {
		c.warnings = append(c.warnings, &Error{Pos: c.sqlPosition(n.File, n.Line, n.Col), Msg: n.Msg})
	}
	for _, e := range errs {
		c.errs = append(c.errs, &Error{Pos: c.sqlPosition(e.File, e.Line, e.Col), Msg: e.Msg})
	}
	handle := c.sqlHandle(d.Handle)
	dialect, _ := sqlsplit.ParseDialect(d.Dialect)
	var changes []*change
	for _, l := range loaded {
		if ch := c.sqlChange(d, l, handle, dialect); ch != nil {
			changes = append(changes, ch)
		}
	}
	return changes
}

// sqlPosition positions a problem that sqlfiles found in file; a problem
// of no file is the directive's.
func (c *checker) sqlPosition(file string, line, col int) token.Position {
	if file == "" || file == "." {
		return c.fset.Position(c.sqlDirective.Pos)
	}
	return token.Position{Filename: filepath.Join(c.dir, file), Line: line, Column: col}
}

// changeFile reads file (a SQL or YAML file, relative to the package
// directory) once and adds it to the file set, so that changes and
// problems in it are positioned as Go ones are.
func (c *checker) changeFile(file string) (*token.File, []byte, error) {
	path := filepath.Join(c.dir, file)
	if tf, ok := c.changeFiles[file]; ok {
		return tf.file, tf.data, nil
	}
	data, err := c.readFile(path)
	if err != nil {
		return nil, nil, err
	}
	tf := c.fset.AddFile(path, -1, len(data))
	tf.SetLinesForContent(data)
	if c.changeFiles == nil {
		c.changeFiles = map[string]changeFileData{}
	}
	c.changeFiles[file] = changeFileData{tf, data}
	return tf, data, nil
}

type changeFileData struct {
	file *token.File
	data []byte
}

// dirEntries lists the package directory once, for its SQL and YAML files;
// ok is false when the directory is unknown (an analysis pass) or cannot be
// listed (reported once).
func (c *checker) dirEntries() (entries []os.DirEntry, ok bool) {
	if c.dir == "" {
		return nil, false
	}
	if c.listing == nil {
		entries, err := os.ReadDir(c.dir)
		if err != nil {
			c.errs = append(c.errs, &Error{Pos: token.Position{Filename: c.dir}, Msg: fmt.Sprintf("cannot list the package directory for its SQL and YAML files: %v", err)})
		}
		c.listing = &listing{entries, err == nil}
	}
	return c.listing.entries, c.listing.ok
}

// listing is the package directory as dirEntries listed it.
type listing struct {
	entries []os.DirEntry
	ok      bool
}

// fileStart is the position of line 1, column 1 of file, relative to the
// package directory.
func (c *checker) fileStart(file string) token.Position {
	return token.Position{Filename: filepath.Join(c.dir, file), Line: 1, Column: 1}
}

// addDirectiveErrors reports the positioned problems of a package
// directive.
func (c *checker) addDirectiveErrors(err error) {
	var list annotations.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			c.add(e.Pos, "%s", e.Msg)
		}
	}
}

// at returns the position of line:col in tf.
func at(tf *token.File, line, col int) token.Pos {
	if line < 1 || line > tf.LineCount() {
		return tf.Pos(0)
	}
	return tf.LineStart(line) + token.Pos(col-1)
}

// sqlChange makes the change of l, or reports why it cannot be one.
func (c *checker) sqlChange(d *annotations.SQL, l sqlfiles.Change, handle types.Type, dialect sqlsplit.Dialect) *change {
	tf, data, err := c.changeFile(l.File)
	if err != nil {
		c.errs = append(c.errs, &Error{Pos: c.fileStart(l.File), Msg: fmt.Sprintf("cannot read: %v", err)})
		return nil
	}
	start := tf.Pos(0)
	ok := true
	for _, f := range []string{l.File, l.DownFile} {
		if f != "" && !embeddable.MatchString(f) {
			c.errs = append(c.errs, &Error{Pos: c.fileStart(f), Msg: fmt.Sprintf(
				"file name %q cannot be embedded as it is: rename it with letters, digits, '.', '_', '-' and '+' only", f)})
			ok = false
		}
	}
	// On PostgreSQL and SQLite, sqltarget runs every change in a
	// transaction. On MySQL it runs a change without one with a *sql.Tx
	// whose statements each commit on their own (MySQL commits data
	// definition anyway, and sqlfiles makes every change holding some
	// non-transactional): the generated code is the same ScriptFunc, and
	// the change's Meta says WithoutTransaction.
	if !l.Transactional && d.Handle == annotations.HandleDatabaseSQL && dialect != sqlsplit.MySQL {
		line, col := noTxPosition(l, string(data), dialect)
		c.add(at(tf, line, col), "change %q runs without a transaction, and target %q is a database/sql target (handle=database/sql), which runs every change in a transaction: use a pgx target (handle=pgx) for changes that cannot run in one", l.ID, d.Target)
		ok = false
	}
	if !ok {
		return nil
	}
	ann := annotations.Change{
		Pos: start, ID: l.ID, Order: l.Order, HasOrder: true, Target: d.Target, Author: l.Author,
		Recovery: l.Recovery, Transactional: l.Transactional, Profiles: l.Profiles,
	}
	line := l.UpLine
	if len(l.Up) > 0 {
		line = l.Up[0].Line
	}
	ch := &change{
		ann:      ann,
		file:     tf.Name(),
		decl:     start,
		name:     l.ID,
		handle:   handle,
		order:    l.Order,
		orderPos: start,
		checksum: l.Checksum,
		source:   fmt.Sprintf("%s:%d", l.File, line),
		sql:      &sqlChange{up: &sqlScript{file: l.File, spans: spans(l.Up)}, adapter: sqltargetPath},
	}
	if d.Handle == annotations.HandlePgx {
		ch.sql.adapter = pgxtargetPath
	}
	if l.HasDown {
		file := l.File
		if l.DownFile != "" {
			file = l.DownFile
		}
		ch.sql.down = &sqlScript{file: file, spans: spans(l.Down)}
	}
	return ch
}

func spans(stmts []sqlsplit.Statement) []span {
	out := make([]span, len(stmts))
	for i, st := range stmts {
		out[i] = span{start: st.Offset, end: st.Offset + len(st.SQL), line: st.Line, col: st.Col}
	}
	return out
}

// noTxPosition returns where change l says it runs without a transaction:
// its "-- +goose NO TRANSACTION" line, its transactional=false attribute,
// or (golang-migrate) its first statement that cannot run in one.
func noTxPosition(l sqlfiles.Change, text string, dialect sqlsplit.Dialect) (line, col int) {
	switch l.Form {
	case sqlfiles.Goose, sqlfiles.Flamingock:
		for i, ln := range strings.Split(text, "\n") {
			t := strings.ToLower(ln)
			if l.Form == sqlfiles.Goose {
				if rest, ok := strings.CutPrefix(t, "--"); ok && strings.TrimSpace(rest) == "+goose no transaction" {
					return i + 1, 1
				}
			} else if strings.HasPrefix(strings.TrimSpace(t), "--") {
				if j := strings.Index(t, "transactional=false"); j >= 0 {
					return i + 1, j + 1
				}
			}
		}
	case sqlfiles.Migrate:
		for _, st := range l.Up {
			if _, ok := sqlsplit.NoTransactionRule(st, dialect); ok {
				return st.Line, st.Col
			}
		}
	}
	return 1, 1
}

// sqlHandle returns the handle type of the directive's handle: the
// package's own *sql.Tx or pgx.Tx when it (or a package it imports)
// imports that package, so that a Go change on the same target compares
// equal, and otherwise a type of that name.
func (c *checker) sqlHandle(handle string) types.Type {
	path, pkgName, ptr := "database/sql", "sql", true
	if handle == annotations.HandlePgx {
		path, pkgName, ptr = "github.com/jackc/pgx/v5", "pgx", false
	}
	var found types.Type
	seen := map[*types.Package]bool{}
	var walk func(p *types.Package)
	walk = func(p *types.Package) {
		if found != nil || seen[p] {
			return
		}
		seen[p] = true
		if p.Path() == path {
			if tn, ok := p.Scope().Lookup("Tx").(*types.TypeName); ok {
				found = tn.Type()
			}
			return
		}
		for _, q := range p.Imports() {
			walk(q)
		}
	}
	walk(c.pkg)
	if found == nil {
		tn := types.NewTypeName(token.NoPos, types.NewPackage(path, pkgName), "Tx", nil)
		found = types.NewNamed(tn, types.NewStruct(nil, nil), nil)
	}
	if ptr {
		return types.NewPointer(found)
	}
	return found
}
