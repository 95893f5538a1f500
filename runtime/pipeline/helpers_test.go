package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

const lockKey = "flamingock" // the runner's default

// env is a pipeline's world: the SQLite audit store (whose database is also
// the shared-transaction target), a second SQLite database for the
// separate-transaction target, and an in-memory system without
// transactions. Every change leaves one side effect per execution, so tests
// count what ran.
type env struct {
	t        *testing.T
	store    *sqlite.Store
	storeURL string
	targetDB *sql.DB
	shared   *sqltarget.Target
	separate *sqltarget.Target
	rec      *recorder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(dir, "target.db"))+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, d := range []*sql.DB{store.DB(), db} {
		if _, err := d.ExecContext(ctx, `CREATE TABLE effects (change_id TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
	}
	return &env{
		t: t, store: store, storeURL: store.String(), targetDB: db,
		shared: sqltarget.Shared(store), separate: sqltarget.New(db),
		rec: &recorder{counts: map[string]int{}},
	}
}

// recorder is the handle of the system without transactions.
type recorder struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *recorder) add(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[what]++
}

func (r *recorder) count(what string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[what]
}

// spec declares a test change.
type spec struct {
	id       string
	order    uint64
	strategy audit.Strategy // which target it is wired to
	recovery audit.Recovery
	// hook runs inside the change before its side effect; its error fails
	// the change.
	hook func(ctx context.Context) error
	// fail is returned after the side effect.
	fail error
	// panics makes the change panic after its side effect.
	panics bool
	// rollback declares a rollback, which fails with rollbackErr.
	rollback    bool
	rollbackErr error
	// equivalent lists checksums recorded as cosmetic edits of it.
	equivalent []string
	// compensate runs the rollback right after a failure without a
	// transaction.
	compensate bool
	// profiles are the change's Meta.Profiles.
	profiles []string
}

func (e *env) meta(s spec) pipeline.Meta {
	target := map[audit.Strategy]string{
		audit.StrategySharedTx: "appdb", audit.StrategySeparateTx: "otherdb", audit.StrategyNonTx: "flags",
	}[s.strategy]
	order := s.order
	if order == 0 {
		order = 1
	}
	return pipeline.Meta{
		ID: s.id, Order: audit.OrderOf(order), Author: "tester", Target: target, Recovery: s.recovery,
		WithoutTransaction: s.strategy == audit.StrategyNonTx, Compensate: s.compensate, Checksum: "sum-" + s.id, Equivalent: s.equivalent, Source: s.id + ".go:3",
		Profiles: s.profiles,
	}
}

// change builds s on the target of its strategy.
func (e *env) change(s spec) pipeline.Change {
	after := func() error {
		if s.panics {
			panic("change " + s.id + " exploded")
		}
		return s.fail
	}
	hook := func(ctx context.Context) error {
		if s.hook != nil {
			return s.hook(ctx)
		}
		return nil
	}
	if s.strategy == audit.StrategyNonTx {
		var rb func(context.Context, *recorder) error
		if s.rollback {
			rb = func(_ context.Context, r *recorder) error {
				r.add(s.id + ":rollback")
				return s.rollbackErr
			}
		}
		return pipeline.NewChange(e.meta(s), pipeline.NonTransactional(e.rec), func(ctx context.Context, r *recorder) error {
			if err := hook(ctx); err != nil {
				return err
			}
			r.add(s.id)
			return after()
		}, rb)
	}
	t := e.shared
	if s.strategy == audit.StrategySeparateTx {
		t = e.separate
	}
	return pipeline.NewChange(e.meta(s), pipeline.Target[*sql.Tx](t), func(ctx context.Context, tx *sql.Tx) error {
		if err := hook(ctx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO effects (change_id) VALUES (?)`, s.id); err != nil {
			return err
		}
		return after()
	}, nil)
}

func (e *env) stage(name string, specs ...spec) pipeline.Stage {
	st := pipeline.Stage{Name: name}
	for _, s := range specs {
		st.Changes = append(st.Changes, e.change(s))
	}
	return st
}

func (e *env) runner(stages []pipeline.Stage, opts ...pipeline.Option) *pipeline.Runner {
	e.t.Helper()
	r, err := pipeline.New(e.store, stages, append([]pipeline.Option{pipeline.WithRunnerID("test-runner")}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// ran counts the committed side effects of change id in every target.
func (e *env) ran(id string) int {
	e.t.Helper()
	n := e.rec.count(id)
	for _, db := range []*sql.DB{e.store.DB(), e.targetDB} {
		var c int
		if err := db.QueryRow(`SELECT COUNT(*) FROM effects WHERE change_id = ?`, id).Scan(&c); err != nil {
			e.t.Fatal(err)
		}
		n += c
	}
	return n
}

// history returns the entries of change id in stage.
func (e *env) history(stage, id string) []audit.Entry {
	e.t.Helper()
	h, err := e.store.History(context.Background(), audit.Filter{Stage: stage, ChangeID: id})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func states(entries []audit.Entry) []audit.State {
	var out []audit.State
	for _, en := range entries {
		out = append(out, en.State)
	}
	return out
}

// seedExec is the execution id of seeded entries.
const seedExec = "seed-execution"

// seedEntry is an entry a previous run left.
func seedEntry(stage, id string, st audit.State, s audit.Strategy, r audit.Recovery) audit.Entry {
	en := audit.Entry{
		ExecutionID: seedExec, Stage: stage, ChangeID: id, Order: audit.OrderOf(1), Author: "tester", State: st,
		Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Host: "old-host", RunnerID: "old-runner",
		Strategy: s, Recovery: r, Checksum: "sum-" + id,
	}
	switch st {
	case audit.StateFailed, audit.StateRollbackFailed:
		en.ErrorMessage, en.ErrorKind = "connection reset", "*net.OpError"
	case audit.StateManualApplied, audit.StateManualRolledBack:
		en.Operator, en.Reason = "ops@example.com", "checked by hand"
	}
	return en
}

// seed appends entries under a lease of the pipeline's lock key, as a
// previous runner would have, and releases it.
func (e *env) seed(entries ...audit.Entry) {
	e.t.Helper()
	ctx := context.Background()
	l, err := e.store.Acquire(ctx, lockKey, "old-runner", time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, en := range entries {
		if _, err := e.store.Append(ctx, l, en); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.store.Release(ctx, l); err != nil {
		e.t.Fatal(err)
	}
}

// seedMarker commits the marker execution exec would have written in the
// separate target.
func (e *env) seedMarker(stage, id, exec string) {
	e.t.Helper()
	ctx := context.Background()
	w, err := e.separate.BeginSeparate(ctx, pipeline.BeginRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.WriteMarker(ctx, pipeline.Marker{Key: audit.Key{Stage: stage, ChangeID: id}, ExecutionID: exec}); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) hasMarker(stage, id, exec string) bool {
	e.t.Helper()
	ok, err := e.separate.HasMarker(context.Background(), pipeline.Marker{Key: audit.Key{Stage: stage, ChangeID: id}, ExecutionID: exec})
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

func (e *env) lock() audit.LockInfo {
	e.t.Helper()
	info, err := e.store.Lock(context.Background(), lockKey)
	if err != nil {
		e.t.Fatal(err)
	}
	return info
}

// statuses returns "stage/id=status" for every outcome of res.
func statuses(res *pipeline.Result) []string {
	var out []string
	for _, o := range res.Changes() {
		out = append(out, fmt.Sprintf("%s/%s=%s", o.Stage, o.ChangeID, o.Status))
	}
	return out
}

var errBoom = errors.New("boom")
