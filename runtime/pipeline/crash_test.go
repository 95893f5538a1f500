package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// The environment of the child process of the crash test.
const (
	crashStoreEnv    = "FLAMINGOCK_TEST_CRASH_STORE"
	crashRecoveryEnv = "FLAMINGOCK_TEST_CRASH_RECOVERY"
)

// crashPipeline is the pipeline of the crash test: one change without a
// transaction whose body is apply.
func crashPipeline(recovery audit.Recovery, apply func(context.Context) error) []pipeline.Stage {
	m := pipeline.Meta{ID: "send-welcome", Order: audit.OrderOf(1), Author: "tester", Target: "mailer", Recovery: recovery, Checksum: "sum"}
	c := pipeline.NewChange(m, pipeline.NonTransactional(struct{}{}),
		func(ctx context.Context, _ struct{}) error { return apply(ctx) }, nil)
	return []pipeline.Stage{{Name: "crash", Changes: []pipeline.Change{c}}}
}

// TestHelperCrashChild is the child process of
// TestACrashInsideANonTransactionalChange: it runs the pipeline with a one
// second lease, says "ready" on stdout from inside the change, and blocks
// there until it is killed.
func TestHelperCrashChild(t *testing.T) {
	path := os.Getenv(crashStoreEnv)
	if path == "" {
		t.Skip("the child process of TestACrashInsideANonTransactionalChange")
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pipeline.New(store, crashPipeline(audit.Recovery(os.Getenv(crashRecoveryEnv)), func(context.Context) error {
		fmt.Println("ready")
		select {} // killed here
	}), pipeline.WithLease(time.Second), pipeline.WithRunnerID("crashed-child"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(ctx)
	t.Fatalf("the run returned (%v); it should have been killed inside the change", err)
}

func TestACrashInsideANonTransactionalChange(t *testing.T) {
	tests := []struct {
		name     string
		recovery audit.Recovery
	}{
		{"with recovery manual the next run reports an issue and runs nothing", manual},
		{"with recovery retry the next run applies the change again", retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.db")
			store, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()

			killWhenReady(t, "TestHelperCrashChild", "the change", crashStoreEnv+"="+path, crashRecoveryEnv+"="+string(tt.recovery))

			// The dead child left STARTED and its lock.
			h, err := store.History(ctx, audit.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != 1 || h[0].State != audit.StateStarted || h[0].RunnerID != "crashed-child" {
				t.Fatalf("trail after the crash = %+v, want the child's STARTED only", h)
			}
			dead, err := store.Lock(ctx, lockKey)
			if err != nil {
				t.Fatal(err)
			}
			if dead.Owner != "crashed-child" {
				t.Fatalf("lock after the crash = %+v, want it left by the child", dead)
			}

			ran := 0
			r, err := pipeline.New(store, crashPipeline(tt.recovery, func(context.Context) error {
				ran++
				return nil
			}), pipeline.WithRunnerID("survivor"), pipeline.WithLockWait(time.Minute, 20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(ctx)

			wantStates := []audit.State{audit.StateStarted}
			if tt.recovery == manual {
				var ie *pipeline.IssuesError
				if !errors.As(err, &ie) || !errors.Is(err, pipeline.ErrManualInterventionRequired) {
					t.Fatalf("Run error = %v, want an *IssuesError matching ErrManualInterventionRequired", err)
				}
				if len(ie.Issues) != 1 || ie.Issues[0].ChangeID != "send-welcome" || ie.Issues[0].Latest.RunnerID != "crashed-child" {
					t.Errorf("issues = %+v, want send-welcome STARTED by crashed-child", ie.Issues)
				}
				if !strings.Contains(err.Error(), "flamingock audit fix send-welcome --resolution applied") {
					t.Errorf("error does not say how to resolve the issue:\n%v", err)
				}
				if ran != 0 {
					t.Errorf("the change ran %d times, want 0", ran)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]string{"crash/send-welcome=applied"}, statuses(res)); diff != "" {
					t.Errorf("outcomes (-want +got):\n%s", diff)
				}
				if ran != 1 {
					t.Errorf("the change ran %d times, want 1", ran)
				}
				wantStates = append(wantStates, audit.StateStarted, audit.StateApplied)
			}
			h, err = store.History(ctx, audit.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantStates, states(h)); diff != "" {
				t.Errorf("trail after the next run (-want +got):\n%s", diff)
			}
			// The next run waited for the dead child's lease to expire and took over.
			if l, err := store.Lock(ctx, lockKey); err != nil || l.Epoch != dead.Epoch+1 || l.Held() {
				t.Errorf("lock after the next run = %+v (%v), want epoch %d taken and released", l, err, dead.Epoch+1)
			}
		})
	}
}

// killWhenReady runs the test function helper of this binary as a child
// process with env added, waits until it prints "ready" (it has reached
// where, and stays there), and kills it with SIGKILL.
func killWhenReady(t *testing.T, helper, where string, env ...string) {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1", "-test.timeout=2m")
	child.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	child.Stderr = &stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill() }) // when the test fails before killing it
	ready := false
	for sc := bufio.NewScanner(stdout); !ready && sc.Scan(); {
		ready = sc.Text() == "ready"
	}
	if !ready {
		child.Wait()
		t.Fatalf("the child never reached %s; its stderr:\n%s", where, stderr.String())
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child exit = %v, want killed", err)
	}
}
