package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing/fstest"

	"github.com/flamingock/flamingock-go/generator/sqlfiles"
	"github.com/flamingock/flamingock-go/internal/digest"
	"github.com/flamingock/flamingock-go/runtime/sqlscript"
)

// statementKind is the single statement each change of a set runs.
type statementKind string

const (
	// insert is a data migration of one row into a table that exists
	// before the run: the cheapest statement, so that what the tool adds
	// shows, and no files are created, so that disk noise stays out.
	insert statementKind = "insert"
	// createTable is a typical schema migration: a table with a primary
	// key (and, for its text column, a TOAST table), five files each.
	createTable statementKind = "create-table"
)

// rowsTable is the table the insert statements write to.
const rowsTable = "bench_rows"

func (k statementKind) valid() bool { return k == createTable || k == insert }

// statement is change i's statement (i from 1).
func (k statementKind) statement(i int) string {
	if k == createTable {
		return fmt.Sprintf("CREATE TABLE bench_t%05d (id bigint PRIMARY KEY, name text NOT NULL)", i)
	}
	return fmt.Sprintf("INSERT INTO %s (i) VALUES (%d)", rowsTable, i)
}

// setupSQL is what must exist before the first change runs.
func (k statementKind) setupSQL() string {
	if k == insert {
		return "CREATE TABLE " + rowsTable + " (i bigint NOT NULL)"
	}
	return ""
}

// countSQL counts the effects of the changes applied so far, on MySQL
// when mysql is set.
func (k statementKind) countSQL(mysql bool) string {
	if k == createTable && mysql {
		return `SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'bench\_t%'`
	}
	if k == createTable {
		return `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public' AND tablename LIKE 'bench\_t%'`
	}
	return "SELECT count(*) FROM " + rowsTable
}

// changeSet is one list of N changes in the form every tool reads it. What
// an application has at compile time (file systems, ids, checksums) is
// built here, untimed; what it builds at run time (flamingock's stage) is
// built by the tool inside the timed part.
type changeSet struct {
	kind       statementKind
	statements []string // statements[i] is the change of version i+1
	ids        []string
	checksums  []string
	sources    []string
	// digest is the stage's digest, which flamingock-gen writes into the
	// generated Stage as a constant.
	digest string
	// scripts, when set (loadFiles), are flamingock's changes.
	scripts   []sqlscript.Script
	gooseFS   fstest.MapFS
	migrateFS fstest.MapFS
}

func newChangeSet(kind statementKind, n int) *changeSet {
	s := &changeSet{kind: kind, gooseFS: fstest.MapFS{}, migrateFS: fstest.MapFS{}}
	d := digest.NewStage()
	defer func() { s.digest = d.Sum() }()
	for i := 1; i <= n; i++ {
		stmt := kind.statement(i)
		sum := sha256.Sum256([]byte(stmt))
		s.statements = append(s.statements, stmt)
		s.ids = append(s.ids, fmt.Sprintf("change-%05d", i))
		s.checksums = append(s.checksums, hex.EncodeToString(sum[:]))
		s.sources = append(s.sources, fmt.Sprintf("changes/change_%05d.go:12", i))
		d.Add(s.ids[i-1], s.checksums[i-1])
		s.gooseFS[fmt.Sprintf("%05d_change.sql", i)] = &fstest.MapFile{
			Data: fmt.Appendf(nil, "-- +goose Up\n%s;\n\n-- +goose Down\nSELECT 1;\n", stmt)}
		s.migrateFS[fmt.Sprintf("%05d_change.up.sql", i)] = &fstest.MapFile{Data: []byte(stmt + ";\n")}
	}
	return s
}

// loadFiles makes flamingock's changes the goose files of s, as
// flamingock-gen makes them: read and split by generator/sqlfiles, each run
// by a sqlscript.Script, its id the file's <version>_<name> and its
// checksum that of the file.
func (s *changeSet) loadFiles() error {
	changes, _, errs := sqlfiles.Load(s.gooseFS, sqlfiles.Options{Dialect: "postgres"})
	if len(errs) > 0 {
		return fmt.Errorf("sqlfiles: %v", errs[0])
	}
	if len(changes) != s.len() {
		return fmt.Errorf("sqlfiles: %d changes from %d files", len(changes), s.len())
	}
	d := digest.NewStage()
	s.scripts = make([]sqlscript.Script, len(changes))
	for i, ch := range changes {
		text := string(s.gooseFS[ch.File].Data)
		sum := sha256.Sum256([]byte(text))
		s.ids[i], s.checksums[i], s.sources[i] = ch.ID, hex.EncodeToString(sum[:]), fmt.Sprintf("%s:%d", ch.File, ch.UpLine)
		d.Add(s.ids[i], s.checksums[i])
		script := sqlscript.Script{File: ch.File, Text: text}
		for _, st := range ch.Up {
			script.Statements = append(script.Statements, sqlscript.Span{Start: st.Offset, End: st.Offset + len(st.SQL), Line: st.Line, Col: st.Col})
		}
		s.scripts[i] = script
	}
	s.digest = d.Sum()
	return nil
}

func (s *changeSet) len() int { return len(s.statements) }
