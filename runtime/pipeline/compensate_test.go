package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// An undo is written for a fully applied change. Run on a half-applied one
// (a "down" migration dropping a column the failed "up" never finished
// adding) it destroys data, so a failure without a transaction runs no
// rollback unless the change asks for compensation: it becomes an issue, or
// is retried.
func TestAFailedChangeWithAnUndoIsAnIssueOrARetryNeverAnUndo(t *testing.T) {
	for _, tt := range []struct {
		recovery audit.Recovery
		next     string // what the next run does with c1
	}{
		{audit.RecoveryManual, "issue"},
		{audit.RecoveryRetry, "applied"},
	} {
		t.Run("recovery "+string(tt.recovery), func(t *testing.T) {
			e := newEnv(t)
			failing := spec{id: "c1", order: 1, strategy: nonTx, recovery: tt.recovery, fail: errBoom, rollback: true}
			_, err := e.runner([]pipeline.Stage{e.stage("s1", failing)}).Run(t.Context())
			var ce *pipeline.ChangeError
			if !errors.As(err, &ce) || ce.State != audit.StateFailed {
				t.Fatalf("Run = %v, want a *ChangeError in state FAILED", err)
			}
			if !strings.Contains(ce.Next, "its rollback was not run") {
				t.Errorf("ChangeError.Next = %q, want it to say the rollback was not run", ce.Next)
			}
			if n := e.rec.count("c1:rollback"); n != 0 {
				t.Fatalf("the undo ran %d times after the failure, want 0", n)
			}
			if diff := cmp.Diff([]audit.State{audit.StateStarted, audit.StateFailed}, states(e.history("s1", "c1"))); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}

			fixed := failing
			fixed.fail = nil
			res, err := e.runner([]pipeline.Stage{e.stage("s1", fixed)}).Run(t.Context())
			var ie *pipeline.IssuesError
			switch tt.next {
			case "issue":
				if !errors.As(err, &ie) || len(ie.Issues) != 1 || ie.Issues[0].ChangeID != "c1" {
					t.Errorf("next Run = %v, want the issue of c1", err)
				}
			default:
				if err != nil || len(res.Applied()) != 1 {
					t.Errorf("next Run = %v, %v; want c1 applied again", statuses(res), err)
				}
			}
			if n := e.rec.count("c1:rollback"); n != 0 {
				t.Errorf("the undo ran %d times, want 0", n)
			}
		})
	}
}

func TestNewRefusesCompensationWithoutARollback(t *testing.T) {
	e := newEnv(t)
	_, err := pipeline.New(e.store, []pipeline.Stage{e.stage("s1", spec{id: "c1", strategy: nonTx, compensate: true})})
	if err == nil || !strings.Contains(err.Error(), `change "c1" (c1.go:3): Compensate is set, but the change has no rollback to compensate with`) {
		t.Errorf("New = %v, want a refusal of Compensate without a rollback", err)
	}
}

// SIGTERM (a rolling deploy) cancels the run's context while a change runs.
// Its compensation must still run, with a context that is not cancelled.
func TestACancelledChangeIsStillCompensated(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var rollbackSaw error
	m := e.meta(spec{id: "c1", strategy: nonTx, compensate: true})
	c := pipeline.NewChange(m, pipeline.NonTransactional(e.rec),
		func(ctx context.Context, r *recorder) error {
			r.add("c1")
			cancel() // the signal arrives mid-change
			<-ctx.Done()
			return ctx.Err()
		},
		func(ctx context.Context, r *recorder) error {
			rollbackSaw = ctx.Err()
			if rollbackSaw != nil {
				return rollbackSaw
			}
			r.add("c1:rollback")
			return nil
		})
	_, err := e.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{c}}}).Run(ctx)

	var ce *pipeline.ChangeError
	if !errors.As(err, &ce) || ce.State != audit.StateRolledBack || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want the cancelled change rolled back", err)
	}
	if rollbackSaw != nil || e.rec.count("c1:rollback") != 1 {
		t.Errorf("the compensation got a context with error %v and ran %d times; want a live context, once", rollbackSaw, e.rec.count("c1:rollback"))
	}
	if diff := cmp.Diff([]audit.State{audit.StateStarted, audit.StateFailed, audit.StateRolledBack}, states(e.history("s1", "c1"))); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}
