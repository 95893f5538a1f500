// Package migrate gives an application its own migrate command in one
// call: the subcommands that need the pipeline's code (status, plan, up,
// validate, rollback-to, baseline) and the operator commands of the
// flamingock CLI (audit list/fix, issue list/get, lock status/release) on
// the application's audit store, with that CLI's tables, --json shapes and
// exit statuses. The commands are the CLI's own code, not a copy of it.
//
// It is named for what it provides: the application's "migrate" command,
// as in "myapp migrate status". It depends on no CLI framework: a command
// line is a slice of strings, parsed with the standard library's flag
// package, so it mounts under cobra, urfave/cli or a plain os.Args switch
// alike.
//
// Example, in the application's main:
//
//	runner, err := pipeline.New(store, []pipeline.Stage{stage})
//	…
//	if len(os.Args) > 1 && os.Args[1] == "migrate" {
//		cmd := migrate.Command{Runner: runner, Store: store, Name: "myapp migrate"}
//		os.Exit(cmd.Run(ctx, os.Args[2:]))
//	}
//
// # Commands
//
//	status [--json]
//		Every change of the pipeline, in pipeline order, then every entry of
//		the trail that no stage declares: stage, id, order, status, the
//		time of its latest entry, and why. The status is one of
//		APPLIED   applied (or marked applied); the next run skips it
//		PENDING   the next run applies it (or records it applied: its
//		          separate transaction's marker shows that it committed)
//		DRIFTED   applied, but its source changed since (the checksum
//		          recorded is not the code's): it is not applied again
//		ISSUE     only an operator can tell whether it took effect; it
//		          blocks every run (issue get ID --guidance)
//		RUNNING   STARTED by the runner that holds the lock under a live
//		          lease: being applied now
//		UNKNOWN   in the trail, no longer in the code (a change removed);
//		          runs leave it alone
//		and a summary line ("2 applied, 1 pending"). Exit status 0.
//
//	plan [--json]
//		What up would do with every change (apply, skip,
//		recover-from-marker, issue) and why; the drift; who holds the lock.
//		It takes no lock and writes nothing (pipeline's Runner.Plan).
//
//	up [--json]
//		Runs the pipeline (Runner.Run): the changes it applied, recovered,
//		failed or did not reach, then "applied N change(s), M already
//		applied" and the drift. Issues that refused the run are listed as
//		issue list lists them, exit status 3.
//
//	validate [--json]
//		Exit status 0 when every change is applied (drift does not fail
//		it), 3 when a change is an issue, 4 when changes are pending or
//		running: for CI jobs and readiness gates. From a current
//		checkpoint it reads nothing more (Runner.Validate).
//
//	rollback-to ID [--inclusive] [--json]
//		Rolls back every applied change after ID, newest first
//		(Runner.RollbackTo); with --inclusive, ID too.
//
//	baseline ID --reason TEXT [--operator NAME] [--json]
//		Marks applied, without running them, the changes up to ID that
//		never ran (Runner.Baseline): a database migrated by hand or by
//		another tool. --operator defaults to user@host.
//
//	audit list, audit fix, issue list, issue get, lock status, lock release
//		The flamingock CLI's commands (go doc
//		github.com/flamingock/flamingock-go/cmd/flamingock), on Store and
//		the pipeline's lock, without the global flags that select a store.
//		The resolution commands they print are the flamingock CLI's, which
//		reach the same store.
//
// The read commands (status, plan, validate, audit list, issue list, issue
// get, lock status) write nothing to the store, not even a lock. -h after a
// command lists its flags; "help" or -h alone, the commands.
//
// # Exit status
//
// 0 success; 1 error (the store cannot be read, a change failed, a refused
// rollback, baseline, audit fix or lock release, an id no stage declares
// or the trail does not hold); 2 usage error (an unknown command, a
// missing or extra argument, a bad flag, a missing --reason); 3 issues
// present (validate, up, rollback-to, issue list); 4 changes pending
// (validate). The statuses the flamingock CLI also has mean the same
// there. Errors are one line on stderr, starting with Name and ": ".
//
// # JSON
//
// --json prints one JSON object, indented. The shapes are stable: fields
// may be added, none renamed or removed. Times are RFC 3339 in UTC; null
// when absent. The operator commands print the flamingock CLI's shapes
// (CHANGE, ENTRY, LOCK and RESOLUTION are documented there); the others:
//
//	status       {"store": STORE, "lock": LOCK, "changes": [PIPELINE_CHANGE…], "counts": COUNTS}
//	plan         {"store": STORE, "lock": LOCK, "changes": [PIPELINE_CHANGE…], "drift": [DRIFT…]}
//	validate     {"store": STORE, "ok": true, "pending": [PIPELINE_CHANGE…], "issues": [PIPELINE_CHANGE…], "running": [PIPELINE_CHANGE…]}
//	up, rollback-to, baseline
//	             {"store": STORE, "execution_id": "…", "changes": [OUTCOME…], "drift": [DRIFT…],
//	              "issues": [PIPELINE_CHANGE…], "error": ""}
//
//	PIPELINE_CHANGE = {
//	  "stage": "app", "change_id": "add-email", "order": 3,
//	  "status": "pending",   // applied | pending | drifted | issue | running | unknown
//	  "action": "apply",     // what up does: apply | skip | recover-from-marker | issue; "" when unknown
//	  "reason": "never applied", "problem": "",  // "" unless the outcome is uncertain
//	  "latest": ENTRY | null,                    // null when it never ran
//	  "drift": DRIFT | null,                     // set when drifted
//	  "running": {"runner": "…", "lease_until": "…"} | null,  // set when running
//	  "resolutions": [RESOLUTION…]               // [] unless an issue
//	}
//	COUNTS  = {"applied": 2, "pending": 1, "drifted": 0, "issue": 0, "running": 0, "unknown": 0}
//	DRIFT   = {"stage": "app", "change_id": "…", "recorded": "…", "current": "…", "applied_at": "…"}
//	OUTCOME = {"stage": "app", "change_id": "…",
//	           "status": "applied",  // applied | skipped | recovered | failed | not run | rolled back | marked
//	           "reason": "…", "duration_ms": 12, "error": ""}
//
// In up, rollback-to and baseline, "issues" lists the issues that refused
// the run and "error" is the error it ended with, "" when none; the exit
// status says the same.
package migrate

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/cli"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Command is an application's migrate command. Runner and Store are
// required; every other field's zero value is the default.
type Command struct {
	// Runner is the application's pipeline, and Store the audit store it
	// was built on (pipeline.New(Store, …)). Run never closes Store.
	Runner *pipeline.Runner
	Store  audit.Store
	// Name is the command as users type it, for usage and messages:
	// "myapp migrate". Empty: "migrate".
	Name string
	// LockKey is the runner's lock key, when it was built with
	// pipeline.WithLockKey; empty for audit.DefaultLockKey. status, plan
	// and validate refuse a key that is not the runner's.
	LockKey string
	// Stdout and Stderr receive the output and the errors; nil for
	// os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Env is what the command asks the system; its zero value is the
	// operating system's.
	Env Env
}

// Env is what the command asks the system, for tests: the environment
// (USER, when the user name cannot be read), the clock of the manual
// marks it records, and the host and user the default --operator is made
// of. A nil field is the operating system's.
type Env struct {
	Getenv   func(string) string
	Now      func() time.Time
	Hostname func() (string, error)
	Username func() (string, error)
}

// Run runs the command line args (after the command's name: "status",
// "plan", …) and returns the exit status.
func (c Command) Run(ctx context.Context, args []string) int {
	stdout, stderr := c.Stdout, c.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	return cli.DoApp(ctx, cli.App{Prog: c.Name, Runner: c.Runner, Store: c.Store, LockKey: c.LockKey},
		args, stdout, stderr, cli.Env(c.Env))
}
