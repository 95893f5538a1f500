package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/operate"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// App is an application's pipeline, for DoApp: its runner, the audit store
// the runner was made with, and how the application names the command.
type App struct {
	// Prog names the command in usage and messages, as users type it:
	// "myapp migrate". Empty: "migrate".
	Prog string
	// Runner is the application's pipeline; Store the audit store it was
	// built on (pipeline.New(Store, …)).
	Runner *pipeline.Runner
	Store  audit.Store
	// LockKey is the runner's lock key (pipeline.WithLockKey); empty for
	// audit.DefaultLockKey. The commands that plan check it against the
	// runner's.
	LockKey string
}

// DoApp runs an application's migrate command line args (after the
// command's own name), writing to stdout and stderr, and returns its exit
// status: the pipeline commands (status, plan, up, validate, rollback-to,
// baseline) and the operator commands of Do, on app.Store, which it never
// closes. The manual is package migrate's documentation.
func DoApp(ctx context.Context, app App, args []string, stdout, stderr io.Writer, env Env) int {
	c := newCLI(stdout, stderr, env)
	if app.Prog == "" {
		app.Prog = "migrate"
	}
	if app.LockKey == "" {
		app.LockKey = audit.DefaultLockKey
	}
	c.prog, c.app = app.Prog, &app
	switch {
	case app.Runner == nil:
		fmt.Fprintf(stderr, "%s: no pipeline: the command was given no runner\n", c.prog)
		return exitError
	case app.Store == nil:
		fmt.Fprintf(stderr, "%s: no audit store: the command was given no store\n", c.prog)
		return exitError
	}
	return c.run(ctx, args)
}

// session operates the application's store under the pipeline's lock.
func (a *App) session() *operate.Session {
	name := audit.Extend(a.Store).Locator().URL
	if name == "" {
		name = "the audit store"
	}
	return operate.New(a.Store, name, a.LockKey)
}

func (c *cli) appUsage(w io.Writer) {
	fmt.Fprintf(w, `usage: %[1]s COMMAND [flags] [ARGS]

%[1]s runs and inspects the application's pipeline: what is applied,
pending or drifted, what up would do, and how to resolve what blocks it.

commands:
`, c.prog)
	for _, cmd := range pipelineCommands() {
		fmt.Fprintf(w, "  %s %s\n      %s\n", cmd.name, cmd.args, cmd.summary)
	}
	fmt.Fprintf(w, "\noperator commands (those of the flamingock CLI, on the application's audit store):\n")
	for _, cmd := range operatorCommands() {
		fmt.Fprintf(w, "  %s %s\n      %s\n", cmd.name, cmd.args, cmd.summary)
	}
	fmt.Fprint(w, `
exit status: 0 ok, 1 error, 2 usage error, 3 issues present (validate, up, rollback-to, issue list), 4 changes pending (validate)
`)
}
