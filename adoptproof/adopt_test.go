package adoptproof

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

// A database is one a proof migrates.
type database struct {
	// arg is the application's -store: a PostgreSQL DSN, or a SQLite
	// file.
	arg string
	// db is a handle for the old tool and for reading.
	db *sql.DB
	// schema is the application's schema, the tools' tables left out.
	schema func(t *testing.T) string
	// open opens the audit store read-only.
	open func() (audit.Store, error)
	// notStore is matched by open's error when the database holds no
	// audit store yet.
	notStore error
}

// store opens the audit store read-only, closed when the test ends.
func (d database) store(t *testing.T) audit.Store {
	t.Helper()
	s, err := d.open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// written returns the trail, none when the database holds no audit store.
func (d database) written(t *testing.T) []audit.Entry {
	t.Helper()
	s, err := d.open()
	if errors.Is(err, d.notStore) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return trail(t, s)
}

// postgresDatabase creates a database on srv, dropped when the test ends.
func postgresDatabase(t *testing.T, srv *pgtest.Server) database {
	t.Helper()
	dsn := srv.ConnString(t, pgtest.Database(srv.Database(t)))
	return database{
		arg:    dsn,
		db:     openDB(t, "pgx", dsn),
		schema: func(t *testing.T) string { return pgDump(t, dsn) },
		open: func() (audit.Store, error) {
			return postgres.Open(context.Background(), dsn, postgres.WithSchema("flamingock"), postgres.WithReadOnly())
		},
		notStore: postgres.ErrNotStore,
	}
}

// sqliteDatabase creates a SQLite file of the test.
func sqliteDatabase(t *testing.T) database {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.db")
	db := openDB(t, "sqlite", path)
	return database{
		arg:    path,
		db:     db,
		schema: func(t *testing.T) string { return strings.Join(sqliteSchema(t, db), "\n") },
		open: func() (audit.Store, error) {
			return sqlite.Open(context.Background(), path, sqlite.WithReadOnly())
		},
		notStore: sqlite.ErrNotStore,
	}
}

// An oldTool is the migration tool the application used before flamingock.
type oldTool struct {
	// name is the application's -import.
	name string
	// origin is the tool as the imported entries name it.
	origin string
	// table is the tool's history, which adoption must leave untouched.
	table string
	// files renders a history in the tool's form.
	files func(h history) fstest.MapFS
	// up migrates db with the tool, applying every file of fsys.
	up func(db *sql.DB, fsys fstest.MapFS) error
	// down reverts the last version the tool applied.
	down func(db *sql.DB, fsys fstest.MapFS) error
	// times returns the time the tool recorded for each version it
	// applied, nil when it records none.
	times func(t *testing.T, db *sql.DB) map[string]time.Time
}

// migrate migrates db with the tool, failing t on error.
func (o oldTool) migrate(t *testing.T, db *sql.DB, fsys fstest.MapFS) {
	t.Helper()
	if err := o.up(db, fsys); err != nil {
		t.Fatal(err)
	}
}

func gooseTool(d goose.Dialect) oldTool {
	return oldTool{
		name:   "goose",
		origin: "goose",
		table:  "goose_db_version",
		files:  history.gooseFS,
		up: func(db *sql.DB, fsys fstest.MapFS) error {
			return gooseUp(d, db, fsys)
		},
		down: func(db *sql.DB, fsys fstest.MapFS) error {
			return gooseDown(d, db, fsys)
		},
		times: gooseTimes,
	}
}

func migrateTool(on migrateOn) oldTool {
	return oldTool{
		name:   "migrate",
		origin: "golang-migrate",
		table:  "schema_migrations",
		files:  history.migrateFS,
		up: func(db *sql.DB, fsys fstest.MapFS) error {
			return migrateUp(on, db, fsys)
		},
		down: func(db *sql.DB, fsys fstest.MapFS) error {
			return migrateDown(on, db, fsys)
		},
		times: func(*testing.T, *sql.DB) map[string]time.Time { return nil },
	}
}

// applied is what the application prints of a run that applied n changes
// and skipped those of h it did not apply.
func applied(h history, n int) string {
	return fmt.Sprintf("applied %d, skipped %d\n", n, len(h)-n)
}

// proveAdoption is issue 14's proof for one tool on one database: a
// database the tool migrated with the old files of h is adopted by the
// application, built with every file of h, at its first start, which
// applies exactly the new ones, leaves the tool's table as it was and
// ends with the schema of the tool applying all of h; a second start
// applies nothing.
func proveAdoption(t *testing.T, a app, tool oldTool, h history, newDB func(t *testing.T) database) {
	ref := newDB(t)
	tool.migrate(t, ref.db, tool.files(h))
	want := ref.schema(t)

	db := newDB(t)
	tool.migrate(t, db.db, tool.files(h.old()))
	kept := "SELECT * FROM " + tool.table + " ORDER BY 1"
	before := queryRows(t, db.db, kept)
	times := tool.times(t, db.db)

	start := time.Now()
	if out := a.startOK(t, "-store", db.arg, "-import", tool.name); out != applied(h, newCount) {
		t.Errorf("first start printed %q, want %q", out, applied(h, newCount))
	}
	t.Logf("first start, importing %d versions and applying %d changes: %v (process included)", len(h.old()), newCount, time.Since(start).Round(time.Millisecond))
	store := db.store(t)
	wantAdopted(t, trail(t, store), tool.origin, tool.table, times, h.old(), h[len(h)-newCount:])
	if diff := cmp.Diff(before, queryRows(t, db.db, kept)); diff != "" {
		t.Errorf("%s changed (-before +after):\n%s", tool.table, diff)
	}
	if diff := cmp.Diff(want, db.schema(t)); diff != "" {
		t.Errorf("schema of the adopted database (-%s applying all %d, +adopted):\n%s", tool.name, len(h), diff)
	}

	entries := len(trail(t, store))
	if out := a.startOK(t, "-store", db.arg, "-import", tool.name); out != applied(h, 0) {
		t.Errorf("second start printed %q, want %q", out, applied(h, 0))
	}
	if n := len(trail(t, store)); n != entries {
		t.Errorf("second start: the trail went from %d entries to %d, want none added", entries, n)
	}
}

// proveRefusal: a database whose old history disagrees with the files is
// refused at the first start, the message naming what disagrees (names),
// before anything is written; the old table is left as it was. applied is
// what the old tool applied.
func proveRefusal(t *testing.T, a app, tool oldTool, applied history, newDB func(t *testing.T) database, names ...string) {
	db := newDB(t)
	tool.migrate(t, db.db, tool.files(applied))
	kept := "SELECT * FROM " + tool.table + " ORDER BY 1"
	before := queryRows(t, db.db, kept)
	schema := db.schema(t)

	r := a.start(t, "-store", db.arg, "-import", tool.name)
	if r.code == 0 {
		t.Errorf("start: exit status 0, want a refusal\n%s%s", r.stdout, r.stderr)
	}
	for _, name := range names {
		if !strings.Contains(r.stderr, name) {
			t.Errorf("the refusal does not name %s:\n%s", name, r.stderr)
		}
	}
	t.Logf("refused: %s", r.stderr)
	if entries := db.written(t); len(entries) != 0 {
		t.Errorf("the refused start wrote %d entries, want none: first %s %s", len(entries), entries[0].ChangeID, entries[0].State)
	}
	if diff := cmp.Diff(schema, db.schema(t)); diff != "" {
		t.Errorf("the refused start changed the schema (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before, queryRows(t, db.db, kept)); diff != "" {
		t.Errorf("%s changed (-before +after):\n%s", tool.table, diff)
	}
}

// hotfix is a version applied from another branch, which the
// application's files do not hold.
var hotfix = migration{version: "20240115000001", name: "hotfix",
	up: "CREATE TABLE hotfix (id integer);", down: "DROP TABLE hotfix;"}

// proveHotfixRefused: the old history holds a version that is no change
// of the application.
func proveHotfixRefused(t *testing.T, a app, tool oldTool, h history, newDB func(t *testing.T) database) {
	proveRefusal(t, a, tool, append(append(history{}, h.old()...), hotfix), newDB, tool.table, hotfix.version)
}

// proveGapRefused: goose applied every old version but one, whose file the
// old release did not have; the application's change for it lies between
// imported versions, never applied. (golang-migrate keeps only its current
// version, so there a gap cannot be seen.)
func proveGapRefused(t *testing.T, a app, tool oldTool, h history, newDB func(t *testing.T) database) {
	const skipped = 4
	applied := append(append(history{}, h[:skipped]...), h[skipped+1:len(h)-newCount]...)
	proveRefusal(t, a, tool, applied, newDB, tool.table, h[skipped].id())
}

// proveAfterDown: the old tool applied every old version, then reverted the
// last one (a release rolled back); the first start imports the others and
// applies that one and the new ones.
func proveAfterDown(t *testing.T, a app, tool oldTool, h history, newDB func(t *testing.T) database) {
	ref := newDB(t)
	tool.migrate(t, ref.db, tool.files(h))
	want := ref.schema(t)

	db := newDB(t)
	tool.migrate(t, db.db, tool.files(h.old()))
	if err := tool.down(db.db, tool.files(h.old())); err != nil {
		t.Fatal(err)
	}
	times := tool.times(t, db.db)
	reverted := len(h) - newCount - 1
	if out := a.startOK(t, "-store", db.arg, "-import", tool.name); out != applied(h, newCount+1) {
		t.Errorf("first start printed %q, want %q", out, applied(h, newCount+1))
	}
	wantAdopted(t, trail(t, db.store(t)), tool.origin, tool.table, times, h[:reverted], h[reverted:])
	if diff := cmp.Diff(want, db.schema(t)); diff != "" {
		t.Errorf("schema of the adopted database (-%s applying all %d, +adopted):\n%s", tool.name, len(h), diff)
	}
}

// needPGDump skips (or fails) t when pg_dump is not installed.
func needPGDump(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pg_dump"); err != nil {
		unavailable(t, "pg_dump is not installed: %v", err)
	}
}

// A proof is one of the proofs every old tool goes through on every
// database: a database the tool migrated with (part of) h, newDB making
// each, adopted by a, the application built with every file of h.
type proof func(t *testing.T, a app, tool oldTool, h history, newDB func(t *testing.T) database)

// proveAll runs every proof for tool on the databases of newDB, and extra
// ones of its own.
func proveAll(t *testing.T, a app, tool oldTool, h history, newDB func(t *testing.T) database, extra map[string]proof) {
	proofs := map[string]proof{
		"adopt":                   proveAdoption,
		"unknown version refused": proveHotfixRefused,
		"after a down":            proveAfterDown,
	}
	if tool.name == "goose" {
		proofs["gap refused"] = proveGapRefused
	}
	for name, p := range extra {
		proofs[name] = p
	}
	names := slices.Sorted(maps.Keys(proofs))
	for _, name := range names {
		t.Run(name, func(t *testing.T) { proofs[name](t, a, tool, h, newDB) })
	}
}

func TestPostgresGoose(t *testing.T) {
	srv := pgtest.New(t)
	needPGDump(t)
	a := buildApp(t, postgresApp, postgresHistory.gooseFS())
	proveAll(t, a, gooseTool(goose.DialectPostgres), postgresHistory, func(t *testing.T) database { return postgresDatabase(t, srv) }, map[string]proof{
		"twenty processes at once": proveConcurrentAdoption,
		"old release migrating":    lockedBy(gooseLockedUp),
		"migrated by hand, baselined": func(t *testing.T, a app, _ oldTool, h history, _ func(t *testing.T) database) {
			proveBaseline(t, a, h, srv)
		},
	})
}

func TestPostgresMigrate(t *testing.T) {
	srv := pgtest.New(t)
	needPGDump(t)
	a := buildApp(t, postgresApp, postgresHistory.migrateFS())
	tool := migrateTool(migratePostgres(false))
	proveAll(t, a, tool, postgresHistory, func(t *testing.T) database { return postgresDatabase(t, srv) }, map[string]proof{
		"twenty processes at once": proveConcurrentAdoption,
		// golang-migrate always takes its advisory lock on PostgreSQL.
		"old release migrating": lockedBy(tool.up),
		"dirty": func(t *testing.T, a app, _ oldTool, _ history, _ func(t *testing.T) database) {
			proveDirtyAdoption(t, a, srv)
		},
	})
}

func TestSQLiteGoose(t *testing.T) {
	a := buildApp(t, sqliteApp, sqliteHistory.gooseFS())
	proveAll(t, a, gooseTool(goose.DialectSQLite3), sqliteHistory, sqliteDatabase, nil)
}

func TestSQLiteMigrate(t *testing.T) {
	a := buildApp(t, sqliteApp, sqliteHistory.migrateFS())
	proveAll(t, a, migrateTool(migrateSQLite), sqliteHistory, sqliteDatabase, nil)
}
