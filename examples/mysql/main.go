// Command mysql runs the MySQL example pipeline (package migrations): an
// accounts table created from a goose-style SQL file, its first rows, and
// two Go changes, audited in the same database. It runs on MySQL 8 and
// MariaDB.
//
//	go run ./examples/mysql --store mysql://root@127.0.0.1:3306/example
//
// The store URL comes from --store, else FLAMINGOCK_STORE; its database
// holds the audit trail (flamingock_audit and its lock, version and
// checkpoint tables, package audit/mysql) and the accounts table. The first
// run applies the four changes; the next runs apply none. The summary says
// how each ran: SHARED_TX for the changes of data only, committed together
// with their APPLIED entry, NON_TX for the changes with DDL, which MySQL
// commits statement by statement. The operator CLI reads the same trail:
//
//	flamingock audit list --store mysql://root@127.0.0.1:3306/example
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
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/audit/storeurl"
	"github.com/flamingock/flamingock-go/examples/mysql/migrations"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

func main() {
	store := flag.String("store", os.Getenv("FLAMINGOCK_STORE"), "the MySQL URL of the audit store and the application's database (mysql://…; default $FLAMINGOCK_STORE)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, *store, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mysql example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, storeURL string, out io.Writer) error {
	switch {
	case storeURL == "":
		return errors.New("no store: pass --store or set FLAMINGOCK_STORE to a MySQL URL, such as mysql://root@127.0.0.1:3306/example")
	case !strings.HasPrefix(storeURL, "mysql://"):
		// The changes share the audit store's transactions, so the store
		// must be MySQL.
		return fmt.Errorf("store %q: the MySQL example needs a mysql:// URL", storeurl.Redact(storeURL))
	}
	store, err := mysql.Open(ctx, storeURL)
	if err != nil {
		return err
	}
	defer store.Close()

	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Shared on a MySQL store: changes of data only commit with their
	// APPLIED entry; changes with DDL run without a transaction, guarded by
	// STARTED and APPLIED (see runtime/sqltarget, "MySQL and MariaDB").
	stage := migrations.Stage(migrations.Targets{Appdb: sqltarget.Shared(store)}, migrations.Deps{})
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
