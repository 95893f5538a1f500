package mysql_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/internal/mysqltest"
)

// server is the test server: a database of the test run's own, created
// for it and dropped when it ends, and an administrator's handle on it.
type server struct {
	url   string // mysql://…/DB, the test database
	dsn   string // the same, as a go-sql-driver DSN
	db    string
	admin *sql.DB
}

func newServer(t testing.TB) *server {
	t.Helper()
	srv := mysqltest.New(t)
	name := srv.Database(t, "flamingock_test_")
	cfg := srv.Config(name)
	s := &server{db: name, dsn: cfg.FormatDSN()}
	s.url = srv.URL(name)
	s.admin = s.handle(t, "")
	return s
}

// handle opens a *sql.DB on the test database, closed with t, with the
// go-sql-driver DSN parameters params (a=b&c=d).
func (s *server) handle(t testing.TB, params string) *sql.DB {
	t.Helper()
	dsn := s.dsn
	if params != "" {
		if strings.Contains(dsn, "?") {
			dsn += "&" + params
		} else {
			dsn += "?" + params
		}
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}

// prefix returns a table prefix no other test of the run uses.
func prefix(t testing.TB) string { return "t" + randomHex(6) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tamperer is the conformance suite's Tamperer: plain SQL on one prefix's
// audit table, as an administrator would.
type tamperer struct {
	admin *sql.DB
	table string
}

var mysqlColumns = map[string]string{
	"ExecutionID": "execution_id", "Stage": "stage", "ChangeID": "change_id", "Order": "change_order",
	"Author": "author", "State": "state", "Time": "occurred_at", "Duration": "duration_ns", "Host": "host",
	"RunnerID": "runner_id", "TargetID": "target_id", "Strategy": "strategy", "Recovery": "recovery",
	"Checksum": "checksum", "ErrorMessage": "error_message", "ErrorKind": "error_kind",
	"Operator": "operator", "Reason": "reason", "Metadata": "metadata",
}

func (tp tamperer) DeleteEntry(ctx context.Context, seq int64) error {
	return tp.exec(ctx, "DELETE FROM `"+tp.table+"` WHERE seq = ?", seq)
}

func (tp tamperer) EditEntry(ctx context.Context, seq int64, field string, value any) error {
	col, ok := mysqlColumns[field]
	if !ok {
		return fmt.Errorf("no column for field %s", field)
	}
	return tp.exec(ctx, "UPDATE `"+tp.table+"` SET "+col+" = ? WHERE seq = ?", value, seq)
}

func (tp tamperer) exec(ctx context.Context, q string, args ...any) error {
	res, err := tp.admin.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%s: %d rows affected, want 1", q, n)
	}
	return nil
}
