package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/migrate"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// noWrites is an audit store that reads and refuses every write, failing
// the test that made it: the read commands must never call one.
type noWrites struct {
	audit.Store
	t *testing.T
}

var errWrite = errors.New("write to a read-only store")

func (s noWrites) refuse(op string) error {
	s.t.Helper()
	s.t.Errorf("a read command called %s", op)
	return errWrite
}

func (s noWrites) Append(context.Context, audit.Lease, audit.Entry) (audit.Entry, error) {
	return audit.Entry{}, s.refuse("Append")
}

func (s noWrites) Acquire(context.Context, string, string, time.Duration) (audit.Lease, error) {
	return audit.Lease{}, s.refuse("Acquire")
}

func (s noWrites) Refresh(context.Context, audit.Lease) (audit.Lease, error) {
	return audit.Lease{}, s.refuse("Refresh")
}

func (s noWrites) Release(context.Context, audit.Lease) error { return s.refuse("Release") }

func (s noWrites) ForceRelease(context.Context, string, string) (audit.LockInfo, error) {
	return audit.LockInfo{}, s.refuse("ForceRelease")
}

func (s noWrites) Close() error { return s.refuse("Close") }

// The store's capabilities, so that the runner reads as it does on the
// store itself (a checkpoint, the store's name).
func (s noWrites) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	return s.Store.(audit.Checkpointer).SnapshotUnlessCurrent(ctx, digest)
}

func (s noWrites) SaveCheckpoint(context.Context, audit.Checkpoint) error {
	return s.refuse("SaveCheckpoint")
}

func (s noWrites) Locator() audit.Locator { return s.Store.(audit.Locatable).Locator() }

var (
	_ audit.Checkpointer = noWrites{}
	_ audit.Locatable    = noWrites{}
)

// TestReadCommandsNeverWrite runs every read command, as a table and as
// JSON, on a trail where every status appears (applied, drifted, pending,
// issue, running, unknown), through a store that refuses writes; the
// trail and the lock are the same afterwards.
func TestReadCommandsNeverWrite(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	target := pipeline.NonTransactional(&effects{path: filepath.Join(t.TempDir(), "effects.log")})
	change := func(id string, order uint64, sum string, fail bool) pipeline.Change {
		m := pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "alice", Target: "files", Checksum: sum}
		return pipeline.NewChange(m, target, func(context.Context, *effects) error {
			if fail {
				return errors.New("flag service: connection reset")
			}
			return nil
		}, nil)
	}
	quiet := pipeline.WithLogger(slog.New(slog.DiscardHandler))
	first, err := pipeline.New(store, []pipeline.Stage{{Name: "app", Changes: []pipeline.Change{
		change("applied", 1, "sum-applied", false),
		change("drifted", 2, "sum-drifted", false),
		change("removed", 3, "sum-removed", false),
		change("failed", 4, "sum-failed", true),
	}}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Run(ctx); !errors.Is(err, pipeline.ErrChangeFailed) {
		t.Fatalf("first run: %v, want the change failed", err)
	}
	// Another replica applies "running" now, holding the lock.
	lease, err := store.Acquire(ctx, audit.DefaultLockKey, "replica-2", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, lease, audit.Entry{
		ExecutionID: "exec-2", Stage: "app", ChangeID: "running", Order: audit.OrderOf(5), State: audit.StateStarted,
		Time: time.Now(), Host: "web-2", RunnerID: "replica-2", TargetID: "files", Checksum: "sum-running",
		Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual,
	}); err != nil {
		t.Fatal(err)
	}

	readOnly := noWrites{Store: store, t: t}
	runner, err := pipeline.New(readOnly, []pipeline.Stage{{Name: "app", Changes: []pipeline.Change{
		change("applied", 1, "sum-applied", false),
		change("drifted", 2, "sum-drifted-edited", false),
		change("failed", 4, "sum-failed", true),
		change("running", 5, "sum-running", false),
		change("pending", 6, "sum-pending", false),
	}}}, quiet)
	if err != nil {
		t.Fatal(err)
	}

	dump := func() (string, []audit.Entry, audit.LockInfo) {
		h, err := store.History(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := store.Lock(ctx, audit.DefaultLockKey)
		if err != nil {
			t.Fatal(err)
		}
		l.Now = time.Time{} // the store's clock when read
		var status bytes.Buffer
		if code := (migrate.Command{Runner: runner, Store: readOnly, Stdout: &status}).Run(ctx, []string{"status"}); code != 0 {
			t.Fatalf("status: exit status %d", code)
		}
		return status.String(), h, l
	}
	status, trail, lock := dump()
	for _, want := range []string{"APPLIED", "DRIFTED", "PENDING", "ISSUE", "RUNNING", "UNKNOWN"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %s:\n%s", want, status)
		}
	}

	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"status"}, 0},
		{[]string{"plan"}, 0},
		{[]string{"validate"}, 3},
		{[]string{"audit", "list"}, 0},
		{[]string{"audit", "list", "--history"}, 0},
		{[]string{"issue", "list"}, 3},
		{[]string{"issue", "get", "failed", "--guidance"}, 0},
		{[]string{"issue", "get", "running"}, 0},
		{[]string{"lock", "status"}, 0},
	} {
		for _, args := range [][]string{tt.args, append(tt.args, "--json")} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				readOnly.t = t
				var stdout, stderr bytes.Buffer
				cmd := migrate.Command{Runner: runner, Store: readOnly, Name: "app migrate", Stdout: &stdout, Stderr: &stderr}
				if got := cmd.Run(ctx, args); got != tt.want {
					t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", got, tt.want, &stdout, &stderr)
				}
			})
		}
	}
	readOnly.t = t

	_, trailAfter, lockAfter := dump()
	if diff := cmp.Diff(trail, trailAfter); diff != "" {
		t.Errorf("the trail changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(lock, lockAfter); diff != "" {
		t.Errorf("the lock changed (-before +after):\n%s", diff)
	}
}
