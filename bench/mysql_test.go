package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// needMySQL returns the store URL of the MySQL or MariaDB server to measure
// on, or skips when there is none (fails when FLAMINGOCK_REQUIRE_SERVICES=1).
func needMySQL(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("FLAMINGOCK_TEST_MYSQL")
	if dsn == "" {
		if os.Getenv("FLAMINGOCK_REQUIRE_SERVICES") == "1" {
			tb.Fatal("FLAMINGOCK_TEST_MYSQL is not set and FLAMINGOCK_REQUIRE_SERVICES=1")
		}
		tb.Skip("FLAMINGOCK_TEST_MYSQL is not set")
	}
	return dsn
}

// TestQuickRunOnMySQL runs the smoke mode on MySQL/MariaDB: both parts,
// flamingock against goose only. It asserts what was printed, never a time.
func TestQuickRunOnMySQL(t *testing.T) {
	dsn := needMySQL(t)
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-quick", "-apply-n", "20", "-dsn", dsn}, &stdout, &stderr); code != 0 {
		t.Fatalf("bench -quick exited %d:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"(a) start with nothing pending",
		"N    connect              flamingock",
		"flamingock/goose",
		"(a) the same on a connection opened beforehand",
		"(b) apply 20 changes",
		"(b) flamingock ≤ 1.0× goose at N = 20",
		"(b) flamingock ≤ 1.15× floor at N = 20",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "MariaDB ") && !strings.Contains(out, "MySQL ") {
		t.Errorf("output does not name the server:\n%s", out)
	}
	if strings.Contains(out, "migrate") {
		t.Errorf("golang-migrate is not measured on MySQL, but the output shows it:\n%s", out)
	}
}

// TestMySQLToolsDoTheirWork applies a few changes with each tool, for both
// statements, and checks on the server what each did: the rows or tables,
// flamingock's trail (a STARTED and an APPLIED entry per change, of the
// strategy the target runs them with) and goose's version table; then a
// start with nothing pending on a copy of the database applies nothing and
// writes nothing. Every database is gone at the end.
func TestMySQLToolsDoTheirWork(t *testing.T) {
	dsn := needMySQL(t)
	ctx := t.Context()
	const n = 4
	srv, err := connectServer(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{o: options{mysql: true}, srv: srv, progress: io.Discard}
	for _, kind := range []statementKind{insert, createTable} {
		set := newChangeSet(kind, n)
		for _, tl := range mysqlApplyTools() {
			t.Run(string(kind)+"/"+tl.name, func(t *testing.T) {
				db, err := srv.create(ctx, "test_"+strings.ReplaceAll(string(kind), "-", "_")+"_"+tl.name, "")
				if err != nil {
					t.Fatal(err)
				}
				if err := b.prepare(ctx, db, kind); err != nil {
					t.Fatal(err)
				}
				if _, err := b.timed(ctx, tl, db, endpoint{dsn: db.dsn, counter: &counter{}}, set, false, n); err != nil {
					t.Fatal(err)
				}
				if err := b.check(ctx, db, kind, n); err != nil {
					t.Fatal(err)
				}
				trail := func() map[string]int {
					t.Helper()
					counts := map[string]int{}
					for _, q := range []struct{ what, sql string }{
						{"flamingock STARTED", "SELECT count(*) FROM flamingock_audit WHERE state = 'STARTED' AND strategy = ?"},
						{"flamingock APPLIED", "SELECT count(*) FROM flamingock_audit WHERE state = 'APPLIED' AND strategy = ?"},
						{"flamingock entries", "SELECT count(*) FROM flamingock_audit WHERE strategy <> ?"},
						{"goose versions", "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied AND ? <> ''"},
					} {
						strategy := "SHARED_TX"
						if kind == createTable {
							strategy = "NON_TX"
						}
						h, err := mysqlDB(db.dsn)
						if err != nil {
							t.Fatal(err)
						}
						var got int
						err = h.QueryRowContext(ctx, q.sql, strategy).Scan(&got)
						h.Close()
						if err != nil && !strings.Contains(err.Error(), "doesn't exist") {
							t.Fatalf("%s: %v", q.what, err)
						}
						counts[q.what] = got
					}
					return counts
				}
				got := trail()
				want := map[string]int{}
				switch tl.name {
				case "flamingock":
					want["flamingock STARTED"], want["flamingock APPLIED"] = n, n
				case "goose":
					want["goose versions"] = n
				}
				for k, v := range got {
					if v != want[k] {
						t.Errorf("%s after %s applied %d %s changes: %d, want %d", k, tl.name, n, kind, v, want[k])
					}
				}
				if tl.name == "floor" || kind == createTable {
					return
				}
				// The start with nothing pending of part (a), on a copy.
				cp, err := srv.create(ctx, "test_copy_"+tl.name, db.name)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.timed(ctx, tl, cp, endpoint{dsn: cp.dsn}, set, true, 0); err != nil {
					t.Fatalf("no-op start on the copy: %v", err)
				}
				if err := b.check(ctx, cp, kind, n); err != nil {
					t.Fatal(err)
				}
				db = cp
				if again := trail(); !equal(again, got) {
					t.Errorf("a start with nothing pending wrote: %v, then %v", got, again)
				}
			})
		}
	}
	prefix := srv.prefix
	if err := srv.close(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := mysqlDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var left int
	if err := h.QueryRowContext(context.WithoutCancel(ctx),
		"SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?", prefix+"%").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d databases %s… left on the server", left, prefix)
	}
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestParseMySQL(t *testing.T) {
	cfg, err := parseMySQL("mysql://root:s%40cret@127.0.0.1/app?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "root" || cfg.Passwd != "s@cret" || cfg.Addr != "127.0.0.1:3306" || cfg.DBName != "app" {
		t.Errorf("parsed %s:%s@%s/%s", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName)
	}
	if _, err := parseMySQL("mysql:///app"); err == nil {
		t.Error("a URL without a host was accepted")
	}
	if got, want := withMySQLDatabase("mysql://root@127.0.0.1:3306/test", "fbench_x_a100"), "mysql://root@127.0.0.1:3306/fbench_x_a100"; got != want {
		t.Errorf("withMySQLDatabase = %q, want %q", got, want)
	}
	if !isMySQL("MySQL://h/db") || isMySQL("postgres://h/db") {
		t.Error("isMySQL")
	}
}

func TestSQLFilesAreRefusedOnMySQL(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-dsn", "mysql://root@127.0.0.1:3306/x", "-files"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "-files: not on MySQL") {
		t.Errorf("stderr %q", stderr.String())
	}
}
