// Package crashtest holds what the proofs that kill processes share: the
// database crash matrix (internal/crashmatrix) and the one beyond databases
// (examples/platform/crashproof). A case there runs a child process, the
// test binary itself, that dies by SIGKILL at a crash point; the issue it
// leaves is then resolved as an operator would, with the command the issue
// prints, run through the real CLI code. It is for tests only.
package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	flamingockcli "github.com/flamingock/flamingock-go/internal/cli"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Main is the TestMain of a proof that kills children. In a child, the
// test binary run again by Child with env set, it runs child with the job
// env holds and exits with what child returns (child kills the process at
// its crash point; returning at all means something went wrong). Otherwise
// it runs the tests, parallel cases at a time unless -test.parallel says
// otherwise: a case spends most of its time waiting for the lease of its
// dead child to expire, not on a CPU.
func Main(m *testing.M, env string, child func(job string) int, parallel int) {
	if job := os.Getenv(env); job != "" {
		os.Exit(child(job))
	}
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", strconv.Itoa(parallel)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// Killed is what a child prints on stdout just before killing itself at p,
// so that the parent can tell that death from any other.
func Killed(p crash.Point) string { return "killed at " + string(p) }

// Kill prints Killed(p) and kills the process with SIGKILL: a real kill -9,
// nothing deferred runs. It does not return.
func Kill(p crash.Point) {
	fmt.Println(Killed(p))
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}

// Child runs the test binary again with env set to job as JSON (the child's
// TestMain reads it and runs the case) and reports whether the child died
// by SIGKILL at p, having printed Killed(p). Any other end is reported on t
// with the child's stderr.
func Child(t testing.TB, env string, job any, p crash.Point) bool {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), env+"="+string(b))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Errorf("child: %v, want it killed; stderr:\n%s", err, stderr.String())
		return false
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("child ended with %v, want it killed by SIGKILL; stderr:\n%s", err, stderr.String())
		return false
	}
	if got, want := strings.TrimSpace(stdout.String()), Killed(p); got != want {
		t.Errorf("child said %q before dying, want %q; stderr:\n%s", got, want, stderr.String())
		return false
	}
	return true
}

// CLI runs the operator CLI in process (internal/cli.Do, what
// cmd/flamingock runs) with env over the process's environment (the store
// in FLAMINGOCK_STORE, say), and returns its exit status and output.
func CLI(t testing.TB, env map[string]string, args ...string) (int, string) {
	t.Helper()
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

// Fix resolves issue as an operator does: it runs, with CLI and env, the
// command of the resolution named name as the issue prints it, with what
// the operator checked as the reason (the printed one is a placeholder the
// CLI refuses) and the operator's name. A command that is not flamingock's
// or that fails fails t.
func Fix(t testing.TB, env map[string]string, issue pipeline.Issue, name, operator, reason string) {
	t.Helper()
	var command string
	for _, res := range issue.Resolutions {
		if res.Name == name {
			command = res.Command
		}
	}
	args, err := ShellWords(command)
	if err != nil {
		t.Fatalf("resolution %q of the issue: %v", name, err)
	}
	if len(args) == 0 || args[0] != "flamingock" {
		t.Fatalf("resolution %q of the issue is %q, not a flamingock command", name, command)
	}
	for i := range args {
		if args[i] == "--reason" && i+1 < len(args) {
			args[i+1] = reason
		}
	}
	if code, out := CLI(t, env, append(args[1:], "--operator", operator)...); code != 0 {
		t.Fatalf("%s: exit status %d\n%s", strings.Join(args, " "), code, out)
	}
}

// ShellWords splits a command line as a POSIX shell does, for the quoting
// the printed commands use: single quotes, double quotes without escapes
// inside, backslashes outside quotes.
func ShellWords(line string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quote != 0 && ch == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(ch)
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
			cur.WriteByte(ch)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// States returns the state of every entry of h, in order: a change's
// history as a test compares it.
func States(h []audit.Entry) []audit.State {
	var out []audit.State
	for _, e := range h {
		out = append(out, e.State)
	}
	return out
}

// Statuses returns "id=status" for every outcome of res (nil for none).
func Statuses(res *pipeline.Result) []string {
	if res == nil {
		return nil
	}
	var out []string
	for _, o := range res.Changes() {
		out = append(out, fmt.Sprintf("%s=%s", o.ChangeID, o.Status))
	}
	return out
}
