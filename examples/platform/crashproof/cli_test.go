package crashproof_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	flamingockcli "github.com/flamingock/flamingock-go/internal/cli"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// fixWithCLI resolves issue as an operator does: it runs the command of
// the resolution named name, as the issue prints it, with what the
// operator checked as the reason (the printed one is a placeholder the CLI
// refuses) and the operator's name. (Copied from internal/crashmatrix,
// a test package that cannot be imported.)
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
// output. The store is the one args name, else the world's.
func runCLI(t *testing.T, w *world, args ...string) (int, string) {
	t.Helper()
	env := map[string]string{"FLAMINGOCK_STORE": w.store.String()}
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
