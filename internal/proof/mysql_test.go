package proof_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/internal/mysqltest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// mysqlChildConns bounds each MySQL child's connections: the changes and
// audit writes, the lease refresher, and the one that holds the store's
// creation lock while another reads the catalog. 20 children stay well
// under MariaDB's default max_connections of 151.
const mysqlChildConns = 4

// newMySQLDatabase creates a database of the test's own on the MySQL
// server of FLAMINGOCK_TEST_MYSQL, with a counters table holding one row at
// zero for each of changes changes, and drops it when t ends. It skips (or
// fails) t without a configured MySQL.
func newMySQLDatabase(t *testing.T, changes int) *database {
	t.Helper()
	server := mysqltest.New(t)
	var tag [4]byte
	if _, err := rand.Read(tag[:]); err != nil {
		t.Fatal(err)
	}
	db := &database{tag: fmt.Sprintf("%x", tag)}
	// Dropped when t ends: the children are dead by then, their cleanups
	// being registered later, so run first.
	name := server.Database(t, "proof_"+db.tag+"_")
	db.mysql, db.schema = server.Open(t, name), ""
	db.dsn = server.URL(name)
	// No unique constraint and no primary key: nothing but the lock keeps
	// a change from running twice.
	db.exec(t, "CREATE TABLE `"+countersTable+"` (change_id VARCHAR(64) NOT NULL, n INT NOT NULL DEFAULT 0, runners TEXT NOT NULL) ENGINE=InnoDB")
	for i := 1; i <= changes; i++ {
		db.exec(t, "INSERT INTO `"+countersTable+"` (change_id, runners) VALUES (?, '')", changeID(i))
	}
	return db
}

// mysqlCounts is counts on MySQL, whose runners are a comma-separated list.
func (db *database) mysqlCounts(t *testing.T) map[string]string {
	t.Helper()
	rows, err := db.mysql.QueryContext(t.Context(), "SELECT change_id, n, runners FROM `"+countersTable+"`")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var (
			change, runners string
			n               int
		)
		if err := rows.Scan(&change, &n, &runners); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[change]; dup {
			t.Fatalf("two counter rows for %s", change)
		}
		var list []string
		if runners != "" {
			list = strings.Split(runners, ",")
		}
		got[change] = counted(n, list...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// mysqlStore opens the audit store of the test's MySQL database, to read
// what the children left.
func (db *database) mysqlStore(t *testing.T) audit.Store {
	t.Helper()
	s, err := mysql.Open(t.Context(), db.dsn)
	if err != nil {
		t.Fatalf("open the audit store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openMySQLChildStore opens a child's MySQL store on the parent's database.
func openMySQLChildStore(ctx context.Context, cfg childConfig) (*mysql.Store, error) {
	s, err := mysql.Open(ctx, cfg.DSN)
	if err != nil {
		return nil, err
	}
	s.DB().SetMaxOpenConns(mysqlChildConns)
	return s, nil
}

// mysqlProofStage is proofStage on MySQL: changes without a transaction
// over the store's handle (targetNonTx), or Go changes on
// sqltarget.Shared(store) (targetSQL), sharing the store's transactions,
// of which every tenth (mysqlDDL) creates a table of its own before its
// increment: MySQL commits that change's transaction implicitly, and the
// increment after it commits on its own.
func mysqlProofStage(cfg childConfig, store *mysql.Store, pause func(at, change string)) (pipeline.Stage, error) {
	if cfg.Target != targetNonTx && cfg.Target != targetSQL {
		return pipeline.Stage{}, fmt.Errorf("target %q on MySQL: only %q and %q", cfg.Target, targetNonTx, targetSQL)
	}
	appdb := sqltarget.Shared(store)
	st := pipeline.Stage{Name: stageName}
	for i := 1; i <= cfg.Changes; i++ {
		id := changeID(i)
		m := pipeline.Meta{ID: id, Order: audit.OrderOf(uint64(i)), Author: "proof", Target: "proofdb",
			Recovery: audit.RecoveryManual, Checksum: "sum-" + id, Source: "proof"}
		apply := func(ctx context.Context, exec execFunc) error {
			n, err := exec(ctx, "UPDATE `"+countersTable+"` SET n = n + 1, runners = CONCAT(runners, IF(runners = '', '', ','), ?) WHERE change_id = ?",
				cfg.Runner, id)
			if err == nil && n != 1 {
				err = fmt.Errorf("%d rows updated, want 1", n)
			}
			if err != nil {
				return fmt.Errorf("increment the counter of %s: %w", id, err)
			}
			pause("inside", id)
			return nil
		}
		if cfg.Target == targetNonTx {
			st.Changes = append(st.Changes, pipeline.NewChange(m, pipeline.NonTransactional(store.DB()),
				func(ctx context.Context, db *sql.DB) error { return apply(ctx, dbExec(db)) }, nil))
			continue
		}
		ddl := mysqlDDL(i)
		st.Changes = append(st.Changes, pipeline.NewChange(m, pipeline.Target[*sql.Tx](appdb),
			func(ctx context.Context, tx *sql.Tx) error {
				if ddl {
					// No IF NOT EXISTS: a change run twice fails.
					if _, err := tx.ExecContext(ctx, "CREATE TABLE `"+mysqlDDLTable(id)+"` (n INT) ENGINE=InnoDB"); err != nil {
						return fmt.Errorf("create the table of %s: %w", id, err)
					}
				}
				return apply(ctx, sqlExec(tx))
			}, nil))
	}
	return st, nil
}

// mysqlDDL says whether the i-th change of targetSQL on MySQL runs DDL.
func mysqlDDL(i int) bool { return i%10 == 3 }

// mysqlDDLTable is the table a DDL change creates.
func mysqlDDLTable(change string) string { return "ddl_" + strings.ReplaceAll(change, "-", "_") }

// dbExec is execFunc for a *sql.DB.
func dbExec(db *sql.DB) execFunc {
	return func(ctx context.Context, query string, args ...any) (int64, error) {
		res, err := db.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
}

// mysqlTables returns the names of the tables of the test's MySQL
// database.
func (db *database) mysqlTables(t *testing.T) map[string]bool {
	t.Helper()
	rows, err := db.mysql.QueryContext(t.Context(), "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got[name] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
