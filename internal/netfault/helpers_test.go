package netfault

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/faultproxy"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

const (
	stage   = "s1"
	lockKey = "netfault"
	// effectsTable is where changes leave one row per execution. It has no
	// unique constraint: a change applied twice leaves two rows.
	effectsTable = "netfault_effects"
)

// The statements the faults cut, as the store, pgx and pgxtarget send them.
var (
	commit      = faultproxy.SQLIs("commit") // pgx's Tx.Commit
	auditAppend = faultproxy.SQLContains(`"flamingock_audit" (schema_version`)
	refresh     = faultproxy.SQLContains("SET expires_at = clock_timestamp()")
	historyRead = faultproxy.SQLContains("WHERE true")
	snapshot    = faultproxy.SQLContains("DISTINCT ON (stage")
	markerRead  = faultproxy.SQLContains("SELECT EXISTS (SELECT 1 FROM")
	applyEffect = faultproxy.SQLContains("INSERT INTO " + effectsTable)
)

// appendOf matches the audit write of state.
func appendOf(state audit.State) faultproxy.Matcher {
	// The state is a text parameter of the Bind message; quote-free
	// matching would take STARTED for a substring of nothing else, and
	// APPLIED only for MANUAL_MARKED_AS_APPLIED, which runs never write.
	return faultproxy.All(auditAppend, faultproxy.BytesContain(string(state)))
}

// world is a pipeline's surroundings on the test server, every connection
// of the code under test going through one proxy.
type world struct {
	srv    *pgtest.Server
	proxy  *faultproxy.Proxy
	schema string
	// pool is the audit store's (and a sharing target's) pool, proxied.
	pool  *pgxpool.Pool
	store *postgres.Store
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := pgtest.New(t)
	cfg, err := pgconn.ParseConfig(srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{srv: srv, schema: srv.Schema(t)}
	w.proxy = faultproxy.New(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	srv.Exec(t, "CREATE SCHEMA "+pgx.Identifier{w.schema}.Sanitize())
	srv.Exec(t, "CREATE TABLE "+pgx.Identifier{w.schema, effectsTable}.Sanitize()+" (change_id text NOT NULL)")
	w.pool = w.proxied(t, pgtest.SearchPath(w.schema))
	w.store, err = postgres.New(context.Background(), w.pool, postgres.WithSchema(w.schema))
	if err != nil {
		t.Fatal(err)
	}
	// The store creates its tables at its first write, in a transaction of
	// its own: done before any fault is armed, so that no rule matches it.
	ctx := context.Background()
	l, err := w.store.Acquire(ctx, "warm-up", "netfault", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	return w
}

// proxied returns a pool changed by opts whose connections go through the
// proxy. It pings every connection it hands out, so that one the proxy cut
// while idle is replaced rather than failing the next statement: that is
// the reconnection the tests rely on after a fault.
func (w *world) proxied(t *testing.T, opts ...pgtest.Option) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(w.srv.ConnString(t, opts...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return true }
	var d net.Dialer
	addr := w.proxy.Addr()
	cfg.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
	return pgtest.NewPool(t, cfg)
}

// separate returns a target in a database of its own (so changes on it run
// in a separate transaction with a marker), proxied, and a direct pool on
// that database for checking it.
func (w *world) separate(t *testing.T) (*pgxtarget.Target, *pgxpool.Pool) {
	t.Helper()
	db := w.srv.Database(t)
	direct := w.srv.Pool(t, pgtest.Database(db), pgtest.MaxConns(1))
	if _, err := direct.Exec(context.Background(), "CREATE TABLE "+effectsTable+" (change_id text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return pgxtarget.New(w.proxied(t, pgtest.Database(db))), direct
}

// effects returns how many times change id took effect in the effects
// table reached by pool (directly, not through the proxy).
func effects(t *testing.T, pool *pgxpool.Pool, table, id string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE change_id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// effectsHere is effects for the world's own database.
func (w *world) effectsHere(t *testing.T, id string) int {
	t.Helper()
	return effects(t, w.srv.Admin, pgx.Identifier{w.schema, effectsTable}.Sanitize(), id)
}

// effect is a change body that leaves its row in the effects table (found
// through the search_path or the target database's default schema).
func effect(id string) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO "+effectsTable+" (change_id) VALUES ($1)", id)
		return err
	}
}

// change declares change id of the stage on tg.
func change(id string, order uint64, tg pipeline.Target[pgx.Tx], transactional bool, recovery audit.Recovery,
	apply func(context.Context, pgx.Tx) error) pipeline.Change {
	m := pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "netfault", Target: "appdb", WithoutTransaction: !transactional,
		Recovery: recovery, Checksum: "sum-" + id}
	return pipeline.NewChange(m, tg, apply, nil)
}

// runner returns the runner of changes on the world's store.
func (w *world) runner(t *testing.T, lease time.Duration, changes ...pipeline.Change) *pipeline.Runner {
	t.Helper()
	r, err := pipeline.New(w.store, []pipeline.Stage{{Name: stage, Changes: changes}},
		pipeline.WithLockKey(lockKey), pipeline.WithLease(lease),
		pipeline.WithLockWait(time.Minute, 20*time.Millisecond),
		pipeline.WithLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// status returns the status of change id in res.
func status(res *pipeline.Result, id string) pipeline.Status {
	for _, o := range res.Changes() {
		if o.ChangeID == id {
			return o.Status
		}
	}
	return ""
}

// trail returns change id's audit trail as "STATE STRATEGY" lines, read
// directly (not through the proxy).
func (w *world) trail(t *testing.T, id string) []string {
	t.Helper()
	direct, err := postgres.New(context.Background(), w.srv.Admin, postgres.WithSchema(w.schema))
	if err != nil {
		t.Fatal(err)
	}
	h, err := direct.History(context.Background(), audit.Filter{Stage: stage, ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range h {
		out = append(out, string(e.State)+" "+string(e.Strategy))
	}
	return out
}

func checkTrail(t *testing.T, w *world, id string, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, w.trail(t, id)); diff != "" {
		t.Errorf("audit trail of %s (-want +got):\n%s", id, diff)
	}
}

// issueOf returns the issue error of a run's error, failing t when err is
// not one naming exactly change id.
func issueOf(t *testing.T, err error, id string) *pipeline.IssuesError {
	t.Helper()
	var ie *pipeline.IssuesError
	if !errors.As(err, &ie) {
		t.Fatalf("run: got %v, want an *IssuesError", err)
	}
	if len(ie.Issues) != 1 || ie.Issues[0].ChangeID != id {
		t.Fatalf("issues: got %+v, want one for %s", ie.Issues, id)
	}
	return ie
}

// fired fails t unless every fault fired: a fault that never fired means
// the test did not test what it says.
func fired(t *testing.T, faults ...*faultproxy.Fault) {
	t.Helper()
	for i, f := range faults {
		select {
		case <-f.Fired():
		default:
			t.Fatalf("fault %d never fired", i)
		}
	}
}

// gate lets a test act while a change is inside its body, the first time
// it runs: the change signals inside and waits for release.
type gate struct {
	once    sync.Once
	inside  chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{inside: make(chan struct{}), release: make(chan struct{})} }

// pass blocks the first caller until open; later callers go through.
func (g *gate) pass(ctx context.Context) error {
	first := false
	g.once.Do(func() { first = true })
	if !first {
		return nil
	}
	close(g.inside)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait waits until a change is inside, for at most a minute (a hang would
// otherwise last until the test binary's timeout).
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not happen within a minute", what)
	}
}
