package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
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
			"exits": cmdExits,
			"json":  cmdJSON,
			"sleep": cmdSleep,
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

// cmdExits runs a command and checks its exit status:
//
//	exits 3 app migrate validate
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad status %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			ts.Fatalf("exits: %v", err)
		}
		got = exitErr.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdJSON checks JSON output, as cmd/flamingock's scripts do:
//
//	json stdout                          stdout holds one JSON value
//	json stdout changes.0.status applied and the value at that path is applied
//	json stdout changes.len 3            "len" is the length of an array
//	! json stdout lock.owner runner-a    the value is not runner-a
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 && len(args) != 3 || neg && len(args) == 1 {
		ts.Fatalf("usage: json FILE [PATH WANT]")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &v); err != nil {
		ts.Fatalf("%s is not JSON: %v", args[0], err)
	}
	if len(args) == 1 {
		return
	}
	for _, step := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[step]
			if !ok {
				ts.Fatalf("json %s: no key %q at %s", args[0], step, args[1])
			}
			v = next
		case []any:
			if step == "len" {
				v = float64(len(x))
				continue
			}
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("json %s: no index %q in an array of %d at %s", args[0], step, len(x), args[1])
			}
			v = x[i]
		default:
			ts.Fatalf("json %s: %q is inside a %T at %s", args[0], step, x, args[1])
		}
	}
	got, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			ts.Fatalf("json %s: %v", args[0], err)
		}
		got = string(b)
	}
	if (got == args[2]) == neg {
		ts.Fatalf("json %s %s = %q, want %s%q", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

// cmdSleep waits: sleep 1500ms.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		ts.Fatalf("sleep: %v", err)
	}
	time.Sleep(d)
}
