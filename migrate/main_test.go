package migrate_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/scriptcmd"
	"github.com/flamingock/flamingock-go/migrate"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"app": appMain,
	})
}

// TestScripts runs testdata/script/*.txtar: an application (app) whose
// migrate command is this package, on a SQLite store in the script's
// directory. Set FLAMINGOCK_UPDATE_SCRIPTS=1 to rewrite the scripts'
// expected files from what the commands print.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       os.Getenv("FLAMINGOCK_UPDATE_SCRIPTS") == "1",
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": scriptcmd.Exits,
			"json":  scriptcmd.JSON,
			"sleep": scriptcmd.Sleep,
		},
	})
}

// effects is the target of the app's pipeline: a system without
// transactions whose changes append "ID" (and their rollbacks "undo ID")
// to effects.log in the current directory, so scripts see what ran.
type effects struct{ path string }

func (f *effects) add(line string) error {
	file, err := os.OpenFile(f.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(file, line); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// appChanges are the app's changes, in order: stage "app", target
// "files", recovery manual, each with a rollback.
var appChanges = []string{"create-bucket", "publish-flags", "announce"}

// appMain is an application whose main mounts the migrate command, as the
// package documentation shows:
//
//	app [-edit ID] [-drop ID] [-fail ID] [-crash ID] [-lease D] [-lock-key K] migrate ARGS…
//
// Its pipeline is appChanges on the SQLite store audit.db in the current
// directory. -edit gives change ID another checksum (its source changed);
// -drop removes it from the code; -fail makes it fail after its effect;
// -crash makes the process exit after its effect, as if killed, leaving it
// STARTED under a lease (10 minutes unless -lease) that stays held. A
// runner built with -lock-key K is mounted with the default lock key
// unless -mount-key says otherwise.
func appMain() {
	fs := flag.NewFlagSet("app", flag.ExitOnError)
	edit := fs.String("edit", "", "change `ID` whose source changed")
	drop := fs.String("drop", "", "change `ID` removed from the code")
	fail := fs.String("fail", "", "change `ID` that fails after its effect")
	crash := fs.String("crash", "", "change `ID` after whose effect the process exits")
	lease := fs.Duration("lease", 10*time.Minute, "the runner's lease")
	lockKey := fs.String("lock-key", "", "the runner's lock key")
	mountKey := fs.String("mount-key", "", "the lock key the command is given")
	fs.Parse(os.Args[1:])
	if fs.NArg() == 0 || fs.Arg(0) != "migrate" {
		fmt.Fprintln(os.Stderr, "usage: app [flags] migrate ARGS…")
		os.Exit(2)
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, "audit.db")
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
	defer store.Close()

	target := pipeline.NonTransactional(&effects{path: "effects.log"})
	var changes []pipeline.Change
	for i, id := range appChanges {
		if id == *drop {
			continue
		}
		sum := "sum-" + id
		if id == *edit {
			sum += "-edited"
		}
		m := pipeline.Meta{ID: id, Order: audit.OrderOf(uint64(i + 1)), Author: "alice", Target: "files", Checksum: sum, Source: id + ".go:3"}
		changes = append(changes, pipeline.NewChange(m, target, func(ctx context.Context, f *effects) error {
			if err := f.add(id); err != nil {
				return err
			}
			switch id {
			case *crash:
				os.Exit(70)
			case *fail:
				return errors.New("flag service: connection reset")
			}
			return nil
		}, func(ctx context.Context, f *effects) error { return f.add("undo " + id) }))
	}
	opts := []pipeline.Option{pipeline.WithLease(*lease), pipeline.WithLockWait(0, time.Second),
		pipeline.WithLogger(slog.New(slog.DiscardHandler))}
	if *lockKey != "" {
		opts = append(opts, pipeline.WithLockKey(*lockKey))
	}
	runner, err := pipeline.New(store, []pipeline.Stage{{Name: "app", Changes: changes}}, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
	cmd := migrate.Command{
		Runner: runner, Store: store, Name: "app migrate", LockKey: *mountKey,
		Env: migrate.Env{
			Hostname: func() (string, error) { return "laptop", nil },
			Username: func() (string, error) { return "alice", nil },
		},
	}
	code := cmd.Run(ctx, fs.Args()[1:])
	store.Close()
	os.Exit(code)
}
