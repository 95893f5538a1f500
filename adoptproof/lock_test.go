package adoptproof

import (
	"database/sql"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// slowLast is h with its last old migration made slow: an old release
// still migrating it holds the old tool's lock for that long.
func slowLast(h history) history {
	slow := append(history{}, h...)
	last := &slow[len(h)-newCount-1]
	last.up = "SELECT pg_sleep(2);\n" + last.up
	return slow
}

// lockedBy is proveLockedAdoption with rollingOut, for proveAll.
func lockedBy(rollingOut func(db *sql.DB, fsys fstest.MapFS) error) proof {
	return func(t *testing.T, _ app, tool oldTool, h history, newDB func(t *testing.T) database) {
		proveLockedAdoption(t, tool, h, rollingOut, newDB)
	}
}

// proveLockedAdoption: while an old release still rolling out migrates
// the last old version under the old tool's lock (rollingOut), the first
// start of the new release waits for that lock, then imports every old
// version, that one included, and applies exactly the new ones. Without
// the wait it would find the last version missing and run it again.
func proveLockedAdoption(t *testing.T, tool oldTool, h history, rollingOut func(db *sql.DB, fsys fstest.MapFS) error, newDB func(t *testing.T) database) {
	h = slowLast(h)
	a := buildApp(t, postgresApp, tool.files(h))
	ref := newDB(t)
	tool.migrate(t, ref.db, tool.files(h))
	want := ref.schema(t)

	db := newDB(t)
	tool.migrate(t, db.db, tool.files(h.old()[:len(h.old())-1]))
	migrated := make(chan error, 1)
	go func() { migrated <- rollingOut(db.db, tool.files(h.old())) }()
	waitAdvisoryLock(t, db.db)

	out := a.startOK(t, "-store", db.arg, "-import", tool.name)
	if err := <-migrated; err != nil {
		t.Fatalf("the old release: %v", err)
	}
	if out != applied(h, newCount) {
		t.Errorf("first start printed %q, want %q", out, applied(h, newCount))
	}
	wantAdopted(t, trail(t, db.store(t)), tool.origin, tool.table, tool.times(t, db.db), h.old(), h[len(h)-newCount:])
	if diff := cmp.Diff(want, db.schema(t)); diff != "" {
		t.Errorf("schema of the adopted database (-%s applying all %d, +adopted):\n%s", tool.name, len(h), diff)
	}
}

// waitAdvisoryLock waits until a session holds an advisory lock on db's
// database: the old tool has locked it.
func waitAdvisoryLock(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the old release took no advisory lock in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
