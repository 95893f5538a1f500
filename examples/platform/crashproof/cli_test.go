package crashproof_test

import (
	"testing"

	"github.com/flamingock/flamingock-go/internal/crashtest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

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

// cliEnv is the shell's environment of the world's operator: its store; a
// command's --store takes precedence.
func cliEnv(w *world) map[string]string {
	return map[string]string{"FLAMINGOCK_STORE": w.store.String()}
}
