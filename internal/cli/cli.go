// Package cli is the flamingock command: Do parses a command line, runs it
// against the audit store through audit/operate, and returns the exit
// status. cmd/flamingock is a shell over it; its documentation is the
// manual (go doc github.com/flamingock/flamingock-go/cmd/flamingock).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
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
	c := newCLI(stdout, stderr)
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
	return c.run(ctx, args)
}

// Exit statuses.
const (
	exitOK     = 0
	exitError  = 1
	exitUsage  = 2
	exitIssues = 3
)

// cli is one invocation of flamingock: where it writes and what it asks the
// system.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	hostname       func() (string, error)
	username       func() (string, error)
}

func newCLI(stdout, stderr io.Writer) *cli {
	return &cli{
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
}

// run runs the command line args and returns the exit status.
func (c *cli) run(ctx context.Context, args []string) int {
	err := c.dispatch(ctx, args)
	var usage *usageError
	var issues *issuesError
	var ambiguous *operate.AmbiguousError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &issues):
		fmt.Fprintln(c.stderr, issues.Error())
		return exitIssues
	case errors.As(err, &usage), errors.As(err, &ambiguous): // an id in several stages needs --stage
		fmt.Fprintf(c.stderr, "flamingock: %s\n", oneLine(err.Error()))
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "flamingock: %s\n", oneLine(err.Error()))
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
type issuesError struct{ n int }

func (e *issuesError) Error() string {
	if e.n == 1 {
		return "1 change blocks the pipeline: see what happened and how to resolve it with flamingock issue get ID --guidance"
	}
	return fmt.Sprintf("%d changes block the pipeline: see what happened and how to resolve each with flamingock issue get ID --guidance", e.n)
}

// oneLine keeps an error on the one line operators and scripts expect.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// command is one "GROUP NAME" command of flamingock.
type command struct {
	name    string // "audit list"
	args    string // synopsis after the name
	summary string
	// setup defines the command's own flags on fs and returns the function
	// that runs it with its positional arguments, after fs is parsed.
	setup func(c *cli, g *globals, fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

func commands() []command {
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

func (c *cli) dispatch(ctx context.Context, args []string) error {
	var g globals
	root := flag.NewFlagSet("flamingock", flag.ContinueOnError)
	root.SetOutput(io.Discard)
	g.register(root)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(c.stdout)
			return err
		}
		return usagef("%v (flamingock -h lists the commands and flags)", err)
	}
	rest := root.Args()
	if len(rest) == 0 {
		return usagef("no command given (flamingock -h lists the commands)")
	}
	if rest[0] == "help" {
		c.usage(c.stdout)
		return nil
	}
	if len(rest) < 2 {
		return usagef("%q needs a subcommand (flamingock -h lists the commands)", rest[0])
	}
	name := rest[0] + " " + rest[1]
	for _, cmd := range commands() {
		if cmd.name != name {
			continue
		}
		fs := flag.NewFlagSet("flamingock "+name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		g.register(fs)
		runCmd := cmd.setup(c, &g, fs)
		pos, err := parseInterspersed(fs, rest[2:])
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(c.stdout, "usage: flamingock %s %s\n\n%s.\n\nflags:\n", cmd.name, cmd.args, cmd.summary)
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return err
		}
		if err != nil {
			return usagef("%s: %v (flamingock %s -h lists its flags)", name, err, name)
		}
		return runCmd(ctx, pos)
	}
	return usagef("unknown command %q (flamingock -h lists the commands)", name)
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
	fmt.Fprint(w, `usage: flamingock [global flags] COMMAND [flags] [ARGS]

flamingock reads and repairs the audit store of a flamingock-go pipeline:
what ran, what blocks the next run, and how to resolve it.

commands:
`)
	for _, cmd := range commands() {
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
