package proof_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// childEnv holds the JSON childConfig of a child process; when it is set,
// TestMain runs the child instead of the tests.
const childEnv = "FLAMINGOCK_PROOF_CHILD"

// Exit codes of a child process.
const (
	exitOK        = 0
	exitRunFailed = 1 // Run returned an error; the report says which
	exitSetup     = 2 // the child never got to Run; its stderr says why
)

// childTimeout bounds a child's life in case its parent dies without
// killing it.
const childTimeout = 10 * time.Minute

const (
	stageName     = "proof"
	countersTable = "counters"
	// Targets a child can run its changes on.
	targetNonTx = "nontx" // pipeline.NonTransactional over the pool: only the lock protects a change
	targetPgx   = "pgx"   // pgxtarget.Shared(store): each change shares its transaction with its APPLIED entry
	targetSQL   = "sql"   // sqltarget.Shared(store): the same through database/sql
)

// The audit stores a child can run on.
const (
	storePostgres = "PostgreSQL"
	storeMySQL    = "MySQL"
)

// childConfig is what the parent tells a child to do.
type childConfig struct {
	// Store is storeMySQL, or empty for PostgreSQL. On MySQL, DSN is the
	// store URL of the test's database, Schema is empty and the targets
	// are targetNonTx and targetSQL (see mysqlProofStage).
	Store  string `json:",omitempty"`
	DSN    string
	Schema string
	Runner string
	// Changes is the number of changes of the pipeline, each incrementing
	// its own row of the counters table.
	Changes  int
	Target   string
	Lease    time.Duration
	LockWait time.Duration
	LockPoll time.Duration
	// Barrier makes the child say "ready" once it is set up and wait for a
	// line on stdin before it runs, so that the parent can start many
	// runs at the same instant.
	Barrier bool
	// Pause, when set, makes the child say "paused <Pause>" at that point
	// of the run and wait there for a line on stdin.
	Pause *pausePoint
}

// pausePoint is where in a run a child waits for its parent.
type pausePoint struct {
	// At is "started" (the started event of Change: the lease was checked,
	// its STARTED entry, if any, is not written yet), "applied" (the applied
	// event of Change: its APPLIED entry is recorded, the next change not
	// begun), "inside" (inside Change, after it incremented its counter) or
	// "before-commit" (Change and its APPLIED entry are written in its
	// transaction, which is not committed yet).
	At     string
	Change string
}

func (p pausePoint) String() string { return p.At + " " + p.Change }

// childReport is the last line a child prints on stdout, after "result ".
type childReport struct {
	Runner  string
	Applied []string // in order
	Skipped int
	Issues  []string // the changes an *IssuesError named
	Error   string
	// What the error matched.
	LockLost           bool
	Fenced             bool
	ManualIntervention bool
}

// runChild runs one child process: it opens the audit store on the
// parent's schema, runs the proof pipeline once and reports the outcome.
func runChild(cfgJSON string) int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "proof child: bad %s: %v\n", childEnv, err)
		return exitSetup
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	control := bufio.NewReader(os.Stdin)
	waitForParent := func(say string) {
		fmt.Println(say)
		// A line, or the end of stdin, lets the child go on.
		_, _ = control.ReadString('\n')
	}

	pause := func(at, change string) {
		if p := cfg.Pause; p != nil && p.At == at && p.Change == change {
			waitForParent("paused " + p.String())
		}
	}
	// Many children open the store at the same instant: that creates the
	// audit tables concurrently, which the store must survive.
	var (
		store audit.Store
		stage pipeline.Stage
	)
	if cfg.Store == storeMySQL {
		s, err := openMySQLChildStore(ctx, cfg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "proof child %s: open store: %v\n", cfg.Runner, err)
			return exitSetup
		}
		defer s.Close()
		store = s
		stage, err = mysqlProofStage(cfg, s, pause)
		if err != nil {
			fmt.Fprintf(os.Stderr, "proof child %s: %v\n", cfg.Runner, err)
			return exitSetup
		}
	} else {
		pool, err := pgxpool.New(ctx, cfg.DSN)
		if err != nil {
			fmt.Fprintf(os.Stderr, "proof child %s: %v\n", cfg.Runner, err)
			return exitSetup
		}
		defer pool.Close()
		s, err := postgres.New(ctx, pool, postgres.WithSchema(cfg.Schema))
		if err != nil {
			fmt.Fprintf(os.Stderr, "proof child %s: open store: %v\n", cfg.Runner, err)
			return exitSetup
		}
		defer s.Close()
		store = s
		stage, err = proofStage(cfg, s, pause)
		if err != nil {
			fmt.Fprintf(os.Stderr, "proof child %s: %v\n", cfg.Runner, err)
			return exitSetup
		}
	}
	// current is the change being executed. The events and the crash
	// points are both called on the goroutine that runs the changes.
	var current string
	ctx = crash.With(ctx, func(p crash.Point) {
		if p == crash.BeforeCommit {
			pause("before-commit", current)
		}
	})
	r, err := pipeline.New(store, []pipeline.Stage{stage},
		pipeline.WithRunnerID(cfg.Runner),
		pipeline.WithLease(cfg.Lease),
		pipeline.WithLockWait(cfg.LockWait, cfg.LockPoll),
		pipeline.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil)).With("runner", cfg.Runner)),
		pipeline.WithEvents(func(ev pipeline.Event) {
			switch ev.Kind {
			case pipeline.EventStarted:
				current = ev.ChangeID
				pause("started", ev.ChangeID)
			case pipeline.EventApplied:
				pause("applied", ev.ChangeID)
			}
		}))
	if err != nil {
		fmt.Fprintf(os.Stderr, "proof child %s: %v\n", cfg.Runner, err)
		return exitSetup
	}
	if cfg.Barrier {
		waitForParent("ready")
	}

	res, err := r.Run(ctx)
	rep := childReport{Runner: cfg.Runner, Skipped: len(res.Skipped())}
	for _, o := range res.Applied() {
		rep.Applied = append(rep.Applied, o.ChangeID)
	}
	code := exitOK
	if err != nil {
		code = exitRunFailed
		fmt.Fprintf(os.Stderr, "proof child %s: run: %v\n", cfg.Runner, err)
		rep.Error = err.Error()
		rep.LockLost = errors.Is(err, pipeline.ErrLockLost)
		rep.Fenced = errors.Is(err, audit.ErrFenced)
		rep.ManualIntervention = errors.Is(err, pipeline.ErrManualInterventionRequired)
		if ie, ok := errors.AsType[*pipeline.IssuesError](err); ok {
			for _, is := range ie.Issues {
				rep.Issues = append(rep.Issues, is.ChangeID)
			}
		}
	}
	js, err := json.Marshal(rep)
	if err != nil {
		fmt.Fprintf(os.Stderr, "proof child %s: %v\n", cfg.Runner, err)
		return exitSetup
	}
	fmt.Printf("result %s\n", js)
	return code
}

// changeID names the i-th change (from 1) of the proof pipeline.
func changeID(i int) string { return fmt.Sprintf("change-%03d", i) }

// proofStage is the pipeline every child runs: cfg.Changes changes, each
// adding one to its own counter row and the runner's id to that row's list.
// pause is called inside every change, after its increment.
func proofStage(cfg childConfig, store *postgres.Store, pause func(at, change string)) (pipeline.Stage, error) {
	counters := pgx.Identifier{cfg.Schema, countersTable}.Sanitize()
	pool := store.Pool()
	appdb := pgxtarget.Shared(store)
	sqldb := sqltarget.Shared(store)
	st := pipeline.Stage{Name: stageName}
	for i := 1; i <= cfg.Changes; i++ {
		id := changeID(i)
		m := pipeline.Meta{ID: id, Order: audit.OrderOf(uint64(i)), Author: "proof", Target: "proofdb",
			Recovery: audit.RecoveryManual, Checksum: "sum-" + id, Source: "proof"}
		apply := func(ctx context.Context, exec execFunc) error {
			if err := increment(ctx, exec, counters, id, cfg.Runner); err != nil {
				return err
			}
			pause("inside", id)
			return nil
		}
		switch cfg.Target {
		case targetNonTx:
			st.Changes = append(st.Changes, pipeline.NewChange(m, pipeline.NonTransactional(pool),
				func(ctx context.Context, p *pgxpool.Pool) error { return apply(ctx, pgxExec(p)) }, nil))
		case targetPgx:
			st.Changes = append(st.Changes, pipeline.NewChange(m, pipeline.Target[pgx.Tx](appdb),
				func(ctx context.Context, tx pgx.Tx) error { return apply(ctx, pgxExec(tx)) }, nil))
		case targetSQL:
			st.Changes = append(st.Changes, pipeline.NewChange(m, pipeline.Target[*sql.Tx](sqldb),
				func(ctx context.Context, tx *sql.Tx) error { return apply(ctx, sqlExec(tx)) }, nil))
		default:
			return pipeline.Stage{}, fmt.Errorf("unknown target %q", cfg.Target)
		}
	}
	return st, nil
}

// execFunc runs a statement and returns the number of rows it changed.
type execFunc func(ctx context.Context, sql string, args ...any) (int64, error)

// pgxExec is execFunc for what a pool and a pgx transaction offer.
func pgxExec(db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}) execFunc {
	return func(ctx context.Context, sql string, args ...any) (int64, error) {
		tag, err := db.Exec(ctx, sql, args...)
		return tag.RowsAffected(), err
	}
}

// sqlExec is execFunc for a database/sql transaction.
func sqlExec(tx *sql.Tx) execFunc {
	return func(ctx context.Context, query string, args ...any) (int64, error) {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
}

// increment is the body of every change. The counters table has no unique
// constraint and the statement is not idempotent: a change that ran twice
// leaves n = 2 and two runner ids.
func increment(ctx context.Context, exec execFunc, counters, change, runner string) error {
	n, err := exec(ctx, "UPDATE "+counters+" SET n = n + 1, runners = array_append(runners, $2) WHERE change = $1",
		change, runner)
	if err != nil {
		return fmt.Errorf("increment the counter of %s: %w", change, err)
	}
	if n != 1 {
		return fmt.Errorf("increment the counter of %s: %d rows updated, want 1", change, n)
	}
	return nil
}
