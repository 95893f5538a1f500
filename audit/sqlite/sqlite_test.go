package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/audittest"
	"github.com/flamingock/flamingock-go/audit/sqlite"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	audittest.Run(t, func(t *testing.T) audittest.Namespace {
		path := filepath.Join(t.TempDir(), "audit.db")
		return audittest.Namespace{
			Open:   func(ctx context.Context) (audit.Store, error) { return sqlite.Open(ctx, path) },
			Tamper: newTamperer(t, path, "flamingock"),
		}
	})
}

// TestConformanceNew runs the suite on stores made by New over the caller's
// *sql.DB, in a file that already holds another prefix's populated store,
// so it also shows that prefixes keep trails apart.
func TestConformanceNew(t *testing.T) {
	t.Parallel()
	audittest.Run(t, func(t *testing.T) audittest.Namespace {
		path := filepath.Join(t.TempDir(), "shared.db")
		other := open(t, path)
		lease := acquire(t, other)
		if _, err := other.Append(t.Context(), lease, validEntry("other")); err != nil {
			t.Fatalf("append to the other prefix: %v", err)
		}
		if err := other.Release(t.Context(), lease); err != nil {
			t.Fatalf("release the other prefix's lock: %v", err)
		}
		return audittest.Namespace{
			Open: func(ctx context.Context) (audit.Store, error) {
				db := rawDB(t, path, "&_txlock=immediate&_pragma=busy_timeout(5000)")
				return sqlite.New(ctx, db, sqlite.WithTablePrefix("app_trail"))
			},
			Tamper: newTamperer(t, path, "app_trail"),
		}
	})
}

// open opens a store on path and closes it when the test ends.
func open(t *testing.T, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens path with the driver directly, closed when the test ends.
func rawDB(t *testing.T, path, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func acquire(t *testing.T, s audit.Store) audit.Lease {
	t.Helper()
	l, err := s.Acquire(t.Context(), "default", "runner-a", time.Minute)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

func validEntry(change string) audit.Entry {
	return audit.Entry{
		ExecutionID: "exec-1",
		Stage:       "stage",
		ChangeID:    change,
		State:       audit.StateApplied,
		Time:        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Strategy:    audit.StrategySharedTx,
		Recovery:    audit.RecoveryManual,
	}
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, stmt := range stmts {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// schemaNames lists what the database file defines, without SQLite's
// automatic indexes.
func schemaNames(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT "type" || ' ' || "name" FROM sqlite_schema WHERE "name" NOT LIKE 'sqlite_autoindex_%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func sqliteCode(err error) int {
	var se *sqlitedriver.Error
	if !errors.As(err, &se) {
		return -1
	}
	return se.Code() & 0xff
}

func TestOpenCreatesTheFileAndTables(t *testing.T) {
	// Characters that mean something in a URI must stay in the file name.
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%20chars")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.db")
	s := open(t, path)
	if got, want := s.String(), "sqlite:"+path; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Open did not create %s: %v", path, err)
	}
	want := []string{"index flamingock_audit_by_change", "table flamingock_audit", "table flamingock_checkpoint", "table flamingock_lock", "table flamingock_version", "table sqlite_sequence"}
	if diff := cmp.Diff(want, schemaNames(t, s.DB())); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	var layout int
	if err := s.DB().QueryRowContext(t.Context(), `SELECT "layout" FROM flamingock_version`).Scan(&layout); err != nil || layout != 2 {
		t.Errorf("a new store records layout %d (%v), want 2", layout, err)
	}
}

func TestOpenRejectsAnUnusableFile(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the path to open.
		setup func(t *testing.T, dir string) string
		want  []string
		code  int
	}{
		{
			name: "a file that is not a database",
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "notes.txt")
				if err := os.WriteFile(path, bytes.Repeat([]byte("these are not the pages you are looking for\n"), 200), 0o644); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want: []string{"not a SQLite database", "move the file aside"},
			code: sqlite3.SQLITE_NOTADB,
		},
		{
			name:  "a directory",
			setup: func(t *testing.T, dir string) string { return dir },
			want:  []string{"cannot open the database file"},
			code:  sqlite3.SQLITE_CANTOPEN,
		},
		{
			name:  "a file in a missing directory",
			setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "missing", "audit.db") },
			want:  []string{"cannot open the database file", "directory exists"},
			code:  sqlite3.SQLITE_CANTOPEN,
		},
		{
			name: "an unreadable file",
			setup: func(t *testing.T, dir string) string {
				if os.Geteuid() == 0 {
					t.Skip("root reads any file")
				}
				path := filepath.Join(dir, "audit.db")
				if err := os.WriteFile(path, nil, 0o000); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want: []string{"cannot open the database file"},
			code: sqlite3.SQLITE_CANTOPEN,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			before := dirContents(t, dir)
			s, err := sqlite.Open(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", path)
			}
			wantErrContains(t, err, append([]string{"sqlite: open " + path + ": "}, tc.want...)...)
			if got := sqliteCode(err); got != tc.code {
				t.Errorf("error carries SQLite code %d, want %d: %v", got, tc.code, err)
			}
			if diff := cmp.Diff(before, dirContents(t, dir)); diff != "" {
				t.Errorf("Open changed the directory (-before +after):\n%s", diff)
			}
		})
	}
}

// dirContents maps every file under dir to its content.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[path] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenRejectsTablesOfAnotherShape(t *testing.T) {
	const lockOK = `"key" TEXT PRIMARY KEY NOT NULL, "owner" TEXT NOT NULL, "epoch" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL, "released_by" TEXT, "released_at" INTEGER`
	tests := []struct {
		name   string
		create string
		want   string
	}{
		{"a table missing columns", `CREATE TABLE flamingock_audit ("seq" INTEGER PRIMARY KEY) STRICT`, `column "schema_version" is missing`},
		{"a column of another type", `CREATE TABLE flamingock_lock ("key" TEXT PRIMARY KEY NOT NULL, "owner" TEXT NOT NULL, "epoch" TEXT NOT NULL, "expires_at" INTEGER NOT NULL) STRICT`, `column "epoch" is "epoch" TEXT NOT NULL, want "epoch" INTEGER NOT NULL`},
		{"a nullable column", `CREATE TABLE flamingock_lock ("key" TEXT PRIMARY KEY NOT NULL, "owner" TEXT, "epoch" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL) STRICT`, `column "owner" is "owner" TEXT, want "owner" TEXT NOT NULL`},
		{"an unexpected column", `CREATE TABLE flamingock_lock (` + lockOK + `, "note" TEXT) STRICT`, `unexpected columns note`},
		{"a table that is not strict", `CREATE TABLE flamingock_lock (` + lockOK + `)`, `not a STRICT table`},
		{"a view of the table's name", `CREATE VIEW flamingock_audit AS SELECT 1 AS "seq"`, `it is a view`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.db")
			db := rawDB(t, path, "")
			exec(t, db, tc.create)
			before := schemaNames(t, db)
			s, err := sqlite.Open(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			wantErrContains(t, err, "sqlite: open "+path+": ", "exists but is not a flamingock-go audit table", tc.want, "WithTablePrefix")
			if diff := cmp.Diff(before, schemaNames(t, db)); diff != "" {
				t.Errorf("Open changed the schema (-before +after):\n%s", diff)
			}
			// Another prefix leaves the foreign table alone.
			open(t, path, sqlite.WithTablePrefix("flamingock2"))
		})
	}
}

func TestTablePrefix(t *testing.T) {
	for _, p := range []string{"", "1st", "a-b", `a"b`, "a b", "x;DROP TABLE y", "é", strings.Repeat("a", 42)} {
		t.Run(fmt.Sprintf("prefix %q is rejected", p), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			_, err := sqlite.Open(t.Context(), path, sqlite.WithTablePrefix(p))
			wantErrContains(t, err, "sqlite: open "+path+": ", "invalid table prefix")
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Open with an invalid prefix created %s (stat: %v)", path, err)
			}
			_, err = sqlite.New(t.Context(), rawDB(t, path, ""), sqlite.WithTablePrefix(p))
			wantErrContains(t, err, "sqlite: new: ", "invalid table prefix")
		})
	}
	t.Run("valid prefixes name the tables", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.db")
		long := "_" + strings.Repeat("Z9", 20)
		for _, p := range []string{"_A9", long} {
			open(t, path, sqlite.WithTablePrefix(p))
		}
		want := []string{
			"index _A9_audit_by_change", "index " + long + "_audit_by_change",
			"table _A9_audit", "table _A9_checkpoint", "table _A9_lock", "table _A9_version",
			"table " + long + "_audit", "table " + long + "_checkpoint", "table " + long + "_lock", "table " + long + "_version",
			"table sqlite_sequence",
		}
		if diff := cmp.Diff(want, schemaNames(t, rawDB(t, path, ""))); diff != "" {
			t.Errorf("schema (-want +got):\n%s", diff)
		}
	})
}

func TestCorruptRowsFailTheRead(t *testing.T) {
	tests := []struct {
		name, set, want string
	}{
		{"an unknown state", `"state" = 'DONE'`, `unknown state "DONE"`},
		{"a newer schema version", `"schema_version" = 2`, "schema version 2 by a newer flamingock-go"},
		{"an unknown schema version", `"schema_version" = 0`, "unknown schema version 0"},
		{"metadata that is not JSON", `"metadata" = '{"a":'`, "metadata is not a JSON object"},
		{"metadata that is not an object", `"metadata" = '[1]'`, "metadata is not a JSON object"},
		{"a missing execution id", `"execution_id" = ''`, "missing execution id"},
		{"an unknown strategy", `"strategy" = 'LATER'`, `unknown strategy "LATER"`},
		{"a manual mark without operator", `"state" = 'MANUAL_MARKED_AS_APPLIED'`, "needs an operator and a reason"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, filepath.Join(t.TempDir(), "audit.db"))
			lease := acquire(t, s)
			for _, id := range []string{"good", "tampered"} {
				if _, err := s.Append(t.Context(), lease, validEntry(id)); err != nil {
					t.Fatal(err)
				}
			}
			exec(t, s.DB(), `UPDATE flamingock_audit SET `+tc.set+` WHERE "seq" = 2`)
			for name, read := range map[string]func() ([]audit.Entry, error){
				"snapshot": func() ([]audit.Entry, error) { return s.Snapshot(t.Context()) },
				"history":  func() ([]audit.Entry, error) { return s.History(t.Context(), audit.Filter{}) },
			} {
				got, err := read()
				if !errors.Is(err, audit.ErrCorrupt) {
					t.Fatalf("%s: got (%d entries, %v), want ErrCorrupt", name, len(got), err)
				}
				var ce *audit.CorruptError
				if !errors.As(err, &ce) || ce.Where != "entry seq 2" {
					t.Errorf("%s: got %v, want an *audit.CorruptError about entry seq 2", name, err)
				}
				wantErrContains(t, err, "sqlite: "+name+": ", tc.want)
				if got != nil {
					t.Errorf("%s returned %d entries along with the error, want none", name, len(got))
				}
			}
		})
	}
}

// TestTrailOverTheBoundsStaysReadable shows that the bounds are checked by
// Append only: entries longer than them, written before the bounds existed,
// are read back.
func TestTrailOverTheBoundsStaysReadable(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "audit.db"))
	want, err := s.Append(t.Context(), acquire(t, s), validEntry("old"))
	if err != nil {
		t.Fatal(err)
	}
	want = audittest.OverTheBounds(want)
	exec(t, s.DB(), fmt.Sprintf(`UPDATE flamingock_audit SET "stage" = '%s', "change_id" = '%s', "target_id" = '%s', "author" = '%s' WHERE "seq" = %d`,
		want.Stage, want.ChangeID, want.TargetID, want.Author, want.Seq))
	audittest.ReadsBack(t, s, want)
}

func TestAppendTx(t *testing.T) {
	// begin starts a transaction holding a change: the users table.
	begin := func(t *testing.T, s *sqlite.Store) *sql.Tx {
		t.Helper()
		tx, err := s.DB().BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
		if _, err := tx.ExecContext(t.Context(), `CREATE TABLE users (id INTEGER PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	// stored reports the entries and whether the change is there.
	stored := func(t *testing.T, s *sqlite.Store) ([]audit.Entry, bool) {
		t.Helper()
		got, err := s.History(t.Context(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return got, slices.Contains(schemaNames(t, s.DB()), "table users")
	}

	t.Run("a committed transaction stores the change and the entry together", func(t *testing.T) {
		s := open(t, filepath.Join(t.TempDir(), "audit.db"))
		lease := acquire(t, s)
		tx := begin(t, s)
		e, err := s.AppendTx(t.Context(), tx, lease, validEntry("create-users"))
		if err != nil {
			t.Fatalf("AppendTx: %v", err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, users := stored(t, s); len(got) != 1 || got[0].Seq != e.Seq || !users {
			t.Errorf("after commit: history %+v, users table %t; want entry seq %d and the table", got, users, e.Seq)
		}
	})
	t.Run("a rolled back transaction leaves neither", func(t *testing.T) {
		s := open(t, filepath.Join(t.TempDir(), "audit.db"))
		lease := acquire(t, s)
		tx := begin(t, s)
		if _, err := s.AppendTx(t.Context(), tx, lease, validEntry("create-users")); err != nil {
			t.Fatalf("AppendTx: %v", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if got, users := stored(t, s); len(got) != 0 || users {
			t.Errorf("after rollback: history %+v, users table %t; want neither", got, users)
		}
	})
	t.Run("a lease that expires during the change is renewed when nobody took the lock over", func(t *testing.T) {
		s := open(t, filepath.Join(t.TempDir(), "audit.db"))
		lease, err := s.Acquire(t.Context(), "default", "runner-a", 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		tx := begin(t, s)
		// A slow change: the lease runs out while tx holds the write lock
		// (reads go on in WAL mode).
		deadline := time.Now().Add(30 * time.Second)
		for info, err := s.Lock(t.Context(), "default"); err != nil || info.Held(); info, err = s.Lock(t.Context(), "default") {
			if err != nil || time.Now().After(deadline) {
				t.Fatalf("waiting for the lease to expire: %+v, %v", info, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := s.AppendTx(t.Context(), tx, lease, validEntry("create-users")); err != nil {
			t.Fatalf("AppendTx with a lease that ran out under the transaction's write lock: %v", err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if info, err := s.Lock(t.Context(), "default"); err != nil || !info.Held() || info.Owner != "runner-a" || info.Epoch != lease.Epoch {
			t.Errorf("lock after the renewing append: %+v, %v; want held by runner-a at epoch %d", info, err, lease.Epoch)
		}
		if _, err := s.Refresh(t.Context(), lease); err != nil {
			t.Errorf("Refresh after the renewing append: %v; want the lease still valid", err)
		}
	})
	t.Run("a lease taken over before the change's transaction is fenced", func(t *testing.T) {
		s := open(t, filepath.Join(t.TempDir(), "audit.db"))
		lease, err := s.Acquire(t.Context(), "default", "runner-a", 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := s.Acquire(t.Context(), "default", "runner-b", time.Minute)
			if err == nil {
				break
			}
			if !errors.Is(err, audit.ErrLockHeld) || time.Now().After(deadline) {
				t.Fatalf("runner-b taking the lock over: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		tx := begin(t, s)
		if _, err := s.AppendTx(t.Context(), tx, lease, validEntry("create-users")); !errors.Is(err, audit.ErrFenced) {
			t.Fatalf("AppendTx with a lease taken over: got %v, want ErrFenced", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if got, users := stored(t, s); len(got) != 0 || users {
			t.Errorf("after the fenced append: history %+v, users table %t; want neither", got, users)
		}
		if info, err := s.Lock(t.Context(), "default"); err != nil || info.Owner != "runner-b" {
			t.Errorf("lock after the fenced append: %+v, %v; want runner-b's, untouched", info, err)
		}
	})
	t.Run("an invalid entry is refused inside the transaction", func(t *testing.T) {
		s := open(t, filepath.Join(t.TempDir(), "audit.db"))
		lease := acquire(t, s)
		e := validEntry("create-users")
		e.State = "DONE"
		_, err := s.AppendTx(t.Context(), begin(t, s), lease, e)
		wantErrContains(t, err, "invalid entry", `unknown state "DONE"`)
	})
	// AppendSQLTx is the path of runtime/sqltarget's shared transactions.
	for _, path := range []struct {
		name   string
		append func(*sqlite.Store, context.Context, *sql.Tx, audit.Lease, audit.Entry) (audit.Entry, error)
	}{
		{"AppendTx", (*sqlite.Store).AppendTx},
		{"AppendSQLTx", (*sqlite.Store).AppendSQLTx},
	} {
		t.Run(path.name+" refuses a change id over the bound inside the transaction", func(t *testing.T) {
			s := open(t, filepath.Join(t.TempDir(), "audit.db"))
			lease := acquire(t, s)
			tx := begin(t, s)
			_, err := path.append(s, t.Context(), tx, lease, validEntry(strings.Repeat("x", audit.MaxIDLen+1)))
			wantErrContains(t, err, "invalid entry", fmt.Sprintf("change id of %d bytes", audit.MaxIDLen+1))
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if got, _ := stored(t, s); len(got) != 0 {
				t.Errorf("after the refused append and a commit: history %+v, want none", got)
			}
		})
	}
}

func TestLockedDatabase(t *testing.T) {
	short := sqlite.WithBusyTimeout(50 * time.Millisecond)
	const hint = "locked by another process or connection holding a write transaction"

	// hold takes the write lock of path through another connection until
	// the returned func releases it.
	hold := func(t *testing.T, db *sql.DB) (release func()) {
		t.Helper()
		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(t.Context(), `CREATE TABLE app_data (x)`); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
		return func() {
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, journal := range []string{"WAL", "DELETE"} {
		t.Run("open reports a writer holding a "+journal+" database", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.db")
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode("+journal+")&_txlock=immediate")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			release := hold(t, db)
			_, err = sqlite.Open(t.Context(), path, short)
			wantErrContains(t, err, "sqlite: open "+path+": ", hint)
			if got := sqliteCode(err); got != sqlite3.SQLITE_BUSY {
				t.Errorf("error carries SQLite code %d, want SQLITE_BUSY: %v", got, err)
			}
			release()
			open(t, path, short)
		})
	}

	t.Run("writes report a writer holding the database and work once it is done", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.db")
		s := open(t, path, short)
		lease := acquire(t, s)
		release := hold(t, open(t, path).DB())

		_, err := s.Append(t.Context(), lease, validEntry("a"))
		wantErrContains(t, err, "sqlite: append: ", hint)
		_, err = s.Acquire(t.Context(), "other", "runner-b", time.Minute)
		wantErrContains(t, err, `sqlite: acquire lock "other": `, hint)
		// Opening an initialised store only reads, so a writer does not
		// block it, and neither do reads.
		reader := open(t, path, short)
		if _, err := reader.Snapshot(t.Context()); err != nil {
			t.Errorf("Snapshot while another connection writes: %v", err)
		}

		release()
		if _, err := s.Append(t.Context(), lease, validEntry("a")); err != nil {
			t.Errorf("Append after the writer finished: %v", err)
		}
	})
}

func TestNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db := rawDB(t, path, "&_txlock=immediate")
	s, err := sqlite.New(t.Context(), db)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := s.String(), "sqlite:"+path; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if s.DB() != db {
		t.Error("DB() is not the *sql.DB given to New")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.PingContext(t.Context()); err != nil {
		t.Errorf("Close closed the caller's database: %v", err)
	}
	_, err = sqlite.New(t.Context(), db, sqlite.WithBusyTimeout(time.Second))
	wantErrContains(t, err, "WithBusyTimeout applies to Open only")
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for path, want := range map[string]string{"": "empty path", ":memory:": "use New"} {
		_, err := sqlite.Open(t.Context(), path)
		wantErrContains(t, err, want)
	}
	_, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"), sqlite.WithBusyTimeout(-time.Second))
	wantErrContains(t, err, "negative busy timeout")
}

// TestConcurrentFirstOpens repeats what makes SQLite fail a connection
// without waiting: several connections converting one new file to WAL at
// once. The suite's concurrent-open test meets it only now and then.
func TestConcurrentFirstOpens(t *testing.T) {
	t.Parallel()
	const files, opens = 12, 8
	for range files {
		path := filepath.Join(t.TempDir(), "audit.db")
		var wg sync.WaitGroup
		for range opens {
			wg.Go(func() {
				s, err := sqlite.Open(t.Context(), path)
				if err != nil {
					t.Errorf("concurrent first Open: %v", err)
					return
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}
