// Command mongo runs the MongoDB example pipeline (package changes): a
// users collection with a unique index, its first users, and a
// transformation of their emails, audited in the same database.
//
//	go run ./examples/mongo --store mongodb://127.0.0.1:27017/example
//
// The store URL comes from --store, else FLAMINGOCK_STORE; its path names
// the database (default flamingock), which holds the audit trail and its
// checkpoints (flamingock_audit and flamingock_checkpoint, package
// audit/mongo), the users collection and, on a
// replica set, the markers of changes run in a transaction
// (flamingock_marker). The first run applies the three changes; the next
// runs apply none. The operator CLI reads the same trail:
//
//	flamingock audit list --store mongodb://127.0.0.1:27017/example
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/audit/storeurl"
	"github.com/flamingock/flamingock-go/examples/mongo/changes"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func main() {
	store := flag.String("store", os.Getenv("FLAMINGOCK_STORE"), "the MongoDB URL of the audit store and the application's database (mongodb://…; default $FLAMINGOCK_STORE)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, *store, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mongo example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, storeURL string, out io.Writer) error {
	switch {
	case storeURL == "":
		return errors.New("no store: pass --store or set FLAMINGOCK_STORE to a MongoDB URL, such as mongodb://127.0.0.1:27017/example")
	case !strings.HasPrefix(storeURL, "mongodb://") && !strings.HasPrefix(storeURL, "mongodb+srv://"):
		// The changes run on the audit store's database, so the store
		// must be MongoDB.
		return fmt.Errorf("store %q: the MongoDB example needs a mongodb:// or mongodb+srv:// URL", storeurl.Redact(storeURL))
	}
	store, err := mongo.Open(ctx, storeURL)
	if err != nil {
		return err
	}
	defer store.Close()

	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Detect asks the server whether it has transactions: on a replica set
	// a transactional change runs in one, with a marker; on a standalone
	// server (or FerretDB) every change runs without one.
	appdb, err := mongotarget.Detect(ctx, store.Database(), mongotarget.WithLogger(log))
	if err != nil {
		return err
	}
	stage := changes.Stage(changes.Targets{Appdb: appdb}, changes.Deps{})
	runner, err := pipeline.New(store, []pipeline.Stage{stage}, pipeline.WithLogger(log))
	if err != nil {
		return err
	}
	res, err := runner.Run(ctx)
	if res != nil {
		fmt.Fprintf(out, "applied %d change(s), %d already applied\n", res.Count(pipeline.StatusApplied), res.Count(pipeline.StatusSkipped))
	}
	if err != nil {
		return err
	}
	return summary(ctx, store, out)
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
