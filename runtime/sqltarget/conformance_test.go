package sqltarget_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/mysqltest"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
	"github.com/flamingock/flamingock-go/runtime/targettest"
)

// TestConformance runs the conformance suite of targets against the
// database/sql target on SQLite: built by Shared on the audit store, and by
// New on a database of its own.
func TestConformance(t *testing.T) {
	t.Parallel()
	openStore := func(t *testing.T, dir string) *sqlite.Store {
		store, err := sqlite.Open(t.Context(), filepath.Join(dir, "audit.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		return store
	}
	t.Run("Shared on the SQLite audit store", func(t *testing.T) {
		targettest.Run(t, targettest.Harness[*sql.Tx]{
			New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
				store := openStore(t, t.TempDir())
				return conformanceFixture(t, sqltarget.Shared(store), store, store.DB(), "effects", "?", nil)
			},
			Transactional: audit.StrategySharedTx,
		})
	})
	t.Run("New on another SQLite database", func(t *testing.T) {
		targettest.Run(t, targettest.Harness[*sql.Tx]{
			New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
				dir := t.TempDir()
				db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(dir, "target.db"))+
					"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return conformanceFixture(t, sqltarget.New(db), openStore(t, dir), db, "effects", "?", func() { db.Close() })
			},
			Transactional: audit.StrategySeparateTx,
		})
	})
}

// TestConformanceOnPostgreSQL runs the conformance suite against the
// database/sql target on PostgreSQL (pgx's database/sql driver): built by
// Shared on the PostgreSQL audit store, and by New on a pool of its own.
func TestConformanceOnPostgreSQL(t *testing.T) {
	srv := pgtest.New(t) // skips without PostgreSQL
	openStore := func(t *testing.T) (*postgres.Store, string) {
		schema := srv.Schema(t)
		store, err := postgres.New(t.Context(), srv.Pool(t, pgtest.MaxConns(2)), postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if _, err := store.Snapshot(t.Context()); err != nil {
			t.Fatal(err)
		}
		return store, schema
	}
	t.Run("Shared on the PostgreSQL audit store", func(t *testing.T) {
		targettest.Run(t, targettest.Harness[*sql.Tx]{
			New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
				store, schema := openStore(t)
				table := pgx.Identifier{schema, "effects"}.Sanitize()
				return conformanceFixture(t, sqltarget.Shared(store), store, store.DB(), table, "$1", nil)
			},
			Transactional: audit.StrategySharedTx,
		})
	})
	t.Run("New on a database/sql pool of its own", func(t *testing.T) {
		targettest.Run(t, targettest.Harness[*sql.Tx]{
			New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
				store, schema := openStore(t)
				db, err := sql.Open("pgx", srv.ConnString(t, pgtest.SearchPath(schema)))
				if err != nil {
					t.Fatal(err)
				}
				db.SetMaxOpenConns(2)
				t.Cleanup(func() { db.Close() })
				return conformanceFixture(t, sqltarget.New(db, sqltarget.WithPostgreSQL()), store, db, "effects", "$1", func() { db.Close() })
			},
			Transactional: audit.StrategySeparateTx,
		})
	})
}

// TestConformanceOnMySQL runs the conformance suite against the
// database/sql target on MySQL or MariaDB: built by Shared on the MySQL
// audit store, and by New with WithMySQL on another database; both also run
// transactional=false changes.
func TestConformanceOnMySQL(t *testing.T) {
	srv := mysqltest.New(t) // skips without MySQL
	openStore := func(t *testing.T) *mysql.Store {
		store, err := mysql.Open(t.Context(), srv.URL(srv.Database(t, "conformance")))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		return store
	}
	t.Run("Shared on the MySQL audit store", func(t *testing.T) {
		targettest.Run(t, targettest.Harness[*sql.Tx]{
			New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
				store := openStore(t)
				return conformanceFixture(t, sqltarget.Shared(store), store, store.DB(), "effects", "?", nil)
			},
			Transactional:    audit.StrategySharedTx,
			NonTransactional: audit.StrategyNonTx,
		})
	})
	t.Run("New with WithMySQL on another database", func(t *testing.T) {
		targettest.Run(t, targettest.Harness[*sql.Tx]{
			New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
				db, err := sql.Open("mysql", srv.Config(srv.Database(t, "conformance_target")).FormatDSN())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return conformanceFixture(t, sqltarget.New(db, sqltarget.WithMySQL()), openStore(t), db, "effects", "?", func() { db.Close() })
			},
			Transactional:    audit.StrategySeparateTx,
			NonTransactional: audit.StrategyNonTx,
		})
	})
}

// conformanceFixture creates table in db and returns the fixture whose
// effects are its rows, written with placeholder.
func conformanceFixture(t *testing.T, tg *sqltarget.Target, store audit.Store, db *sql.DB, table, placeholder string, disconnect func()) targettest.Fixture[*sql.Tx] {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE "+table+" (id VARCHAR(255) PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	return targettest.Fixture[*sql.Tx]{
		Target: tg,
		Store:  store,
		Apply: func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (id) VALUES ("+placeholder+")", id)
			return err
		},
		Undo: func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE id = "+placeholder, id)
			return err
		},
		Has: func(ctx context.Context, id string) (bool, error) {
			var n int
			err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+" WHERE id = "+placeholder, id).Scan(&n)
			return n > 0, err
		},
		Disconnect: disconnect,
	}
}
