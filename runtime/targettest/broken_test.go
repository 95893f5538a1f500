package targettest_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
	"github.com/flamingock/flamingock-go/runtime/targettest"
)

// brokenEnv names the broken target TestBrokenTarget runs the suite
// against, in the process TestTheSuiteFailsABrokenTarget starts.
const brokenEnv = "TARGETTEST_BROKEN"

// broken lists the deliberately broken targets: each breaks one property,
// whose subtest must fail, while a property it keeps still passes.
var broken = []struct {
	name  string
	fails []string // subtests that must fail
	keeps string   // a subtest that must pass
}{
	{
		name: "abort commits",
		fails: []string{
			"separate transaction: abort discards the effect",
			"separate transaction: a marker is found only once its work commits",
		},
		keeps: "separate transaction: commit keeps the effect",
	},
	{
		name: "HasMarker ignores the execution id",
		fails: []string{
			"separate transaction: a committed marker proves its own execution only",
			"separate transaction: a later execution's committed marker replaces the earlier one",
		},
		keeps: "separate transaction: ClearMarker deletes the marker",
	},
	{
		name:  "Strategy answers differently each time",
		fails: []string{"strategy answers the same every time and does no I/O"},
		keeps: "separate transaction: abort discards the effect",
	},
	{
		name:  "Strategy pings the database",
		fails: []string{"strategy answers the same every time and does no I/O"},
		keeps: "separate transaction: abort discards the effect",
	},
	{
		name:  "transactional=false runs in a separate transaction",
		fails: []string{"strategy for transactional=false is NonTx or an error"},
		keeps: "separate transaction: abort discards the effect",
	},
	{
		name: "a fenced CommitAudit commits the effect",
		fails: []string{
			"shared transaction: CommitAudit under a force-released lease is fenced and commits nothing",
			"shared transaction: CommitAudit under an expired lease another owner took over is fenced and commits nothing",
		},
		keeps: "shared transaction: CommitAudit commits the effect and the entry together",
	},
}

// TestTheSuiteFailsABrokenTarget runs the suite against each broken target
// in a test process of its own (this binary, running TestBrokenTarget),
// and checks that it fails, naming the property the target breaks.
func TestTheSuiteFailsABrokenTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a test process per broken target")
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenTarget$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+b.name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite against a target where %s: %v, want it to fail; output:\n%s", b.name, err, out)
			}
			for _, name := range b.fails {
				if !strings.Contains(string(out), "--- FAIL: TestBrokenTarget/"+subtest(name)+" ") {
					t.Errorf("the suite against a target where %s does not fail %q; output:\n%s", b.name, name, out)
				}
			}
			if !strings.Contains(string(out), "--- PASS: TestBrokenTarget/"+subtest(b.keeps)+" ") {
				t.Errorf("the suite against a target where %s does not pass %q, which it keeps; output:\n%s", b.name, b.keeps, out)
			}
		})
	}
}

// subtest is name as go test prints it.
func subtest(name string) string { return strings.ReplaceAll(name, " ", "_") }

// TestBrokenTarget runs the suite against the broken target named by
// $TARGETTEST_BROKEN; it is skipped without it.
func TestBrokenTarget(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("run by TestTheSuiteFailsABrokenTarget")
	}
	if name == "a fenced CommitAudit commits the effect" {
		targettest.Run(t, targettest.Harness[*sql.Tx]{
			New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
				store := openStore(t, t.TempDir())
				fx := sqlFixture(t, nil, store, store.DB())
				fx.Target, fx.Disconnect = &commitFirst{Target: sqltarget.Shared(store), store: store}, nil
				return fx
			},
			Transactional: audit.StrategySharedTx,
		})
		return
	}
	targettest.Run(t, targettest.Harness[*sql.Tx]{
		New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
			dir := t.TempDir()
			db := targetDB(t, dir)
			return sqlFixture(t, &brokenSeparate{Target: sqltarget.New(db), db: db, broken: name}, openStore(t, dir), db)
		},
		// Every one claims to refuse transactional=false changes, as
		// sqltarget does; the one that runs them anyway breaks its claim.
		Transactional: audit.StrategySeparateTx,
	})
}

// brokenSeparate is a separate-transaction database/sql target broken as
// its broken field says.
type brokenSeparate struct {
	*sqltarget.Target
	db     *sql.DB
	broken string
	calls  atomic.Int64
}

func (b *brokenSeparate) Strategy(transactional bool) (pipeline.Strategy[*sql.Tx], error) {
	var none pipeline.Strategy[*sql.Tx]
	switch b.broken {
	case "Strategy answers differently each time":
		if b.calls.Add(1)%2 == 0 {
			return pipeline.NonTx[*sql.Tx](b), nil
		}
	case "Strategy pings the database":
		if err := b.db.Ping(); err != nil {
			return none, err
		}
	case "transactional=false runs in a separate transaction":
		return pipeline.SeparateTx[*sql.Tx](b), nil
	}
	if !transactional {
		return none, errors.New("a *sql.Tx target runs no change outside a transaction")
	}
	return pipeline.SeparateTx[*sql.Tx](b), nil
}

func (b *brokenSeparate) BeginNonTx(ctx context.Context, req pipeline.BeginRequest) (pipeline.Work[*sql.Tx], error) {
	return b.BeginSeparate(ctx, req)
}

func (b *brokenSeparate) BeginSeparate(ctx context.Context, req pipeline.BeginRequest) (pipeline.MarkedWork[*sql.Tx], error) {
	w, err := b.Target.BeginSeparate(ctx, req)
	if err != nil || b.broken != "abort commits" {
		return w, err
	}
	return abortCommits{w}, nil
}

func (b *brokenSeparate) HasMarker(ctx context.Context, m pipeline.Marker) (bool, error) {
	if b.broken != "HasMarker ignores the execution id" {
		return b.Target.HasMarker(ctx, m)
	}
	if _, err := b.Target.HasMarker(ctx, m); err != nil { // creates the table
		return false, err
	}
	var n int
	err := b.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM flamingock_marker WHERE stage = ? AND change_id = ?`,
		m.Key.Stage, m.Key.ChangeID).Scan(&n)
	return n > 0, err
}

type abortCommits struct{ pipeline.MarkedWork[*sql.Tx] }

func (w abortCommits) Abort(ctx context.Context) error { return w.Commit(ctx) }

// commitFirst is a shared-transaction target whose CommitAudit commits
// the change's transaction, then appends its entry: under a fenced lease
// the effect stays without its entry.
type commitFirst struct {
	*sqltarget.Target
	store *sqlite.Store
}

func (c *commitFirst) Strategy(transactional bool) (pipeline.Strategy[*sql.Tx], error) {
	if !transactional {
		return pipeline.Strategy[*sql.Tx]{}, errors.New("a *sql.Tx target runs no change outside a transaction")
	}
	return pipeline.SharedTx[*sql.Tx](c), nil
}

func (c *commitFirst) BeginShared(ctx context.Context, _ pipeline.BeginRequest) (pipeline.SharedWork[*sql.Tx], error) {
	tx, err := c.store.DB().BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &commitFirstWork{tx: tx, store: c.store}, nil
}

type commitFirstWork struct {
	tx    *sql.Tx
	store *sqlite.Store
}

func (w *commitFirstWork) Handle() *sql.Tx                             { return w.tx }
func (w *commitFirstWork) Context(ctx context.Context) context.Context { return ctx }

func (w *commitFirstWork) CommitAudit(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	if err := w.tx.Commit(); err != nil {
		return audit.Entry{}, err
	}
	return w.store.Append(ctx, l, e)
}

func (w *commitFirstWork) Abort(context.Context) error {
	if err := w.tx.Rollback(); !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}
