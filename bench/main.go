// Command bench measures flamingock-go against goose and golang-migrate on
// one PostgreSQL server, and prints the ratios that issue 3 sets as
// targets. It is a measurement, not a test: a missed target is reported as
// MISS and the exit status stays 0. BENCHMARKS.md holds the latest table.
//
//	cd bench && go run . -dsn "$FLAMINGOCK_TEST_POSTGRES"
//
// It lives in a module of its own so that users of flamingock-go never
// download goose or golang-migrate.
//
// # What it measures
//
// (a) Start with nothing pending, at N = 100, 1,000 and 10,000 applied
// changes: what an application pays at start, from a DSN to "up to date",
// and the same on a connection opened beforehand (the tool's own cost).
// For flamingock: a pgx pool, postgres.New, the Stage (N pipeline.NewChange
// calls, as generated code makes them, on pgxtarget), pipeline.New and Run.
// For goose: a
// database/sql handle on pgx, goose.NewProvider over an in-memory fs of N SQL
// files, and Provider.Up. For golang-migrate: the same handle, its pgx/v5
// driver, an iofs source over N SQL files, and Migrate.Up. The N changes are
// applied first by the same tool, untimed; each is an INSERT of one row.
//
// (b) Applying N = 1,000 single-statement changes to an empty database:
// flamingock, goose, and the floor: the same statements each in its own
// transaction through one pgx connection, with no bookkeeping at all.
//
// Every run gets a fresh database (cloned from a template the tool prepared,
// for (a)); the tools alternate within each round (A B C, A B C, …) so that
// the machine's drift spreads over all of them; each cell is the median of
// the rounds. Before each timed run an untimed one warms the server's caches
// for that database ((a): the same no-op start; (b): one connection). Each
// run records its CPU time too, of this process and of the server's backends
// (read from /proc when the server runs on this machine): on a shared
// machine wall-clock times mostly measure the neighbours. After the timed
// rounds, one more run per tool counts the round trips and bytes it
// exchanged with the server, which do not depend on the machine at all.
//
// # Flags
//
//	-dsn URL       PostgreSQL to use (default $FLAMINGOCK_TEST_POSTGRES); its
//	               user must be allowed to create databases
//	-runs R        timed rounds per cell, median reported (default 5)
//	-quick         smoke run: N = 100 for both parts, 3 rounds
//	-apply-n N     N of part (b) (default 1,000)
//	-files         part (b): flamingock's changes are goose's SQL files, read
//	               and split by generator/sqlfiles as flamingock-gen does
//	               (untimed) and run by sqlscript as the generated code runs
//	               them; goose runs the same files
//	-part a|b|ab   which part to run (default ab)
//	-stmt KIND     statement of part (b): insert (default), one row into a
//	               table that exists before the run, or create-table, one
//	               CREATE TABLE bench_t_i (id bigint PRIMARY KEY, name text)
//
// The databases it creates are named fbench_<random>_… and dropped at the
// end, also when it is interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
