package adopt

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/internal/pgtest"
)

// otherSessionLocks reports whether another session can take advisory lock id now
// (and releases it at once).
func otherSessionLocks(t *testing.T, srv *pgtest.Server, id int64) bool {
	t.Helper()
	conn, err := srv.Admin.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var ok bool
	if err := conn.QueryRow(context.Background(), "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	if ok {
		if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", id); err != nil {
			t.Fatal(err)
		}
	}
	return ok
}

func TestGooseHoldsGoosesLockWhileImporting(t *testing.T) {
	w := pgWorld(t)
	w.gooseTable(t, "goose_db_version")
	w.gooseRows(t, "goose_db_version", gooseRow{1, true, "2024-01-01 10:00:00"})
	rec := recorder{during: func() {
		if otherSessionLocks(t, w.srv, 4097083626) {
			t.Error("another session took goose's lock 4097083626 while the import recorded")
		}
	}}
	if err := Goose(w.db, w.dialect).Import(context.Background(), rec.request(planned("schema", 1, 2))); err != nil {
		t.Fatal(err)
	}
	if rec.calls != 1 {
		t.Fatalf("Record called %d times, want once", rec.calls)
	}
	if !otherSessionLocks(t, w.srv, 4097083626) {
		t.Error("goose's lock is still held after the import")
	}
}

func TestMigrateHoldsGolangMigratesLocksWhileImporting(t *testing.T) {
	w := pgWorld(t)
	w.migrateTable(t, "schema_migrations", version(1), false)
	var database string
	if err := w.db.QueryRow("SELECT current_database()").Scan(&database); err != nil {
		t.Fatal(err)
	}
	// As golang-migrate opened with a URL (its CLI) and with a *sql.DB.
	ids := []int64{migrateLockID("/"+database, w.schema, "schema_migrations"), migrateLockID(database, w.schema, "schema_migrations")}
	rec := recorder{during: func() {
		for _, id := range ids {
			if otherSessionLocks(t, w.srv, id) {
				t.Errorf("another session took golang-migrate's lock %d while the import recorded", id)
			}
		}
	}}
	if err := Migrate(w.db, w.dialect).Import(context.Background(), rec.request(planned("schema", 1, 2))); err != nil {
		t.Fatal(err)
	}
	if rec.calls != 1 {
		t.Fatalf("Record called %d times, want once", rec.calls)
	}
	for _, id := range ids {
		if !otherSessionLocks(t, w.srv, id) {
			t.Errorf("golang-migrate's lock %d is still held after the import", id)
		}
	}
}

func TestImportReleasesTheLockWhenItRefuses(t *testing.T) {
	w := pgWorld(t)
	w.gooseTable(t, "goose_db_version")
	w.gooseRows(t, "goose_db_version", gooseRow{9, true, "2024-01-01 10:00:00"})
	var rec recorder
	if err := Goose(w.db, w.dialect).Import(context.Background(), rec.request(planned("schema", 1))); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Import: %v, want ErrMismatch", err)
	}
	if !otherSessionLocks(t, w.srv, 4097083626) {
		t.Error("goose's lock is still held after a refused import")
	}
}

func TestImportWaitsForTheOldToolsLock(t *testing.T) {
	w := pgWorld(t)
	w.gooseTable(t, "goose_db_version")
	w.gooseRows(t, "goose_db_version", gooseRow{1, true, "2024-01-01 10:00:00"})
	const id = 4097083626
	old, err := w.srv.Admin.Acquire(context.Background()) // an old release, migrating
	if err != nil {
		t.Fatal(err)
	}
	defer old.Release()
	if _, err := old.Exec(context.Background(), "SELECT pg_advisory_lock($1)", int64(id)); err != nil {
		t.Fatal(err)
	}
	unlock := func() {
		if _, err := old.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(id)); err != nil {
			t.Error(err)
		}
	}

	t.Run("gives up after the wait, recording nothing", func(t *testing.T) {
		var rec recorder
		start := time.Now()
		err := Goose(w.db, w.dialect, WithLockWait(300*time.Millisecond)).Import(context.Background(), rec.request(planned("schema", 1)))
		wantErr(t, err, "goose import of goose_db_version: goose's advisory lock: lock 4097083626 is held by another session", "adopt.WithLockWait")
		if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
			t.Errorf("gave up after %v, want about 300ms", d)
		}
		if rec.calls != 0 {
			t.Errorf("Record called with %v", summarize(t, rec.marks))
		}
	})
	t.Run("honours the context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		var rec recorder
		err := Goose(w.db, w.dialect).Import(ctx, rec.request(planned("schema", 1)))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Import: %v, want the context's deadline", err)
		}
	})
	t.Run("imports once the old release is done", func(t *testing.T) {
		var rec recorder
		released := make(chan struct{})
		go func() {
			defer close(released)
			time.Sleep(300 * time.Millisecond)
			unlock()
		}()
		err := Goose(w.db, w.dialect).Import(context.Background(), rec.request(planned("schema", 1)))
		<-released // the old release's connection is used by one goroutine at a time
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(len(rec.marks)); got != "1" {
			t.Errorf("%s marks, want 1", got)
		}
	})
}
