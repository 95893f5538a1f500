package sqlite_test

import (
	"database/sql"
	"errors"
	"io/fs"
	"maps"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
)

// journalMode reads the journal mode of the database at path without
// changing it.
func journalMode(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// foreignDB creates another application's database at path, in the
// rollback journal mode SQLite starts with.
func foreignDB(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec(t, db, `CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)`, `INSERT INTO customers (name) VALUES ('ada')`)
}

func TestReadOnlyOpenReadsAStoreAndWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	w := open(t, path)
	lease := acquire(t, w)
	if _, err := w.Append(t.Context(), lease, validEntry("c1")); err != nil {
		t.Fatal(err)
	}
	if err := w.Release(t.Context(), lease); err != nil {
		t.Fatal(err)
	}

	r := open(t, path, sqlite.WithReadOnly())
	latest, err := r.Snapshot(t.Context())
	if err != nil || len(latest) != 1 || latest[0].ChangeID != "c1" {
		t.Fatalf("Snapshot of the read-only store = %v, %v; want c1", latest, err)
	}
	if info, err := r.Lock(t.Context(), "default"); err != nil || info.Epoch != 1 {
		t.Errorf("Lock of the read-only store = %+v, %v; want epoch 1", info, err)
	}
	if _, err := r.Acquire(t.Context(), "default", "runner-b", 60e9); err == nil {
		t.Error("Acquire on a read-only store succeeded")
	}
	if latest, err := w.Snapshot(t.Context()); err != nil || len(latest) != 1 {
		t.Errorf("the store after the read-only one: %v, %v", latest, err)
	}
}

func TestReadOnlyOpenOfAnEmptyStoreListsNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	open(t, path)
	r := open(t, path, sqlite.WithReadOnly())
	if latest, err := r.Snapshot(t.Context()); err != nil || len(latest) != 0 {
		t.Errorf("Snapshot of an empty store = %v, %v; want nothing", latest, err)
	}
}

func TestReadOnlyOpenRefusesWhatIsNotAStore(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		create func(path string)
		want   string
	}{
		{"an empty file", func(path string) {
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, `the database has no table "flamingock_audit"`},
		{"another application's database", func(path string) { foreignDB(t, path) }, `the database has no table "flamingock_audit"`},
		{"a text file", func(path string) {
			if err := os.WriteFile(path, []byte("not a database, but long enough to have a header of one: 0123456789abcdef\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "the file is not a SQLite database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".db")
			tt.create(path)
			before := dirContents(t, dir)
			mode := ""
			if tt.name == "another application's database" {
				mode = journalMode(t, path)
			}
			s, err := sqlite.Open(t.Context(), path, sqlite.WithReadOnly())
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, sqlite.ErrNotStore) {
				t.Errorf("Open: %v, want an error matching ErrNotStore", err)
			}
			wantErrContains(t, err, "not an audit store", tt.want)
			after := dirContents(t, dir)
			if !maps.Equal(before, after) {
				t.Errorf("Open changed the directory: files %v, then %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
			}
			if mode != "" {
				if got := journalMode(t, path); got != mode {
					t.Errorf("journal mode %s, then %s", mode, got)
				}
			}
		})
	}
	t.Run("a path that does not exist", func(t *testing.T) {
		path := filepath.Join(dir, "missing.db")
		s, err := sqlite.Open(t.Context(), path, sqlite.WithReadOnly())
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded")
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open: %v, want an error matching fs.ErrNotExist", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open created %s", path)
		}
	})
	t.Run("with its own table prefix", func(t *testing.T) {
		path := filepath.Join(dir, "other-prefix.db")
		open(t, path)
		_, err := sqlite.Open(t.Context(), path, sqlite.WithReadOnly(), sqlite.WithTablePrefix("ops"))
		if !errors.Is(err, sqlite.ErrNotStore) {
			t.Errorf("Open with another prefix: %v, want an error matching ErrNotStore", err)
		}
		wantErrContains(t, err, `no table "ops_audit"`)
	})
}

// readOnlyDir makes dir read-only for this process until the test ends,
// or skips the test: chmod does not stop root, so as root it also marks
// the directory immutable (chattr +i) when it can.
func readOnlyDir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if os.Geteuid() == 0 {
		if out, err := osexec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s read-only as root: chattr +i: %v: %s", dir, err, out)
		}
		t.Cleanup(func() { osexec.Command("chattr", "-i", dir).Run() })
	}
	probe := filepath.Join(dir, "probe")
	if f, err := os.Create(probe); err == nil {
		f.Close()
		os.Remove(probe)
		t.Skipf("cannot make %s read-only: a file can still be created in it", dir)
	}
}

func TestReadOnlyOpenReadsAStoreInAReadOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.db")
	w, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	lease := acquire(t, w)
	if _, err := w.Append(t.Context(), lease, validEntry("c1")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // the last connection removes -wal and -shm
		t.Fatal(err)
	}
	readOnlyDir(t, dir)

	r := open(t, path, sqlite.WithReadOnly())
	latest, err := r.Snapshot(t.Context())
	if err != nil || len(latest) != 1 {
		t.Fatalf("Snapshot in a read-only directory = %v, %v; want c1", latest, err)
	}
	history, err := r.History(t.Context(), audit.Filter{})
	if err != nil || len(history) != 1 {
		t.Errorf("History in a read-only directory = %v, %v", history, err)
	}
	if _, err := r.Lock(t.Context(), "default"); err != nil {
		t.Errorf("Lock in a read-only directory: %v", err)
	}
}
