package adoptproof

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
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

	if out := a.startOK(t, "-store", db.arg, "-import", tool.name); out != applied(h, newCount) {
		t.Errorf("first start printed %q, want %q", out, applied(h, newCount))
	}
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

// proveRefusal: a database whose old history holds a version the
// application has no change for (a hotfix applied from another branch) is
// refused at the first start, naming the old table and the version, before
// anything is written; the old table is left as it was.
func proveRefusal(t *testing.T, a app, tool oldTool, h history, newDB func(t *testing.T) database) {
	hotfix := migration{version: "20240115000001", name: "hotfix",
		up: "CREATE TABLE hotfix (id integer);", down: "DROP TABLE hotfix;"}
	db := newDB(t)
	tool.migrate(t, db.db, tool.files(append(append(history{}, h.old()...), hotfix)))
	kept := "SELECT * FROM " + tool.table + " ORDER BY 1"
	before := queryRows(t, db.db, kept)
	schema := db.schema(t)

	r := a.start(t, "-store", db.arg, "-import", tool.name)
	if r.code == 0 || !strings.Contains(r.stderr, tool.table) || !strings.Contains(r.stderr, hotfix.version) {
		t.Errorf("start: exit status %d, stderr %q: want a refusal naming %s and version %s\n%s", r.code, r.stderr, tool.table, hotfix.version, r.stdout)
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

// needPGDump skips (or fails) t when pg_dump is not installed.
func needPGDump(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pg_dump"); err != nil {
		unavailable(t, "pg_dump is not installed: %v", err)
	}
}

func TestPostgresGoose(t *testing.T) {
	srv := pgtest.New(t)
	needPGDump(t)
	a := buildApp(t, postgresApp, postgresHistory.gooseFS())
	tool := gooseTool(goose.DialectPostgres)
	newDB := func(t *testing.T) database { return postgresDatabase(t, srv) }
	t.Run("adopt", func(t *testing.T) { proveAdoption(t, a, tool, postgresHistory, newDB) })
	t.Run("twenty processes at once", func(t *testing.T) { proveConcurrentAdoption(t, a, tool, postgresHistory, newDB) })
	t.Run("unknown version refused", func(t *testing.T) { proveRefusal(t, a, tool, postgresHistory, newDB) })
	t.Run("old release migrating", func(t *testing.T) { proveLockedAdoption(t, tool, gooseLockedUp, newDB) })
}

func TestPostgresMigrate(t *testing.T) {
	srv := pgtest.New(t)
	needPGDump(t)
	a := buildApp(t, postgresApp, postgresHistory.migrateFS())
	tool := migrateTool(migratePostgres(false))
	newDB := func(t *testing.T) database { return postgresDatabase(t, srv) }
	t.Run("adopt", func(t *testing.T) { proveAdoption(t, a, tool, postgresHistory, newDB) })
	t.Run("unknown version refused", func(t *testing.T) { proveRefusal(t, a, tool, postgresHistory, newDB) })
	t.Run("dirty", func(t *testing.T) { proveDirtyAdoption(t, a, srv) })
	t.Run("old release migrating", func(t *testing.T) { proveLockedAdoption(t, tool, tool.up, newDB) })
}

func TestSQLiteGoose(t *testing.T) {
	a := buildApp(t, sqliteApp, sqliteHistory.gooseFS())
	tool := gooseTool(goose.DialectSQLite3)
	t.Run("adopt", func(t *testing.T) { proveAdoption(t, a, tool, sqliteHistory, sqliteDatabase) })
	t.Run("unknown version refused", func(t *testing.T) { proveRefusal(t, a, tool, sqliteHistory, sqliteDatabase) })
}

func TestSQLiteMigrate(t *testing.T) {
	a := buildApp(t, sqliteApp, sqliteHistory.migrateFS())
	tool := migrateTool(migrateSQLite)
	t.Run("adopt", func(t *testing.T) { proveAdoption(t, a, tool, sqliteHistory, sqliteDatabase) })
	t.Run("unknown version refused", func(t *testing.T) { proveRefusal(t, a, tool, sqliteHistory, sqliteDatabase) })
}
