package crashmatrix_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	flamingockcli "github.com/flamingock/flamingock-go/internal/cli"
	"github.com/flamingock/flamingock-go/internal/crash"
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
				if diff := cmp.Diff(want, statuses(res)); diff != "" {
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
					t.Errorf("trail %v: %s", states(h), strings.Join(problems, "; "))
				}
			})
		}
	}
}

// fixWithCLI resolves issue as an operator does: it runs the command of
// the resolution named name, as the issue prints it, with what the
// operator checked as the reason (the printed one is a placeholder the CLI
// refuses) and the operator's name. The shell's environment names the
// PostgreSQL schema of the world.
func fixWithCLI(t *testing.T, w *world, issue pipeline.Issue, name, operator, reason string) {
	t.Helper()
	var command string
	for _, res := range issue.Resolutions {
		if res.Name == name {
			command = res.Command
		}
	}
	args := shellWords(t, command)
	if len(args) == 0 || args[0] != "flamingock" {
		t.Fatalf("resolution %q of the issue is %q, not a flamingock command", name, command)
	}
	for i := range args {
		if args[i] == "--reason" && i+1 < len(args) {
			args[i+1] = reason
		}
	}
	if code, out := runCLI(t, w, append(args[1:], "--operator", operator)...); code != 0 {
		t.Fatalf("%s: exit status %d\n%s", strings.Join(args, " "), code, out)
	}
}

// runCLI runs the operator CLI in process (internal/cli.Do, what
// cmd/flamingock runs) on the world's store and returns its exit status and
// output. The shell's environment names the PostgreSQL schema of
// the world; the store is the one args name, else the world's.
func runCLI(t *testing.T, w *world, args ...string) (int, string) {
	t.Helper()
	env := map[string]string{"FLAMINGOCK_STORE": w.store.(fmt.Stringer).String()}
	if w.spec.Schema != "" {
		env["FLAMINGOCK_SCHEMA"] = w.spec.Schema
	}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	var out bytes.Buffer
	code := flamingockcli.Do(t.Context(), args, strings.NewReader(""), &out, &out, flamingockcli.Env{Getenv: getenv})
	return code, out.String()
}

// shellWords splits a command line as a POSIX shell does, for the quoting
// the printed commands use: single quotes, double quotes without escapes
// inside, backslashes outside quotes.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune
	)
	for i := 0; i < len(line); i++ {
		ch := rune(line[i])
		switch {
		case quote != 0 && ch == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(ch)
		case ch == '\'' || ch == '"':
			quote, in = ch, true
		case ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			in = true
		case ch == ' ' || ch == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(ch)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", line)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
