package pgxtarget_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// env is a pipeline's world on the test server: an audit store in a schema
// of its own (created, with the store's tables), on pool, which a target
// can share.
type env struct {
	srv    *pgtest.Server
	schema string
	pool   *pgxpool.Pool
	store  *postgres.Store
}

// newEnv skips t without a configured PostgreSQL (see internal/testenv).
func newEnv(t *testing.T, opts ...pgtest.Option) *env {
	t.Helper()
	srv := pgtest.New(t)
	e := &env{srv: srv, schema: srv.Schema(t), pool: srv.Pool(t, opts...)}
	e.store = newStore(t, e.pool, e.schema)
	if _, err := e.store.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// newStore returns a store in schema on pool.
func newStore(t *testing.T, pool *pgxpool.Pool, schema string) *postgres.Store {
	t.Helper()
	s, err := postgres.New(context.Background(), pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// exec runs sql on pool, failing t on error.
func exec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// effects creates a table in which changes leave one row per execution,
// qualified by schema unless it is empty, and returns its quoted name.
func effects(t *testing.T, pool *pgxpool.Pool, schema string) string {
	t.Helper()
	name := pgx.Identifier{"effects"}
	if schema != "" {
		name = pgx.Identifier{schema, "effects"}
	}
	exec(t, pool, "CREATE TABLE "+name.Sanitize()+" (change_id text NOT NULL)")
	return name.Sanitize()
}

// ran returns how many rows change id left in table.
func ran(t *testing.T, pool *pgxpool.Pool, table, id string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE change_id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// effect is the body of a change that leaves its row in table.
func effect(table, id string) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO "+table+" (change_id) VALUES ('"+id+"')")
		return err
	}
}

// change declares a change of stage s1 on tg.
func change(id string, order uint64, tg pipeline.Target[pgx.Tx], transactional bool, apply func(context.Context, pgx.Tx) error) pipeline.Change {
	m := pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "tester", Target: "appdb", WithoutTransaction: !transactional, Checksum: "sum-" + id}
	return pipeline.NewChange(m, tg, apply, nil)
}

func stages(changes ...pipeline.Change) []pipeline.Stage {
	return []pipeline.Stage{{Name: "s1", Changes: changes}}
}

// runner builds the pipeline's runner, failing t when it is invalid.
func runner(t *testing.T, store audit.Store, st []pipeline.Stage, opts ...pipeline.Option) *pipeline.Runner {
	t.Helper()
	r, err := pipeline.New(store, st, append([]pipeline.Option{pipeline.WithLockWait(time.Minute, 20*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// statuses renders a result as "stage/change=status" lines.
func statuses(res *pipeline.Result) []string {
	var out []string
	for _, o := range res.Changes() {
		out = append(out, o.Stage+"/"+o.ChangeID+"="+string(o.Status))
	}
	return out
}

// history returns the trail of change id of stage s1.
func history(t *testing.T, store audit.Store, id string) []audit.Entry {
	t.Helper()
	h, err := store.History(context.Background(), audit.Filter{Stage: "s1", ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func states(h []audit.Entry) []string {
	var out []string
	for _, e := range h {
		out = append(out, string(e.State)+" "+string(e.Strategy))
	}
	return out
}

// refusingStore is a store whose Append of one state fails, as if the
// process died right before writing it.
type refusingStore struct {
	*postgres.Store
	refuse audit.State
}

func (s refusingStore) Append(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	if e.State == s.refuse {
		return audit.Entry{}, errors.New("simulated crash before recording " + string(e.State))
	}
	return s.Store.Append(ctx, l, e)
}

// counter counts calls, from any goroutine.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
