package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
)

// A call refused because another connection held the write lock for
// longer than the busy timeout did nothing: it says so with audit.ErrBusy,
// so that the runtime waits for the lock instead of failing the start.
func TestACallRefusedForTheWriteLockIsBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := open(t, path, sqlite.WithBusyTimeout(20*time.Millisecond))
	lease := acquire(t, s)
	tx, err := open(t, path).DB().BeginTx(t.Context(), nil) // BEGIN IMMEDIATE
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	calls := map[string]func(context.Context) error{
		"Append": func(ctx context.Context) error { _, err := s.Append(ctx, lease, validEntry("a")); return err },
		"Acquire": func(ctx context.Context) error {
			_, err := s.Acquire(ctx, "other", "runner-b", time.Minute)
			return err
		},
		"SnapshotUnlessCurrent": func(ctx context.Context) error {
			_, _, err := s.SnapshotUnlessCurrent(ctx, "digest")
			return err
		},
	}
	for name, call := range calls {
		err := call(t.Context())
		if !errors.Is(err, audit.ErrBusy) {
			t.Errorf("%s while another connection writes: %v, want an error matching audit.ErrBusy", name, err)
		}
		wantErrContains(t, err, "database is locked")
	}

	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), lease, audit.Entry{}); err == nil || errors.Is(err, audit.ErrBusy) {
		t.Errorf("Append of an invalid entry: %v, want an error that is not audit.ErrBusy", err)
	}
	if _, err := s.Append(t.Context(), lease, validEntry("a")); err != nil {
		t.Errorf("Append once the writer is done: %v", err)
	}
}
