package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// fromCheckpoint reports whether every change of res was skipped on the
// strength of a current checkpoint, without the trail being read.
func fromCheckpoint(res *pipeline.Result) bool {
	for _, o := range res.Changes() {
		if o.Status != pipeline.StatusSkipped || !strings.Contains(o.Reason, "has not changed since") {
			return false
		}
	}
	return len(res.Changes()) > 0
}

func (e *env) mustRun(r *pipeline.Runner) *pipeline.Result {
	e.t.Helper()
	res, err := r.Run(context.Background())
	if err != nil {
		e.t.Fatalf("run: %v", err)
	}
	return res
}

func TestCheckpointStartsAnUpToDatePipelineWithoutReadingTheTrail(t *testing.T) {
	e := newEnv(t)
	stages := []pipeline.Stage{e.stage("s1",
		spec{id: "a", strategy: audit.StrategySharedTx},
		spec{id: "b", order: 2, strategy: audit.StrategySeparateTx},
		spec{id: "c", order: 3, strategy: audit.StrategyNonTx},
	)}
	if res := e.mustRun(e.runner(stages)); fromCheckpoint(res) {
		t.Fatalf("first run took the checkpoint's word: %v", statuses(res))
	}
	epoch := e.lock().Epoch
	res := e.mustRun(e.runner(stages))
	if !fromCheckpoint(res) {
		t.Errorf("second run did not start from the checkpoint the first one saved: %+v", res.Changes())
	}
	if got := e.lock().Epoch; got != epoch {
		t.Errorf("the second run took the lock (epoch %d, was %d)", got, epoch)
	}
	for _, id := range []string{"a", "b", "c"} {
		if n := e.ran(id); n != 1 {
			t.Errorf("change %s ran %d times, want 1", id, n)
		}
	}
}

// Anything recorded since the checkpoint, here an operator marking a change
// rolled back, sends the next start back to the trail, which then applies
// the change again: a checkpoint never makes a pending change look done.
func TestCheckpointIsStaleOnceTheTrailChanges(t *testing.T) {
	e := newEnv(t)
	stages := []pipeline.Stage{e.stage("s1",
		spec{id: "a", strategy: audit.StrategySharedTx},
		spec{id: "b", order: 2, strategy: audit.StrategyNonTx},
	)}
	e.mustRun(e.runner(stages))
	e.seed(seedEntry("s1", "b", audit.StateManualRolledBack, audit.StrategyNonTx, audit.RecoveryManual))

	res := e.mustRun(e.runner(stages))
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=applied"}, statuses(res)); diff != "" {
		t.Errorf("run after the rollback mark (-want +got):\n%s", diff)
	}
	if n := e.ran("b"); n != 2 {
		t.Errorf("change b ran %d times, want 2 (applied, marked rolled back, applied again)", n)
	}
	if res := e.mustRun(e.runner(stages)); !fromCheckpoint(res) {
		t.Errorf("the run that applied b again saved no checkpoint: %+v", res.Changes())
	}
}

// During a rolling deploy, starts of the old and the new release take
// turns: each release keeps a checkpoint of its own.
func TestCheckpointBelongsToOnePipeline(t *testing.T) {
	e := newEnv(t)
	a := spec{id: "a", strategy: audit.StrategySharedTx}
	v1 := []pipeline.Stage{e.stage("s1", a)}
	v2 := []pipeline.Stage{e.stage("s1", a, spec{id: "b", order: 2, strategy: audit.StrategySharedTx})}
	e.mustRun(e.runner(v1))
	res := e.mustRun(e.runner(v2))
	if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=applied"}, statuses(res)); diff != "" {
		t.Errorf("new release (-want +got):\n%s", diff)
	}
	for i, step := range []struct {
		stages []pipeline.Stage
		want   bool
	}{
		{v2, true},  // saved by the run that applied b
		{v1, false}, // saved before b was applied: reads the trail, saves again
		{v1, true},
		{v2, true},
	} {
		if got := fromCheckpoint(e.mustRun(e.runner(step.stages))); got != step.want {
			t.Errorf("start %d: from the checkpoint = %v, want %v", i+1, got, step.want)
		}
	}
}

func TestCheckpointIsSavedByAStartThatFindsNothingToDo(t *testing.T) {
	e := newEnv(t)
	stages := []pipeline.Stage{e.stage("s1", spec{id: "a", strategy: audit.StrategySharedTx})}
	e.mustRun(e.runner(stages))
	if _, err := e.store.DB().Exec(`DELETE FROM flamingock_checkpoint`); err != nil {
		t.Fatal(err)
	}
	if res := e.mustRun(e.runner(stages)); fromCheckpoint(res) {
		t.Fatal("started from a checkpoint that was deleted")
	}
	if res := e.mustRun(e.runner(stages)); !fromCheckpoint(res) {
		t.Errorf("the start that read the trail saved no checkpoint: %+v", res.Changes())
	}
}

func TestCheckpointIsNotSavedByARunThatLeavesWorkUndone(t *testing.T) {
	e := newEnv(t)
	stages := []pipeline.Stage{e.stage("s1",
		spec{id: "a", strategy: audit.StrategySharedTx},
		spec{id: "b", order: 2, strategy: audit.StrategySharedTx, fail: errBoom},
	)}
	if _, err := e.runner(stages).Run(context.Background()); !errors.Is(err, errBoom) {
		t.Fatalf("run: %v, want the change's failure", err)
	}
	var n int
	if err := e.store.DB().QueryRow(`SELECT count(*) FROM flamingock_checkpoint`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d checkpoints saved by a run that failed", n)
	}
}

// failingCheckpoints is the SQLite store whose checkpoints cannot be saved.
type failingCheckpoints struct{ *sqlite.Store }

func (failingCheckpoints) SaveCheckpoint(context.Context, audit.Checkpoint) error {
	return errors.New("permission denied for table flamingock_checkpoint")
}

// A checkpoint only spares reads: failing to save one is worth a warning,
// not a failed start.
func TestCheckpointNotSavedIsAWarning(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	store := failingCheckpoints{e.store}
	e.shared = sqltarget.Shared(store) // the shared target shares the pipeline's store
	stages := []pipeline.Stage{e.stage("s1", spec{id: "a", strategy: audit.StrategySharedTx})}
	for range 2 {
		r, err := pipeline.New(store, stages,
			pipeline.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		if res := e.mustRun(r); fromCheckpoint(res) {
			t.Fatal("started from a checkpoint that could not be saved")
		}
	}
	if got := strings.Count(logs.String(), "level=WARN msg=\"checkpoint not saved"); got != 2 {
		t.Errorf("%d warnings about the checkpoint, want 2 (one per run):\n%s", got, logs.String())
	}
}

// Validate, for readiness checks, trusts a current checkpoint as Run does,
// and a stale one no more.
func TestCheckpointValidate(t *testing.T) {
	e := newEnv(t)
	stages := []pipeline.Stage{e.stage("s1", spec{id: "a", strategy: audit.StrategyNonTx})}
	e.mustRun(e.runner(stages))
	if err := e.runner(stages).Validate(context.Background()); err != nil {
		t.Fatalf("validate after the run: %v", err)
	}
	e.seed(seedEntry("s1", "a", audit.StateManualRolledBack, audit.StrategyNonTx, audit.RecoveryManual))
	if err := e.runner(stages).Validate(context.Background()); !errors.Is(err, pipeline.ErrPending) {
		t.Fatalf("validate after the rollback mark: %v, want ErrPending", err)
	}
}
