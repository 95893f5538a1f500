package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestValidate(t *testing.T) {
	ctx := context.Background()
	specs := []spec{{id: "a", order: 1, strategy: shared}, {id: "b", order: 2, strategy: separate}, {id: "c", order: 3, strategy: nonTx}}

	t.Run("a pipeline with changes not applied fails with ErrPending listing them in order and why", func(t *testing.T) {
		e := newEnv(t)
		e.seed(
			seedEntry("s1", "a", audit.StateApplied, shared, manual),
			seedEntry("s1", "b", audit.StateStarted, separate, manual),
		)
		e.seedMarker("s1", "b", seedExec)
		r := e.runner([]pipeline.Stage{e.stage("s1", specs...)})
		before := e.lock()

		err := r.Validate(ctx)

		var pe *pipeline.PendingError
		if !errors.As(err, &pe) || !errors.Is(err, pipeline.ErrPending) {
			t.Fatalf("Validate error = %v, want a *PendingError matching ErrPending", err)
		}
		want := `changes pending: 2 changes are not applied
  change "b" (stage "s1"): recover-from-marker: STARTED at 2025-03-01T10:00:00Z by runner old-runner; the marker in target "otherdb" shows its transaction committed
  change "c" (stage "s1"): apply: never applied`
		if diff := cmp.Diff(want, err.Error()); diff != "" {
			t.Errorf("error message (-want +got):\n%s", diff)
		}
		if len(pe.Changes) != 2 || pe.Changes[0].Action != pipeline.ActionRecover || pe.Changes[1].Action != pipeline.ActionApply {
			t.Errorf("pending changes = %+v, want b to recover and c to apply", pe.Changes)
		}
		if n := len(e.history("s1", "b")) + len(e.history("s1", "c")); n != 1 {
			t.Errorf("the trail of b and c holds %d entries, want the seeded one: Validate wrote", n)
		}
		if e.ran("c") != 0 {
			t.Error("Validate ran a change")
		}
		if after := e.lock(); after.Epoch != before.Epoch {
			t.Errorf("lock epoch %d after Validate, want %d: it took the lock", after.Epoch, before.Epoch)
		}
	})

	t.Run("issues win over pending changes: nothing can run until they are resolved", func(t *testing.T) {
		e := newEnv(t)
		e.seed(seedEntry("s1", "c", audit.StateFailed, nonTx, manual))
		r := e.runner([]pipeline.Stage{e.stage("s1", specs...)})

		err := r.Validate(ctx)

		var ie *pipeline.IssuesError
		if !errors.As(err, &ie) || !errors.Is(err, pipeline.ErrManualInterventionRequired) || errors.Is(err, pipeline.ErrPending) {
			t.Fatalf("Validate error = %v, want only an *IssuesError", err)
		}
		if len(ie.Issues) != 1 || ie.Issues[0].ChangeID != "c" {
			t.Errorf("issues = %+v, want c", ie.Issues)
		}
	})

	t.Run("an applied pipeline is valid, also while another runner holds the lock", func(t *testing.T) {
		e := newEnv(t)
		r := e.runner([]pipeline.Stage{e.stage("s1", specs...)})
		if err := r.Validate(ctx); !errors.Is(err, pipeline.ErrPending) {
			t.Fatalf("Validate before the run = %v, want ErrPending", err)
		}
		if _, err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Acquire(ctx, lockKey, "other-runner", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := r.Validate(ctx); err != nil {
			t.Errorf("Validate after the run = %v, want nil", err)
		}
	})
}
