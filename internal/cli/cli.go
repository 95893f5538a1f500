// Package cli is the flamingock command: Do parses a command line, runs it
// against the audit store through audit/operate, and returns the exit
// status. cmd/flamingock is a shell over it; its documentation is the
// manual (go doc github.com/flamingock/flamingock-go/cmd/flamingock).
//
// DoApp is the same command mounted in an application that knows its
// pipeline (package migrate is the public shell over it): the operator
// commands, each the one implementation both share, on the application's
// store, and the commands only the pipeline's code makes possible (status,
// plan, up, validate, rollback-to, baseline).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit/operate"
)

// Env is what flamingock asks the system: its environment, clock, host
// and user. A nil field is the operating system's.
type Env struct {
	Getenv   func(string) string
	Now      func() time.Time
	Hostname func() (string, error)
	Username func() (string, error)
}

// Do runs the flamingock command line args (without the program name),
// writing to stdout and stderr, and returns its exit status. It is all of
// cmd/flamingock but the process: tests and applications call it in
// process. stdin is read by no command yet.
func Do(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env Env) int {
	return newCLI(stdout, stderr, env).run(ctx, args)
}

// Exit statuses.
const (
	exitOK     = 0
	exitError  = 1
	exitUsage  = 2
	exitIssues = 3
	// exitPending is an application's validate finding changes not
	// applied yet, none of them an issue.
	exitPending = 4
)

// cli is one invocation of flamingock: where it writes and what it asks the
// system.
type cli struct {
	// prog names the command in messages and usage: "flamingock", or an
	// application's "myapp migrate".
	prog           string
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	hostname       func() (string, error)
	username       func() (string, error)
	// app is the application's pipeline; nil for the standalone CLI, which
	// opens the store its global flags name.
	app *App
}

func newCLI(stdout, stderr io.Writer, env Env) *cli {
	c := &cli{
		prog:     "flamingock",
		stdout:   stdout,
		stderr:   stderr,
		getenv:   os.Getenv,
		now:      time.Now,
		hostname: os.Hostname,
		username: func() (string, error) {
			u, err := user.Current()
			if err != nil {
				return "", err
			}
			return u.Username, nil
		},
	}
	if env.Getenv != nil {
		c.getenv = env.Getenv
	}
	if env.Now != nil {
		c.now = env.Now
	}
	if env.Hostname != nil {
		c.hostname = env.Hostname
	}
	if env.Username != nil {
		c.username = env.Username
	}
	return c
}

// run runs the command line args and returns the exit status.
func (c *cli) run(ctx context.Context, args []string) int {
	err := c.dispatch(ctx, args)
	var usage *usageError
	var issues *issuesError
	var pending *pendingError
	var ambiguous *operate.AmbiguousError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &issues):
		fmt.Fprintln(c.stderr, issues.Error())
		return exitIssues
	case errors.As(err, &pending):
		fmt.Fprintln(c.stderr, pending.Error())
		return exitPending
	case errors.As(err, &usage), errors.As(err, &ambiguous): // an id in several stages needs --stage
		fmt.Fprintf(c.stderr, "%s: %s\n", c.prog, oneLine(err.Error()))
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "%s: %s\n", c.prog, oneLine(err.Error()))
		return exitError
	}
}

// usageError is a command line that cannot run as written. Nothing was
// read or written.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// issuesError reports that changes block the pipeline (exit status 3).
// prog is the command that explains them.
type issuesError struct {
	n    int
	prog string
}

func (e *issuesError) Error() string {
	if e.n == 1 {
		return fmt.Sprintf("1 change blocks the pipeline: see what happened and how to resolve it with %s issue get ID --guidance", e.prog)
	}
	return fmt.Sprintf("%d changes block the pipeline: see what happened and how to resolve each with %s issue get ID --guidance", e.n, e.prog)
}

// pendingError reports that changes are not applied yet and none is an
// issue (exit status 4, an application's validate).
type pendingError struct {
	n    int
	prog string
}

func (e *pendingError) Error() string {
	if e.n == 1 {
		return fmt.Sprintf("1 change is not applied yet: %s up applies it", e.prog)
	}
	return fmt.Sprintf("%d changes are not applied yet: %s up applies them", e.n, e.prog)
}

// oneLine keeps an error on the one line operators and scripts expect.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// command is one command: "GROUP NAME" for the operator's, one word for
// those of an application's pipeline.
type command struct {
	name    string // "audit list", "status"
	args    string // synopsis after the name
	summary string
	// setup defines the command's own flags on fs and returns the function
	// that runs it with its positional arguments, after fs is parsed.
	setup func(c *cli, g *globals, fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

// operatorCommands are the commands on the audit store alone: all of the
// standalone CLI, and part of an application's.
func operatorCommands() []command {
	return []command{
		{"audit list", "[--history] [--since TIME] [--stage NAME] [--json]",
			"the current state of every change; --history: every entry", (*cli).auditList},
		{"audit fix", "ID --resolution applied|rolled-back --reason TEXT [--operator NAME] [--stage NAME] [--force [--order N]] [--json]",
			"record that an operator resolved a change's issue", (*cli).auditFix},
		{"issue list", "[--json]",
			"every change that blocks the pipeline; exit status 3 when there is one", (*cli).issueList},
		{"issue get", "ID [--guidance] [--stage NAME] [--json]",
			"what happened to a change; --guidance: the commands that resolve its issue", (*cli).issueGet},
		{"lock status", "[--json]",
			"who holds the pipeline's lock", (*cli).lockStatus},
		{"lock release", "--force [--operator NAME] [--json]",
			"free the lock of a runner that is gone, recording who did", (*cli).lockRelease},
	}
}

// commands are the commands of this invocation: an application's pipeline
// commands first, then the operator's.
func (c *cli) commands() []command {
	if c.app == nil {
		return operatorCommands()
	}
	return append(pipelineCommands(), operatorCommands()...)
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	var g globals
	root := flag.NewFlagSet(c.prog, flag.ContinueOnError)
	root.SetOutput(io.Discard)
	c.register(&g, root)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(c.stdout)
			return err
		}
		return usagef("%v (%s -h lists the commands and flags)", err, c.prog)
	}
	rest := root.Args()
	if len(rest) == 0 {
		return usagef("no command given (%s -h lists the commands)", c.prog)
	}
	if rest[0] == "help" {
		c.usage(c.stdout)
		return nil
	}
	cmds := c.commands()
	name, argv := rest[0], rest[1:]
	if !slices.ContainsFunc(cmds, func(cmd command) bool { return cmd.name == name }) {
		if len(rest) < 2 {
			if slices.ContainsFunc(cmds, func(cmd command) bool { return strings.HasPrefix(cmd.name, name+" ") }) || c.app == nil {
				return usagef("%q needs a subcommand (%s -h lists the commands)", rest[0], c.prog)
			}
			return usagef("unknown command %q (%s -h lists the commands)", name, c.prog)
		}
		name, argv = rest[0]+" "+rest[1], rest[2:]
	}
	for _, cmd := range cmds {
		if cmd.name != name {
			continue
		}
		fs := flag.NewFlagSet(c.prog+" "+name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.register(&g, fs)
		runCmd := cmd.setup(c, &g, fs)
		pos, err := parseInterspersed(fs, argv)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(c.stdout, "usage: %s %s %s\n\n%s.\n\nflags:\n", c.prog, cmd.name, cmd.args, cmd.summary)
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return err
		}
		if err != nil {
			return usagef("%s: %v (%s %s -h lists its flags)", name, err, c.prog, name)
		}
		return runCmd(ctx, pos)
	}
	return usagef("unknown command %q (%s -h lists the commands)", name, c.prog)
}

// register defines the global flags on fs: those that select the store,
// for the standalone CLI; none for an application, which has its store.
func (c *cli) register(g *globals, fs *flag.FlagSet) {
	if c.app == nil {
		g.register(fs)
	}
}

// parseInterspersed parses flags anywhere among args, as in
// "audit fix ID --reason …", and returns the positional arguments. After
// "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (c *cli) usage(w io.Writer) {
	if c.app != nil {
		c.appUsage(w)
		return
	}
	fmt.Fprint(w, `usage: flamingock [global flags] COMMAND [flags] [ARGS]

flamingock reads and repairs the audit store of a flamingock-go pipeline:
what ran, what blocks the next run, and how to resolve it.

commands:
`)
	for _, cmd := range c.commands() {
		fmt.Fprintf(w, "  %s %s\n      %s\n", cmd.name, cmd.args, cmd.summary)
	}
	fmt.Fprint(w, `
global flags (before or after the command):
  --store URL          the audit store: sqlite:PATH, postgres://…, mysql://… or mongodb://… (default $FLAMINGOCK_STORE)
  --table-prefix NAME  prefix of the store's tables or collection (default $FLAMINGOCK_TABLE_PREFIX, else flamingock)
  --schema NAME        PostgreSQL schema of the tables (default $FLAMINGOCK_SCHEMA, else public)
  --lock-key KEY       the pipeline's lock key (default $FLAMINGOCK_LOCK_KEY, else flamingock)

exit status: 0 ok, 1 error, 2 usage error, 3 issues present (issue list)
`)
}
