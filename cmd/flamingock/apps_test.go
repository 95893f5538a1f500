package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/storeurl"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqlscript"
)

// The scripts' stand-ins for an application: commands that write to the
// store in FLAMINGOCK_STORE (and FLAMINGOCK_SCHEMA) as an application
// would, creating it on first use.

func openAppStore(ctx context.Context) audit.Store {
	store, err := storeurl.Open(ctx, os.Getenv("FLAMINGOCK_STORE"), storeurl.Options{Schema: os.Getenv("FLAMINGOCK_SCHEMA")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return store
}

// effects is the target of the deploy pipeline: a system without
// transactions whose changes append their id to effects.log in the
// current directory, so scripts see what ran and how often.
type effects struct{ path string }

func (f *effects) add(id string) error {
	file, err := os.OpenFile(f.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(file, id); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// deployMain runs the application's pipeline: stage "app", three changes
// without a transaction on target "files", recovery manual.
//
//	deploy [-fail ID] [-crash ID] [-lease DURATION]
//
// -fail makes change ID fail after its effect; -fail-script makes it fail
// as a SQL file of six statements whose fourth, at 0012_split.sql:20,
// fails, after its effect and the first three; -crash makes the process
// exit after it, as if killed, leaving the change STARTED and the lock held
// (the lease, 10 minutes unless -lease says otherwise, stays held for the
// whole script), as a replica in the middle of the change would. It prints
// one line per change, "STATUS ID", and exits 1 when the run failed.
func deployMain() {
	fs := flag.NewFlagSet("deploy", flag.ExitOnError)
	fail := fs.String("fail", "", "change `ID` that fails after its effect")
	failScript := fs.String("fail-script", "", "change `ID` that fails at the fourth of its six statements")
	crash := fs.String("crash", "", "change `ID` after whose effect the process exits")
	lease := fs.Duration("lease", 10*time.Minute, "the runner's lease")
	fs.Parse(os.Args[1:])
	ctx := context.Background()
	store := openAppStore(ctx)
	defer store.Close()

	target := pipeline.NonTransactional(&effects{path: "effects.log"})
	change := func(id string, order uint64, author string) pipeline.Change {
		m := pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: author, Target: "files", Checksum: "sum-" + id, Source: id + ".go:3"}
		return pipeline.NewChange(m, target, func(ctx context.Context, f *effects) error {
			if err := f.add(id); err != nil {
				return err
			}
			switch id {
			case *crash:
				os.Exit(70)
			case *fail:
				return errors.New("flag service: connection reset")
			case *failScript:
				return splitScript().Exec(ctx, func(_ context.Context, stmt string) error {
					if stmt == "SELECT * FROM t" {
						return errors.New(`ERROR: relation "t" does not exist`)
					}
					return nil
				})
			}
			return nil
		}, nil)
	}
	stage := pipeline.Stage{Name: "app", Changes: []pipeline.Change{
		change("create-bucket", 1, "alice"),
		change("publish-flags", 2, "bob"),
		change("announce", 3, "carol"),
	}}
	r, err := pipeline.New(store, []pipeline.Stage{stage},
		pipeline.WithLease(*lease), pipeline.WithLockWait(0, time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(2)
	}
	res, err := r.Run(ctx)
	for _, o := range res.Changes() {
		fmt.Printf("%s %s\n", o.Status, o.ChangeID)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		store.Close()
		os.Exit(1)
	}
}

// holdLockMain takes the pipeline's lock as another runner would, for a
// minute, and exits holding it:
//
//	holdlock OWNER
func holdLockMain() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: holdlock OWNER")
		os.Exit(2)
	}
	ctx := context.Background()
	store := openAppStore(ctx)
	defer store.Close()
	if _, err := store.Acquire(ctx, "flamingock", os.Args[1], time.Minute); err != nil {
		fmt.Fprintln(os.Stderr, "holdlock:", err)
		store.Close()
		os.Exit(1)
	}
}

// seedMain writes a fixed audit trail, the same on every store and every
// day, for the scripts that compare tables with golden files: every verdict
// appears once.
func seedMain() {
	ctx := context.Background()
	store := openAppStore(ctx)
	defer store.Close()
	lease, err := store.Acquire(ctx, "flamingock", "seed-runner", time.Minute)
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	web := audit.Entry{ExecutionID: "exec-web-1", Stage: "app", Host: "web-1", RunnerID: "web-1-4242-deadbeef",
		TargetID: "files", Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual}
	worker := audit.Entry{ExecutionID: "exec-worker-2", Stage: "search", Host: "worker-2", RunnerID: "worker-2-77-cafe0123",
		Author: "carol", Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryRetry, TargetID: "searchapi"}
	with := func(base audit.Entry, id string, order uint64, st audit.State, t string, d time.Duration, f func(*audit.Entry)) audit.Entry {
		e := base
		e.ChangeID, e.Order, e.State, e.Time, e.Duration, e.Checksum = id, audit.OrderOf(order), st, at(t), d, "sum-"+id
		if f != nil {
			f(&e)
		}
		return e
	}
	alice := func(e *audit.Entry) { e.Author = "alice" }
	bob := func(e *audit.Entry) { e.Author = "bob" }
	entries := []audit.Entry{
		with(web, "create-bucket", 1, audit.StateStarted, "2025-03-01T10:00:00Z", 0, alice),
		with(web, "create-bucket", 1, audit.StateApplied, "2025-03-01T10:00:01.25Z", 1250*time.Millisecond, alice),
		with(web, "publish-flags", 2, audit.StateStarted, "2025-03-01T10:00:02Z", 0, bob),
		with(web, "publish-flags", 2, audit.StateFailed, "2025-03-01T10:00:03.5Z", 1500*time.Millisecond, func(e *audit.Entry) {
			bob(e)
			e.ErrorMessage, e.ErrorKind = "flag service: connection reset", "*net.OpError"
		}),
		with(worker, "reindex", 1, audit.StateStarted, "2025-03-01T10:05:00Z", 0, func(e *audit.Entry) {
			e.Strategy, e.Recovery, e.TargetID = audit.StrategySeparateTx, audit.RecoveryManual, "searchdb"
		}),
		with(worker, "rebuild-synonyms", 2, audit.StateStarted, "2025-03-01T10:06:00Z", 0, nil),
		with(worker, "rebuild-synonyms", 2, audit.StateFailed, "2025-03-01T10:06:02Z", 2*time.Second, func(e *audit.Entry) {
			e.ErrorMessage, e.ErrorKind = "timeout after 2s", "*errors.errorString"
		}),
		with(worker, "rebuild-synonyms", 2, audit.StateRollbackFailed, "2025-03-01T10:06:03Z", time.Second, func(e *audit.Entry) {
			e.ErrorMessage, e.ErrorKind = "index locked", "*errors.errorString"
		}),
		with(worker, "drop-legacy", 3, audit.StateManualRolledBack, "2025-03-02T08:00:00Z", 0, func(e *audit.Entry) {
			e.ExecutionID, e.Host, e.RunnerID = "exec-ops", "ops-laptop", "flamingock-cli-ops-laptop-9-abcdefgh"
			e.Operator, e.Reason = "dave@ops", "dropped by hand before the migration"
		}),
	}
	for _, e := range entries {
		if _, err := store.Append(ctx, lease, e); err != nil {
			fmt.Fprintln(os.Stderr, "seed:", err)
			os.Exit(1)
		}
	}
	if err := store.Release(ctx, lease); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

// splitScript is 0012_split.sql as flamingock-gen would split it: six
// statements, one every fifth line, the fourth (line 20) reading a table
// that does not exist.
func splitScript() sqlscript.Script {
	var text strings.Builder
	var spans []sqlscript.Span
	for line := 1; line <= 30; line++ {
		stmt := ""
		switch {
		case line == 20:
			stmt = "SELECT * FROM t"
		case line%5 == 0:
			stmt = fmt.Sprintf("SELECT %d", line)
		}
		if stmt != "" {
			spans = append(spans, sqlscript.Span{Start: text.Len(), End: text.Len() + len(stmt), Line: line, Col: 1})
			text.WriteString(stmt + ";")
		}
		text.WriteString("\n")
	}
	return sqlscript.Script{File: "0012_split.sql", Text: text.String(), Statements: spans}
}
