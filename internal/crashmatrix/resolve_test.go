package crashmatrix_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/internal/crashtest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// TestResolvingAnIssueUnblocksThePipeline closes the loop of an issue the
// way an operator does: a child dies inside a change without a transaction
// under recovery manual; the next run reports the issue with the commands
// that resolve it; the operator looks at the target, runs the printed
// command of the flamingock CLI with a real reason, and the run after that
// completes, the trail showing the manual entry with operator and reason.
func TestResolvingAnIssueUnblocksThePipeline(t *testing.T) {
	const operator, reason = "ops@example.com", "checked the effect log by hand"
	tests := []struct {
		name       string
		point      crash.Point
		resolution string
		state      audit.State
		second     pipeline.Status // what the run after the fix does with the change
	}{
		{"marked applied when its effect is there, it is skipped", crash.AfterApply, "applied",
			audit.StateManualApplied, pipeline.StatusSkipped},
		{"marked rolled back when it had no effect, it is applied again", crash.AfterStarted, "rolled-back",
			audit.StateManualRolledBack, pipeline.StatusApplied},
	}
	for _, store := range stores {
		for _, tt := range tests {
			t.Run("on "+store+" "+tt.name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, store)
				m, err := w.medium("effect file " + string(audit.StrategyNonTx))
				if err != nil {
					t.Fatal(err)
				}
				c := matrixCase{medium: mediumKey(m), strategy: m.strategy(), target: m.name(),
					recovery: audit.RecoveryManual, point: tt.point}
				if !c.crashChild(t, w) {
					return
				}
				r, err := pipeline.New(w.store, stages(m, audit.RecoveryManual, ids, ""),
					pipeline.WithLockWait(time.Minute, 10*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}

				_, err = r.Run(t.Context())
				var ie *pipeline.IssuesError
				if !errors.As(err, &ie) || len(ie.Issues) != 1 || ie.Issues[0].ChangeID != ids[1] {
					t.Fatalf("Run error = %v, want the issue of change %s", err, ids[1])
				}
				if !strings.Contains(err.Error(), "flamingock audit fix "+ids[1]+" --resolution "+tt.resolution) {
					t.Errorf("the error does not print the command that resolves the issue:\n%v", err)
				}
				fixWithCLI(t, w, ie.Issues[0], tt.resolution, operator, reason)

				res, err := r.Run(t.Context())
				if err != nil {
					t.Fatalf("the run after the fix: %v", err)
				}
				want := []string{ids[0] + "=skipped", ids[1] + "=" + string(tt.second), ids[2] + "=applied"}
				if diff := cmp.Diff(want, crashtest.Statuses(res)); diff != "" {
					t.Errorf("outcomes of the run after the fix (-want +got):\n%s", diff)
				}
				for _, id := range ids {
					if n := effects(t, m, id); n != 1 {
						t.Errorf("change %s has %d effects, want 1", id, n)
					}
				}
				h := history(t, w, ids[1])
				var marks []audit.Entry
				for _, e := range h {
					if e.State == audit.StateManualApplied || e.State == audit.StateManualRolledBack {
						marks = append(marks, e)
					}
				}
				if len(marks) != 1 || marks[0].State != tt.state || marks[0].Operator != operator || marks[0].Reason != reason {
					t.Errorf("manual entries %+v, want one %s by %s: %s", marks, tt.state, operator, reason)
				}
				if problems := checkTrail(h, c); len(problems) > 0 {
					t.Errorf("trail %v: %s", crashtest.States(h), strings.Join(problems, "; "))
				}
			})
		}
	}
}

// fixWithCLI resolves issue as an operator does, with the printed command
// of the resolution named name (crashtest.Fix).
func fixWithCLI(t *testing.T, w *world, issue pipeline.Issue, name, operator, reason string) {
	t.Helper()
	crashtest.Fix(t, cliEnv(w), issue, name, operator, reason)
}

// runCLI runs the operator CLI in process on the world's store
// (crashtest.CLI) and returns its exit status and output.
func runCLI(t *testing.T, w *world, args ...string) (int, string) {
	t.Helper()
	return crashtest.CLI(t, cliEnv(w), args...)
}

// cliEnv is the shell's environment of the world's operator: its store and
// the PostgreSQL schema it is in; a command's --store takes precedence.
func cliEnv(w *world) map[string]string {
	env := map[string]string{"FLAMINGOCK_STORE": w.store.(fmt.Stringer).String()}
	if w.spec.Schema != "" {
		env["FLAMINGOCK_SCHEMA"] = w.spec.Schema
	}
	return env
}
