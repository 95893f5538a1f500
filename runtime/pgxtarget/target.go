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
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Target is a PostgreSQL target on a pgx pool. It implements
// pipeline.Target[pgx.Tx] and pipeline.Markers. It is safe for concurrent
// use.
type Target struct {
	pool   *pgxpool.Pool
	marker markerTable
	where  string // the target database, for messages; never a password
	// maxConns is the pool's size, read once: pool.Config copies the whole
	// configuration, and Strategy runs once per change.
	maxConns int32
	err      error // a bad option or a nil pool; reported by Strategy

	mu    sync.Mutex
	ready bool // the marker table exists and the user may use it
}

var (
	_ pipeline.Target[pgx.Tx] = (*Target)(nil)
	_ pipeline.Markers        = (*Target)(nil)
)

// Option configures a Target. Options validate their input: an invalid one
// is reported by pipeline.New, before anything runs.
type Option interface {
	apply(*Target) error
}

type optionFunc func(*Target) error

func (f optionFunc) apply(t *Target) error { return f(t) }

// New returns a target that runs changes on pool, which stays the
// caller's. A nil pool or a bad option is reported by pipeline.New, before
// anything runs. New sends nothing to the server.
func New(pool *pgxpool.Pool, opts ...Option) *Target {
	t := &Target{pool: pool, marker: newMarkerTable(pgx.Identifier{defaultMarkerTable})}
	var errs []error
	if pool == nil {
		errs = append(errs, errors.New("pgxtarget: nil pool"))
	} else {
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

// sharedStore is an audit store that appends inside a transaction of its
// own pool and commits it: the store of package audit/postgres.
type sharedStore interface {
	Pool() *pgxpool.Pool
	CommitTx(ctx context.Context, tx pgx.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error)
}

// shared returns store as a sharedStore when it is on this target's pool.
func (t *Target) shared(store audit.Store) (sharedStore, bool) {
	s, ok := store.(sharedStore)
	return s, ok && s.Pool() == t.pool
}

// Strategy implements pipeline.Target: no transaction for a change declared
// transactional=false, a shared transaction when store is on this target's
// pool, a separate one with a marker otherwise.
func (t *Target) Strategy(store audit.Store, transactional bool) (audit.Strategy, error) {
	if t.err != nil {
		return "", t.err
	}
	_, shared := t.shared(store)
	if n := t.maxConns; shared && n < 2 {
		// The change would hold the only connection while the runner
		// waits for it to refresh the lease.
		return "", fmt.Errorf("pgxtarget: the pool the audit store shares has %d connection; it needs at least 2, "+
			"one for the change and one for refreshing the lock meanwhile", n)
	}
	switch {
	case !transactional:
		return audit.StrategyNonTx, nil
	case shared:
		return audit.StrategySharedTx, nil
	}
	return audit.StrategySeparateTx, nil
}

// Begin implements pipeline.Target.
//
// A transaction left idle longer than req.LeaseTTL is ended by the server
// (idle_in_transaction_session_timeout, set in the BEGIN round trip): its
// runner was paused or cut off past its lease, so the lock may have moved
// on, and the new holder must not wait forever on the row locks of a
// transaction that can no longer commit. A change must therefore not keep
// its transaction idle for longer than the lease.
func (t *Target) Begin(ctx context.Context, req pipeline.BeginRequest) (pipeline.Work[pgx.Tx], error) {
	if t.err != nil {
		return nil, t.err
	}
	switch s := req.Strategy; s {
	case audit.StrategySharedTx:
		ss, ok := t.shared(req.Store)
		if !ok {
			return nil, fmt.Errorf("pgxtarget: strategy %s needs the audit/postgres store on this target's pool", s)
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
		return &sharedWork{conn: conn, tx: tx, store: ss}, nil
	case audit.StrategySeparateTx:
		if err := t.ensureMarkerTable(ctx); err != nil {
			return nil, err
		}
		tx, err := t.begin(ctx, req.LeaseTTL)
		if err != nil {
			return nil, t.explain("begin a transaction", err, "")
		}
		return &markerWork{txWork: txWork{tx: tx}, t: t}, nil
	case audit.StrategyNonTx:
		c, err := t.pool.Acquire(ctx)
		if err != nil {
			return nil, t.explain("acquire a connection", err, "")
		}
		return &autocommitWork{conn: c, h: &autocommitTx{conn: c.Conn()}}, nil
	}
	return nil, fmt.Errorf("pgxtarget: unsupported strategy %s", req.Strategy)
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

func (w *txWork) Handle() pgx.Tx                   { return w.tx }
func (w *txWork) Commit(ctx context.Context) error { return w.tx.Commit(ctx) }
func (w *txWork) Abort(ctx context.Context) error  { return w.tx.Rollback(ctx) }

// sharedWork is a change's transaction on a connection it holds until the
// transaction ends, committed together with the audit entry by
// CommitAudit. Whatever the path, the connection is released once: after
// a commit it goes back to the pool, and a connection whose transaction is
// still open (a rollback that failed) is closed by pgxpool instead.
type sharedWork struct {
	conn  *pgxpool.Conn // nil once released
	tx    pgx.Tx        // begun on conn
	store sharedStore
}

func (w *sharedWork) Handle() pgx.Tx { return w.tx }

// CommitAudit implements pipeline.AuditAppender: the entry's append and
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

// Commit commits the transaction without an audit entry. The runner
// commits shared work with CommitAudit; Commit completes pipeline.Work.
func (w *sharedWork) Commit(ctx context.Context) error {
	if w.conn == nil {
		return pgx.ErrTxClosed
	}
	defer w.release()
	return w.tx.Commit(ctx)
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

// WriteMarker implements pipeline.MarkerWriter.
func (w *markerWork) WriteMarker(ctx context.Context, m pipeline.Marker) error {
	if _, err := w.tx.Exec(ctx, w.t.marker.upsert, pgx.QueryExecModeExec, m.Key.Stage, m.Key.ChangeID, m.ExecutionID); err != nil {
		return w.t.explain("write marker in "+w.t.marker.quoted, err, w.t.marker.grant(w.t.user()))
	}
	return nil
}
