package adoptproof

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/golang-migrate/migrate/v4"
	migratedb "github.com/golang-migrate/migrate/v4/database"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", which goose and golang-migrate's pgx/v5 driver take
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go, as golang-migrate's sqlite driver uses it
)

// openDB opens a database/sql handle of driver ("pgx" or "sqlite") on dsn,
// closed when the test ends.
func openDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// gooseUp migrates db with real goose, as an application did before it
// switched: every file of fsys, in goose's table goose_db_version.
func gooseUp(d goose.Dialect, db *sql.DB, fsys fs.FS, opts ...goose.ProviderOption) error {
	p, err := goose.NewProvider(d, db, fsys, opts...)
	if err != nil {
		return err
	}
	if _, err := p.Up(context.Background()); err != nil {
		return fmt.Errorf("goose up: %w", err)
	}
	return nil
}

// gooseDown reverts goose's last version in db, as an operator rolling a
// release back does: goose deletes its row.
func gooseDown(d goose.Dialect, db *sql.DB, fsys fs.FS) error {
	p, err := goose.NewProvider(d, db, fsys)
	if err != nil {
		return err
	}
	if _, err := p.Down(context.Background()); err != nil {
		return fmt.Errorf("goose down: %w", err)
	}
	return nil
}

// gooseLockedUp is gooseUp under goose's PostgreSQL session lock (an
// advisory lock), as a release configured with it migrates.
func gooseLockedUp(db *sql.DB, fsys fstest.MapFS) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	return gooseUp(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
}

// migrateOn returns golang-migrate's driver on db, its table
// schema_migrations: pgx/v5 on PostgreSQL, sqlite (modernc.org/sqlite, no
// cgo) on SQLite. multiStatement makes the PostgreSQL driver send a file
// statement by statement instead of in one piece.
type migrateOn func(db *sql.DB) (migratedb.Driver, error)

func migratePostgres(multiStatement bool) migrateOn {
	return func(db *sql.DB) (migratedb.Driver, error) {
		return migratepgx.WithInstance(db, &migratepgx.Config{MultiStatementEnabled: multiStatement})
	}
}

func migrateSQLite(db *sql.DB) (migratedb.Driver, error) {
	return migratesqlite.WithInstance(db, &migratesqlite.Config{})
}

// migrateUp migrates db with real golang-migrate up to the last version of
// fsys (under its advisory lock on PostgreSQL, which it always takes) and
// returns the error of Up, ErrNoChange being none.
func migrateUp(on migrateOn, db *sql.DB, fsys fs.FS) error {
	m, err := newMigrate(on, db, fsys)
	if err != nil {
		return err
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// migrateDown reverts golang-migrate's last version in db: its version
// goes one down.
func migrateDown(on migrateOn, db *sql.DB, fsys fs.FS) error {
	m, err := newMigrate(on, db, fsys)
	if err != nil {
		return err
	}
	if err := m.Steps(-1); err != nil {
		return fmt.Errorf("migrate down 1: %w", err)
	}
	return nil
}

// newMigrate returns golang-migrate on db with the files of fsys. Closing
// it would close db, which the test still reads.
func newMigrate(on migrateOn, db *sql.DB, fsys fs.FS) (*migrate.Migrate, error) {
	drv, err := on(db)
	if err != nil {
		return nil, err
	}
	src, err := iofs.New(fsys, ".")
	if err != nil {
		return nil, err
	}
	return migrate.NewWithInstance("iofs", src, "db", drv)
}
