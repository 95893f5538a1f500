package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mysql"
)

func entry(id string) audit.Entry {
	return audit.Entry{
		ExecutionID: "exec-1", Stage: "s1", ChangeID: id, Order: audit.OrderOf(1), Author: "ana",
		State: audit.StateApplied, Time: time.Now().UTC(), Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual,
	}
}

func open(t *testing.T, dsn string, opts ...mysql.Option) *mysql.Store {
	t.Helper()
	s, err := mysql.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// tables lists the tables of the test database whose names start with p.
func (s *server) tables(t *testing.T, p string) []string {
	t.Helper()
	rows, err := s.admin.QueryContext(t.Context(), "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ? ORDER BY TABLE_NAME", p+"\\_%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func (s *server) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := s.admin.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM `"+table+"`").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentFirstOpens(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	const n = 20
	errs := make([]error, n)
	stores := make([]*mysql.Store, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		stores[i] = open(t, srv.url, mysql.WithTablePrefix(p)) // 20 *sql.DB, each of its own
		wg.Go(func() {
			<-start
			// Every store's first write checks and creates the tables.
			_, errs[i] = stores[i].Acquire(t.Context(), fmt.Sprint("key-", i), "runner", time.Minute)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	want := []string{p + "_audit", p + "_checkpoint", p + "_lock", p + "_version"}
	if got := srv.tables(t, p); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tables %v, want %v", got, want)
	}
	if got := srv.count(t, p+"_version"); got != 1 {
		t.Errorf("%s_version holds %d rows, want 1", p, got)
	}
	if got := srv.count(t, p+"_lock"); got != n {
		t.Errorf("%s_lock holds %d rows, want %d", p, got, n)
	}
}

func TestForeignTablesAreRefused(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	if _, err := srv.admin.ExecContext(t.Context(), "CREATE TABLE `"+p+"_audit` (seq INT PRIMARY KEY, note TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.admin.ExecContext(t.Context(), "CREATE TABLE `"+p+"_version` (layout INT NOT NULL, upgraded_at DATETIME(6) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.admin.ExecContext(t.Context(), "INSERT INTO `"+p+"_version` VALUES (1, UTC_TIMESTAMP(6))"); err != nil {
		t.Fatal(err)
	}
	s := open(t, srv.url, mysql.WithTablePrefix(p))
	_, err := s.Acquire(t.Context(), "k", "runner", time.Minute)
	if err == nil {
		t.Fatal("Acquire on a foreign audit table succeeded")
	}
	for _, want := range []string{"table `" + p + "_audit` exists but is not a flamingock table of layout 1",
		"column seq is int, want bigint", "column stage is missing", "Nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if got := srv.tables(t, p); len(got) != 2 {
		t.Errorf("tables %v: the refused store created some", got)
	}
}

func TestNewerLayoutIsRefused(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	s := open(t, srv.url, mysql.WithTablePrefix(p))
	if _, err := s.Acquire(t.Context(), "k", "runner", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.admin.ExecContext(t.Context(), "UPDATE `"+p+"_version` SET layout = 2"); err != nil {
		t.Fatal(err)
	}
	const want = "records layout 2, and this release knows layouts up to 1. Nothing was changed: upgrade flamingock-go"
	later := open(t, srv.url, mysql.WithTablePrefix(p))
	if _, err := later.Acquire(t.Context(), "k2", "runner", time.Minute); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Acquire = %v, want an error saying %q", err, want)
	}
	if got := srv.count(t, p+"_lock"); got != 1 {
		t.Errorf("the lock table holds %d rows, want the 1 of before", got)
	}
	if _, err := mysql.Open(t.Context(), srv.url, mysql.WithTablePrefix(p), mysql.WithReadOnly()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open WithReadOnly = %v, want an error saying %q", err, want)
	}
}

func TestReadOnlyWritesNothing(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	if _, err := mysql.Open(t.Context(), srv.url, mysql.WithTablePrefix(p), mysql.WithReadOnly()); !errors.Is(err, mysql.ErrNotStore) {
		t.Fatalf("Open WithReadOnly of a database without a trail = %v, want ErrNotStore", err)
	}
	if got := srv.tables(t, p); len(got) != 0 {
		t.Fatalf("a read-only Open created %v", got)
	}
	w := open(t, srv.url, mysql.WithTablePrefix(p))
	l, err := w.Acquire(t.Context(), "k", "runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(t.Context(), l, entry("a")); err != nil {
		t.Fatal(err)
	}
	before := srv.checksums(t, p)
	r := open(t, srv.url, mysql.WithTablePrefix(p), mysql.WithReadOnly())
	if got, err := r.History(t.Context(), audit.Filter{}); err != nil || len(got) != 1 {
		t.Errorf("History = %d entries, %v; want 1", len(got), err)
	}
	for name, write := range map[string]func() error{
		"Append":  func() error { _, err := r.Append(t.Context(), l, entry("b")); return err },
		"Acquire": func() error { _, err := r.Acquire(t.Context(), "k2", "runner", time.Minute); return err },
		"Refresh": func() error { _, err := r.Refresh(t.Context(), l); return err },
		"Release": func() error { return r.Release(t.Context(), l) },
		"ForceRelease": func() error {
			_, err := r.ForceRelease(t.Context(), "k", "ops")
			return err
		},
		"SaveCheckpoint": func() error { return r.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: 1}) },
	} {
		if err := write(); !errors.Is(err, mysql.ErrReadOnly) {
			t.Errorf("%s on a read-only store = %v, want ErrReadOnly", name, err)
		}
	}
	if after := srv.checksums(t, p); after != before {
		t.Errorf("the tables changed under a read-only store: %s, then %s", before, after)
	}
}

// checksums returns CHECKSUM TABLE of the store's tables.
func (s *server) checksums(t *testing.T, p string) string {
	t.Helper()
	var b strings.Builder
	for _, suffix := range []string{"_audit", "_version", "_lock", "_checkpoint"} {
		var name string
		var sum sql.NullInt64
		if err := s.admin.QueryRowContext(t.Context(), "CHECKSUM TABLE `"+p+suffix+"`").Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%d ", suffix, sum.Int64)
	}
	return b.String()
}

func TestThePasswordIsNeverPrinted(t *testing.T) {
	srv := newServer(t)
	const password = "s3cret-Pa55"
	withPassword := strings.Replace(srv.url, "mysql://root@", "mysql://root:"+password+"@", 1)
	s := open(t, withPassword)
	wantURL := strings.Replace(srv.url, "mysql://root@", "mysql://root:xxxxx@", 1)
	if got := s.String(); got != wantURL {
		t.Errorf("String() = %q, want %q", got, wantURL)
	}
	if got := s.Locator().URL; got != wantURL {
		t.Errorf("Locator().URL = %q, want %q", got, wantURL)
	}
	// The test server's root has no password: this one is refused.
	_, err := s.Acquire(t.Context(), "k", "runner", time.Minute)
	if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "refused the user or password") {
		t.Errorf("Acquire with a wrong password = %v, want it refused without the password", err)
	}
	for _, dsn := range []string{
		"root:" + password + "@tcp(127.0.0.1:1)/app",
		"mysql://root:" + password + "@127.0.0.1:1/app",
	} {
		s := open(t, dsn)
		if strings.Contains(s.String(), password) {
			t.Errorf("String() of %s shows the password", s)
		}
		_, err := s.Snapshot(t.Context())
		if !errors.Is(err, audit.ErrUnavailable) || !strings.Contains(err.Error(), "is MySQL or MariaDB running at 127.0.0.1:1?") {
			t.Errorf("Snapshot of a server that is not there = %v, want ErrUnavailable asking whether it runs", err)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestBadDSNs(t *testing.T) {
	srv := newServer(t)
	for _, tc := range []struct{ name, dsn, want string }{
		{"empty", "", "empty DSN"},
		{"no database", "root@tcp(127.0.0.1:3306)/", "no database"},
		{"not a DSN", "root:pw@127.0.0.1:3306/db", "invalid DSN"},
		{"a URL without a host", "mysql:///db", "no host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := mysql.Open(t.Context(), tc.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.dsn)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("Open(%q) = %v, want an error saying %q, without the password", tc.dsn, err, tc.want)
			}
		})
	}
	t.Run("a database that does not exist", func(t *testing.T) {
		s := open(t, strings.TrimSuffix(srv.url, srv.db)+"flamingock_no_such_db")
		_, err := s.Snapshot(t.Context())
		if err == nil || !strings.Contains(err.Error(), "does not exist: create it") {
			t.Errorf("Snapshot = %v, want an error saying the database does not exist", err)
		}
	})
}

func TestCorruptRowsAreReported(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	s := open(t, srv.url, mysql.WithTablePrefix(p))
	l, err := s.Acquire(t.Context(), "k", "runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Append(t.Context(), l, entry("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.admin.ExecContext(t.Context(), "UPDATE `"+p+"_audit` SET state = 'DONE' WHERE seq = ?", e.Seq); err != nil {
		t.Fatal(err)
	}
	var corrupt *audit.CorruptError
	_, err = s.Snapshot(t.Context())
	if !errors.As(err, &corrupt) || !strings.Contains(corrupt.Where, fmt.Sprintf("entry seq %d", e.Seq)) || !strings.Contains(err.Error(), `unknown state "DONE"`) {
		t.Errorf("Snapshot of a hand-edited state = %v, want an *audit.CorruptError naming seq %d", err, e.Seq)
	}
	if _, err := s.History(t.Context(), audit.Filter{}); !errors.Is(err, audit.ErrCorrupt) {
		t.Errorf("History = %v, want ErrCorrupt", err)
	}
	// A lock row edited by hand.
	if _, err := srv.admin.ExecContext(t.Context(), "UPDATE `"+p+"_lock` SET epoch = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(t.Context(), "k"); !errors.As(err, &corrupt) || !strings.Contains(err.Error(), "epoch 0") {
		t.Errorf("Lock of a hand-edited epoch = %v, want an *audit.CorruptError", err)
	}
	if _, err := s.Append(t.Context(), l, entry("b")); !errors.Is(err, audit.ErrFenced) {
		t.Errorf("Append under the lease of an edited lock row = %v, want ErrFenced", err)
	}
	if _, err := s.Acquire(t.Context(), "k", "runner-b", time.Minute); !errors.Is(err, audit.ErrCorrupt) {
		t.Errorf("Acquire of a hand-edited lock row = %v, want ErrCorrupt", err)
	}
}

func TestOversizedAppendsRecordNothing(t *testing.T) {
	srv := newServer(t)
	var maxPacket int
	if err := srv.admin.QueryRowContext(t.Context(), "SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		t.Fatal(err)
	}
	huge := `{"blob":"` + strings.Repeat("x", maxPacket+1024) + `"}`
	for name, newStore := range map[string]func(p string) *mysql.Store{
		"opened from a store URL": func(p string) *mysql.Store { return open(t, srv.url, mysql.WithTablePrefix(p)) },
		"on a caller's handle": func(p string) *mysql.Store {
			s, err := mysql.New(t.Context(), srv.handle(t, "interpolateParams=true"), mysql.WithTablePrefix(p))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := prefix(t)
			s := newStore(p)
			l, err := s.Acquire(t.Context(), "k", "runner", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			e := entry("a")
			e.Metadata = []byte(huge)
			_, err = s.Append(t.Context(), l, e)
			if err == nil || !strings.Contains(err.Error(), "max_allowed_packet") || !strings.Contains(err.Error(), "nothing was stored") {
				t.Errorf("Append of %d bytes of metadata = %.300v, want an error naming max_allowed_packet", len(huge), err)
			}
			if got := srv.count(t, p+"_audit"); got != 0 {
				t.Errorf("the audit table holds %d entries, want none", got)
			}
			// The store still works.
			if _, err := s.Append(t.Context(), l, entry("b")); err != nil {
				t.Errorf("Append after the oversized one: %v", err)
			}
		})
	}
}

func TestOrdersOverSixtyFiveDigitsAreRefused(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	s := open(t, srv.url, mysql.WithTablePrefix(p))
	l, err := s.Acquire(t.Context(), "k", "runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e := entry("a")
	e.Order = audit.MustParseOrder(strings.Repeat("9", 65))
	if got, err := s.Append(t.Context(), l, e); err != nil || got.Order != e.Order {
		t.Fatalf("Append of a 65-digit order = %v, %v", got.Order, err)
	}
	e.Order = audit.MustParseOrder("1" + strings.Repeat("0", 65))
	if _, err := s.Append(t.Context(), l, e); err == nil || !strings.Contains(err.Error(), "order of 66 digits is longer than the 65") {
		t.Errorf("Append of a 66-digit order = %v, want it refused", err)
	}
	if got := srv.count(t, p+"_audit"); got != 1 {
		t.Errorf("the audit table holds %d entries, want 1", got)
	}
	// Orders sort as numbers in SQL too.
	var first string
	if err := srv.admin.QueryRowContext(t.Context(), "SELECT change_order FROM `"+p+"_audit` ORDER BY change_order LIMIT 1").Scan(&first); err != nil || first != strings.Repeat("9", 65) {
		t.Errorf("first order %q, %v", first, err)
	}
}

func TestANonStrictHandleIsRefused(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	s, err := mysql.New(t.Context(), srv.handle(t, "sql_mode=%27%27"), mysql.WithTablePrefix(p))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Acquire(t.Context(), "k", "runner", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "which is not strict") {
		t.Errorf("Acquire on a handle with an empty sql_mode = %v, want it refused", err)
	}
	if got := srv.tables(t, p); len(got) != 0 {
		t.Errorf("the refused store created %v", got)
	}
	// Open sets its own sql_mode, whatever the DSN says.
	o := open(t, srv.url+"?sql_mode=%27%27", mysql.WithTablePrefix(p))
	if _, err := o.Acquire(t.Context(), "k", "runner", time.Minute); err != nil {
		t.Errorf("Acquire on a store opened with sql_mode='' in its DSN: %v", err)
	}
	var mode string
	if err := o.DB().QueryRowContext(t.Context(), "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil || !strings.Contains(mode, "STRICT_ALL_TABLES") {
		t.Errorf("the store's session sql_mode = %q, %v; want STRICT_ALL_TABLES", mode, err)
	}
}

func TestADroppedTableIsNotCreatedAgain(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	s := open(t, srv.url, mysql.WithTablePrefix(p))
	l, err := s.Acquire(t.Context(), "k", "runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), l, entry("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.admin.ExecContext(context.Background(), "DROP TABLE `"+p+"_audit`"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(t.Context()); err == nil || !strings.Contains(err.Error(), "was it dropped?") {
		t.Errorf("Snapshot after the audit table was dropped = %v, want it reported", err)
	}
	if got := srv.tables(t, p); len(got) != 3 {
		t.Errorf("tables %v: the audit table was created again", got)
	}
}

func TestStringNamesTheStore(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"app:pw@tcp(db:3307)/trail?tls=true", "mysql://app:xxxxx@db:3307/trail?tls=true"},
		{"mysql://app:p%40ss@db/trail", "mysql://app:xxxxx@db:3306/trail"},
		{"app@unix(/run/mysqld/mysqld.sock)/trail", "mysql database trail through the unix socket /run/mysqld/mysqld.sock"},
	} {
		s, err := mysql.Open(t.Context(), tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != tc.want {
			t.Errorf("String() of %s = %q, want %q", tc.dsn, got, tc.want)
		}
		s.Close()
	}
}
