package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// The environment of the child process of the rollback crash test.
const (
	rollbackCrashDirEnv      = "FLAMINGOCK_TEST_ROLLBACK_CRASH_DIR"
	rollbackCrashStrategyEnv = "FLAMINGOCK_TEST_ROLLBACK_CRASH_STRATEGY"
)

// rollbackCrashWorld is what the rollback crash test and its child share:
// the audit store and the target database in dir.
type rollbackCrashWorld struct {
	store    *sqlite.Store
	targetDB *sql.DB
}

func openRollbackCrashWorld(ctx context.Context, dir string) (*rollbackCrashWorld, error) {
	store, err := sqlite.Open(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(dir, "target.db"))+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		store.Close()
		return nil, err
	}
	return &rollbackCrashWorld{store: store, targetDB: db}, nil
}

func (w *rollbackCrashWorld) Close() {
	w.targetDB.Close()
	w.store.Close()
}

// stages is the pipeline of the test: "keep", then "undo" under strategy
// s (separate: it creates table t_undo in the target database), whose
// rollback ends with rb.
func (w *rollbackCrashWorld) stages(s audit.Strategy, rb func(context.Context) error) []pipeline.Stage {
	meta := func(id string, order uint64) pipeline.Meta {
		return pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "tester", Target: "t", Recovery: audit.RecoveryManual,
			WithoutTransaction: s == nonTx, Checksum: "sum-" + id}
	}
	noop := func(context.Context, struct{}) error { return nil }
	keep := pipeline.NewChange(meta("keep", 1), pipeline.NonTransactional(struct{}{}), noop, noop)
	undo := pipeline.NewChange(meta("undo", 2), pipeline.NonTransactional(struct{}{}), noop,
		func(ctx context.Context, _ struct{}) error { return rb(ctx) })
	if s == separate {
		undo = pipeline.NewChange(meta("undo", 2), pipeline.Target[*sql.Tx](sqltarget.New(w.targetDB)),
			func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `CREATE TABLE t_undo (x INTEGER)`)
				return err
			},
			func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `DROP TABLE t_undo`); err != nil {
					return err
				}
				return rb(ctx)
			})
	}
	return []pipeline.Stage{{Name: "crash", Changes: []pipeline.Change{keep, undo}}}
}

// TestHelperRollbackCrashChild is the child process of
// TestACrashInsideARollback: it applies the pipeline, rolls it back to
// "keep" with a one second lease, says "ready" on stdout from inside the
// rollback of "undo", and blocks there until it is killed.
func TestHelperRollbackCrashChild(t *testing.T) {
	dir := os.Getenv(rollbackCrashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestACrashInsideARollback")
	}
	ctx := context.Background()
	w, err := openRollbackCrashWorld(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pipeline.New(w.store, w.stages(audit.Strategy(os.Getenv(rollbackCrashStrategyEnv)), func(context.Context) error {
		fmt.Println("ready")
		select {} // killed here
	}), pipeline.WithLease(time.Second), pipeline.WithRunnerID("crashed-child"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = r.RollbackTo(ctx, "keep")
	t.Fatalf("the rollback returned (%v); it should have been killed inside it", err)
}

func TestACrashInsideARollback(t *testing.T) {
	tests := []struct {
		name     string
		strategy audit.Strategy
		// wantIssue: the next run reports the change as an issue;
		// otherwise it records it applied from the marker.
		wantIssue bool
	}{
		{"without a transaction the next run reports an issue: the change may be partly undone", nonTx, true},
		{"in a separate transaction the next run finds the marker and records the change still applied", separate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			w, err := openRollbackCrashWorld(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()

			killWhenReady(t, "TestHelperRollbackCrashChild", "the rollback", rollbackCrashDirEnv+"="+dir, rollbackCrashStrategyEnv+"="+string(tt.strategy))

			// The dead child left the rollback's STARTED and its lock.
			h, err := w.store.History(ctx, audit.Filter{ChangeID: "undo"})
			if err != nil {
				t.Fatal(err)
			}
			if last := h[len(h)-1]; last.State != audit.StateStarted || last.RunnerID != "crashed-child" || !strings.Contains(last.Reason, "rollback") {
				t.Fatalf("latest entry of undo after the crash = %+v, want the rollback's STARTED", last)
			}
			crashed := len(h)

			r, err := pipeline.New(w.store, w.stages(tt.strategy, func(context.Context) error { return nil }),
				pipeline.WithRunnerID("survivor"), pipeline.WithLockWait(time.Minute, 20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(ctx)

			if tt.wantIssue {
				var ie *pipeline.IssuesError
				if !errors.As(err, &ie) || len(ie.Issues) != 1 || ie.Issues[0].ChangeID != "undo" || ie.Issues[0].Latest.RunnerID != "crashed-child" {
					t.Fatalf("next run error = %v, want the issue of undo left by the crashed child", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"crash/keep=skipped", "crash/undo=recovered"}, statuses(res)); diff != "" {
				t.Errorf("next run's outcomes (-want +got):\n%s", diff)
			}
			var n int
			if err := w.targetDB.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 't_undo'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("table t_undo exists: %d (%v); want it kept, since the rollback never committed", n, err)
			}
			h, err = w.store.History(ctx, audit.Filter{ChangeID: "undo"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]audit.State{audit.StateApplied}, states(h[crashed:])); diff != "" {
				t.Errorf("entries the next run wrote (-want +got):\n%s", diff)
			}
		})
	}
}
