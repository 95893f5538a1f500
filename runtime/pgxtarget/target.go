package pgxtarget

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/isnil"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Target is a PostgreSQL target on a pgx pool: its changes run with
// pipeline.SharedTx when it is built by Shared, with pipeline.SeparateTx
// when it is built by New, and with pipeline.NonTx when they are declared
// transactional=false. It is safe for concurrent use.
type Target struct {
	pool   *pgxpool.Pool
	shared SharedStore // set by Shared
	marker markerTable
	where  string // the target database, for messages; never a password
	// maxConns is the pool's size, read once: pool.Config copies the whole
	// configuration, and Strategy runs once per change.
	maxConns int32
	err      error // a bad option or a nil pool; reported by Strategy

	mu    sync.Mutex
	ready bool // the marker table exists and the user may use it
}

var _ pipeline.Target[pgx.Tx] = (*Target)(nil)

// Option configures a Target. Options validate their input: an invalid one
// is reported by pipeline.New, before anything runs.
type Option interface {
	apply(*Target) error
}

type optionFunc func(*Target) error

func (f optionFunc) apply(t *Target) error { return f(t) }

// New returns a target that runs changes on pool, which stays the
// caller's, each in a transaction committed with a marker
// (audit.StrategySeparateTx). A nil pool or a bad option is reported by pipeline.New, before
// anything runs. New sends nothing to the server.
func New(pool *pgxpool.Pool, opts ...Option) *Target {
	var unset error
	if pool == nil {
		unset = errors.New("pgxtarget: nil pool")
	}
	return build(pool, unset, opts)
}

// build returns a target on pool with opts, reporting unset (the pool or
// store left nil) and every bad option.
func build(pool *pgxpool.Pool, unset error, opts []Option) *Target {
	t := &Target{pool: pool, marker: newMarkerTable(pgx.Identifier{defaultMarkerTable})}
	errs := []error{unset}
	if pool != nil {
		cfg := pool.Config()
		t.where, t.maxConns = describe(cfg.ConnConfig), cfg.MaxConns
	}
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("pgxtarget: nil option"))
			continue
		}
		if err := o.apply(t); err != nil {
			errs = append(errs, fmt.Errorf("pgxtarget: %w", err))
		}
	}
	t.err = errors.Join(errs...)
	return t
}

// SharedStore is an audit store that appends inside a transaction of its
// own pool and commits it: the store of package audit/postgres.
type SharedStore interface {
	audit.Store
	// Pool is the store's pool.
	Pool() *pgxpool.Pool
	// CommitTx appends e under lease inside tx, a transaction on Pool, and
	// commits tx, the entry stored if and only if tx commits.
	CommitTx(ctx context.Context, tx pgx.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error)
}

// Shared returns a target that runs changes on store's pool, each in a
// transaction in which the runner appends its APPLIED entry before
// COMMIT (audit.StrategySharedTx). The pipeline's audit store must be
// store. A nil store or a bad option is reported by pipeline.New.
func Shared(store SharedStore, opts ...Option) *Target {
	if isnil.Value(store) {
		return build(nil, errors.New("pgxtarget: nil audit store"), opts)
	}
	t := build(store.Pool(), nil, opts)
	t.shared = store
	return t
}

// Strategy implements pipeline.Target: no transaction for a change declared
// transactional=false, a shared transaction for a target built by Shared, a
// separate one with a marker for a target built by New.
func (t *Target) Strategy(transactional bool) (pipeline.Strategy[pgx.Tx], error) {
	var none pipeline.Strategy[pgx.Tx]
	if t.err != nil {
		return none, t.err
	}
	if n := t.maxConns; t.shared != nil && n < 2 {
		// The change would hold the only connection while the runner
		// waits for it to refresh the lease.
		return none, fmt.Errorf("pgxtarget: the pool the audit store shares has %d connection; it needs at least 2, "+
			"one for the change and one for refreshing the lock meanwhile", n)
	}
	switch {
	case !transactional:
		return pipeline.NonTx[pgx.Tx](t), nil
	case t.shared != nil:
		return pipeline.SharedTx[pgx.Tx](t), nil
	}
	return pipeline.SeparateTx[pgx.Tx](t), nil
}

// AuditStore implements pipeline.SharedTxTarget: the store given to Shared,
// nil for a target built by New.
func (t *Target) AuditStore() audit.Store {
	if t.shared == nil {
		return nil
	}
	return t.shared
}

// BeginShared implements pipeline.SharedTxTarget.
//
// A transaction left idle longer than req.LeaseTTL is ended by the server
// (idle_in_transaction_session_timeout, set in the BEGIN round trip): its
// runner was paused or cut off past its lease, so the lock may have moved
// on, and the new holder must not wait forever on the row locks of a
// transaction that can no longer commit. A change must therefore not keep
// its transaction idle for longer than the lease. BeginSeparate does the
// same.
func (t *Target) BeginShared(ctx context.Context, req pipeline.BeginRequest) (pipeline.SharedWork[pgx.Tx], error) {
	if t.err != nil {
		return nil, t.err
	}
	if t.shared == nil {
		return nil, errors.New("pgxtarget: a target built by New shares no audit store's transactions: build it with Shared")
	}
	// The transaction is begun on a connection the work holds, not as a
	// pgxpool.Tx: once CommitAudit has committed, the connection is
	// simply released, where a pgxpool.Tx would still have to be ended
	// with a round trip.
	conn, err := t.pool.Acquire(ctx)
	if err != nil {
		return nil, t.explain("begin a transaction", err, "")
	}
	tx, err := conn.Conn().BeginTx(ctx, txOptions(req.LeaseTTL))
	if err != nil {
		conn.Release()
		return nil, t.explain("begin a transaction", err, "")
	}
	return &sharedWork{conn: conn, tx: tx, store: t.shared}, nil
}

// BeginSeparate implements pipeline.SeparateTxTarget.
func (t *Target) BeginSeparate(ctx context.Context, req pipeline.BeginRequest) (pipeline.MarkedWork[pgx.Tx], error) {
	if t.err != nil {
		return nil, t.err
	}
	if err := t.ensureMarkerTable(ctx); err != nil {
		return nil, err
	}
	tx, err := t.begin(ctx, req.LeaseTTL)
	if err != nil {
		return nil, t.explain("begin a transaction", err, "")
	}
	return &markerWork{txWork: txWork{tx: tx}, t: t}, nil
}

// BeginNonTx implements pipeline.NonTxTarget: the change's statements run
// in autocommit mode on one connection (see "Changes without a
// transaction").
func (t *Target) BeginNonTx(ctx context.Context, _ pipeline.BeginRequest) (pipeline.Work[pgx.Tx], error) {
	if t.err != nil {
		return nil, t.err
	}
	c, err := t.pool.Acquire(ctx)
	if err != nil {
		return nil, t.explain("acquire a connection", err, "")
	}
	return &autocommitWork{conn: c, h: &autocommitTx{conn: c.Conn()}}, nil
}

// begin starts a transaction on a connection of the pool, with
// txOptions(idle).
func (t *Target) begin(ctx context.Context, idle time.Duration) (pgx.Tx, error) {
	return t.pool.BeginTx(ctx, txOptions(idle))
}

// txOptions are those of a transaction that the server ends once it has
// been idle for idle (none when idle is zero). BEGIN and the setting go in
// one simple-protocol round trip.
func txOptions(idle time.Duration) pgx.TxOptions {
	var opts pgx.TxOptions
	if ms := idle.Milliseconds(); ms > 0 {
		opts.BeginQuery = fmt.Sprintf("BEGIN; SET LOCAL idle_in_transaction_session_timeout = %d", ms)
	}
	return opts
}

// describe names the database of cfg for messages: user@host:port/database,
// without the password.
func describe(cfg *pgx.ConnConfig) string {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		addr = cfg.Host + "/.s.PGSQL." + strconv.Itoa(int(cfg.Port))
	}
	return cfg.User + "@" + addr + "/" + cfg.Database
}

// txWork is one change's transaction.
type txWork struct{ tx pgx.Tx }

func (w *txWork) Handle() pgx.Tx                              { return w.tx }
func (w *txWork) Context(ctx context.Context) context.Context { return ctx }
func (w *txWork) Commit(ctx context.Context) error            { return w.tx.Commit(ctx) }
func (w *txWork) Abort(ctx context.Context) error             { return w.tx.Rollback(ctx) }

// sharedWork is a change's transaction on a connection it holds until the
// transaction ends, committed together with the audit entry by
// CommitAudit. Whatever the path, the connection is released once: after
// a commit it goes back to the pool, and a connection whose transaction is
// still open (a rollback that failed) is closed by pgxpool instead.
type sharedWork struct {
	conn  *pgxpool.Conn // nil once released
	tx    pgx.Tx        // begun on conn
	store SharedStore
}

func (w *sharedWork) Handle() pgx.Tx                              { return w.tx }
func (w *sharedWork) Context(ctx context.Context) context.Context { return ctx }

// CommitAudit implements pipeline.SharedWork: the entry's append and
// COMMIT in one round trip (see the store's CommitTx). After an error the
// connection stays with the work until Abort rolls back.
func (w *sharedWork) CommitAudit(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	if w.conn == nil {
		return audit.Entry{}, pgx.ErrTxClosed
	}
	stored, err := w.store.CommitTx(ctx, w.tx, lease, e)
	if err != nil {
		return audit.Entry{}, err
	}
	w.release()
	return stored, nil
}

// Abort rolls the transaction back, which is harmless after a CommitAudit
// that failed, even one that committed unbeknown to it, and releases the
// connection. After a successful CommitAudit it does nothing.
func (w *sharedWork) Abort(ctx context.Context) error {
	if w.conn == nil {
		return nil
	}
	defer w.release()
	return w.tx.Rollback(ctx)
}

func (w *sharedWork) release() {
	w.conn.Release()
	w.conn = nil
}

// markerWork writes the marker inside the change's transaction.
type markerWork struct {
	txWork
	t *Target
}

// WriteMarker implements pipeline.MarkedWork.
func (w *markerWork) WriteMarker(ctx context.Context, m pipeline.Marker) error {
	if _, err := w.tx.Exec(ctx, w.t.marker.upsert, pgx.QueryExecModeExec, m.Key.Stage, m.Key.ChangeID, m.ExecutionID); err != nil {
		return w.t.explain("write marker in "+w.t.marker.quoted, err, w.t.marker.grant(w.t.user()))
	}
	return nil
}
