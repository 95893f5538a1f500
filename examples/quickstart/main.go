// Command quickstart runs the quickstart pipeline: two SQL changes and one
// feature-flag change, audited in an embedded SQLite database.
//
//	go run ./examples/quickstart
//
// The first run applies the three changes; the next runs apply none. The
// audit trail and the application's tables live in the same SQLite file,
// chosen with FLAMINGOCK_STORE (default sqlite:quickstart.db); the flag file
// (quickstart-flags.json) is written beside it.
//
// The application's own migrate command (package migrate) is mounted under
// "migrate":
//
//	go run ./examples/quickstart migrate status
//	go run ./examples/quickstart migrate plan
//	go run ./examples/quickstart migrate validate
//	go run ./examples/quickstart migrate up
//	go run ./examples/quickstart migrate -h
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/examples/quickstart/changes"
	"github.com/flamingock/flamingock-go/migrate"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		code := migrateCommand(ctx, os.Getenv("FLAMINGOCK_STORE"), os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	err := run(ctx, os.Getenv("FLAMINGOCK_STORE"), os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// migrateCommand runs "quickstart migrate ARGS…": the application's own
// migrate command, on the same pipeline and store as run, in one call.
func migrateCommand(ctx context.Context, storeURL string, args []string, stdout, stderr io.Writer) int {
	store, runner, err := open(ctx, storeURL, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "quickstart migrate:", err)
		return 1
	}
	defer store.Close()
	cmd := migrate.Command{Runner: runner, Store: store, Name: "quickstart migrate", Stdout: stdout, Stderr: stderr}
	return cmd.Run(ctx, args)
}

func run(ctx context.Context, storeURL string, out io.Writer) error {
	store, runner, err := open(ctx, storeURL, out)
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := runner.Run(ctx)
	if res != nil {
		fmt.Fprintf(out, "applied %d change(s), %d already applied\n", res.Count(pipeline.StatusApplied), res.Count(pipeline.StatusSkipped))
	}
	if err != nil {
		return err
	}
	return summary(ctx, store, out)
}

// open opens the store storeURL names and builds the pipeline's runner on
// it, logging warnings to logs. The caller closes the store.
func open(ctx context.Context, storeURL string, logs io.Writer) (*sqlite.Store, *pipeline.Runner, error) {
	if storeURL == "" {
		storeURL = "sqlite:quickstart.db"
	}
	// The SQL changes share the audit store's transactions (sqltarget.Shared),
	// so the store must be SQLite here: each change then commits together
	// with its APPLIED entry.
	path, ok := strings.CutPrefix(storeURL, "sqlite:")
	if !ok || path == "" {
		return nil, nil, fmt.Errorf("FLAMINGOCK_STORE=%q: the quickstart needs an embedded store, sqlite:PATH", storeURL)
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}

	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	stage := changes.Stage(
		changes.Targets{
			Appdb: sqltarget.Shared(store),
			Flags: pipeline.NonTransactional(&changes.Flags{Path: filepath.Join(filepath.Dir(path), "quickstart-flags.json")}),
		},
		changes.Deps{Logger: log},
	)
	runner, err := pipeline.New(store, []pipeline.Stage{stage}, pipeline.WithLogger(log))
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, runner, nil
}

// summary prints the latest audit entry of every change.
func summary(ctx context.Context, store audit.Store, out io.Writer) error {
	entries, err := store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("read audit trail: %w", err)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STAGE\tCHANGE\tSTATE\tAT\tSTRATEGY")
	for _, e := range entries {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Stage, e.ChangeID, e.State, e.Time.Format("2006-01-02 15:04:05"), e.Strategy)
	}
	return w.Flush()
}
