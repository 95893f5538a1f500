package mongotarget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Target is a MongoDB target: its changes receive a *mongo.Database. It
// implements pipeline.Target[*mongo.Database] and pipeline.Markers, and is
// safe for concurrent use.
type Target struct {
	db      *mongo.Database
	markers *markers
	log     *slog.Logger
	err     error // a nil database or a bad option; reported by Strategy

	mu     sync.Mutex
	server *Transactions // what hello said, once it was asked
}

var (
	_ pipeline.Target[*mongo.Database] = (*Target)(nil)
	_ pipeline.Markers                 = (*Target)(nil)
)

// Option configures a Target. Options validate their input: an invalid one
// is reported by pipeline.New, before anything runs.
type Option interface {
	apply(*Target) error
}

type optionFunc func(*Target) error

func (f optionFunc) apply(t *Target) error { return f(t) }

// WithMarkerCollection names the collection, in the target's database, that
// holds the markers of changes run in a transaction (default
// flamingock_marker). The name follows MongoDB's rules for collection
// names: not empty, valid UTF-8, no "$" and no NUL, not starting with "."
// or "system.".
func WithMarkerCollection(name string) Option {
	return optionFunc(func(t *Target) error {
		if err := validateCollection(name); err != nil {
			return fmt.Errorf("WithMarkerCollection: %w", err)
		}
		t.markers.name = name
		return nil
	})
}

// WithLogger sets where the target says which strategy its server allows
// and why (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(t *Target) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		t.log = l
		return nil
	})
}

// New returns a target whose changes run on db, which stays the caller's.
// A nil db or a bad option is reported by pipeline.New, before anything
// runs. New sends nothing to the server.
func New(db *mongo.Database, opts ...Option) *Target {
	t := &Target{db: db, markers: &markers{name: DefaultMarkerCollection}, log: slog.Default()}
	var errs []error
	if db == nil {
		errs = append(errs, errors.New("mongotarget: nil *mongo.Database"))
	}
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("mongotarget: nil option"))
			continue
		}
		if err := o.apply(t); err != nil {
			errs = append(errs, fmt.Errorf("mongotarget: %w", err))
		}
	}
	if db != nil {
		if err := validateNamespace(db.Name(), t.markers.name); err != nil {
			errs = append(errs, fmt.Errorf("mongotarget: %w", err))
		}
		t.markers.bind(db)
	}
	t.err = errors.Join(errs...)
	return t
}

// detectTimeout bounds the hello that Strategy sends when nothing asked
// the server before: pipeline.New, which calls Strategy, takes no context.
const detectTimeout = 30 * time.Second

// Strategy implements pipeline.Target: audit.StrategyNonTx for a change
// declared transactional=false and on a server without transactions,
// audit.StrategySeparateTx otherwise. The first call asks the server (see
// Transactions) unless Transactions was called before; an error there
// makes pipeline.New fail.
//
// The audit store is not consulted: a change never shares its transaction
// with the audit trail, even when the trail is the audit/mongo store on the
// same client (the package documentation says why).
func (t *Target) Strategy(_ audit.Store, transactional bool) (audit.Strategy, error) {
	if t.err != nil {
		return "", t.err
	}
	if !transactional {
		return audit.StrategyNonTx, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), detectTimeout)
	defer cancel()
	tx, err := t.Transactions(ctx)
	if err != nil {
		return "", err
	}
	if !tx.Supported {
		return audit.StrategyNonTx, nil
	}
	return audit.StrategySeparateTx, nil
}

// Begin implements pipeline.Target.
//
// MongoDB itself aborts a transaction that outlives its
// transactionLifetimeLimitSeconds (60 s by default), so a runner paused
// mid-change cannot hold the documents its successor needs for longer than
// that; req.LeaseTTL is not needed here.
func (t *Target) Begin(ctx context.Context, req pipeline.BeginRequest) (pipeline.Work[*mongo.Database], error) {
	if t.err != nil {
		return nil, t.err
	}
	switch s := req.Strategy; s {
	case audit.StrategyNonTx:
		return plainWork{db: t.db}, nil
	case audit.StrategySeparateTx:
		if tx := t.known(); tx == nil || !tx.Supported {
			return nil, fmt.Errorf("mongotarget: strategy %s needs a server with transactions, and %s", s, known(tx))
		}
		w, err := t.beginTx(ctx)
		if err != nil {
			return nil, err
		}
		return w, nil
	}
	return nil, fmt.Errorf("mongotarget: unsupported strategy %s", req.Strategy)
}

// known says what is known of the server's transactions, for errors.
func known(tx *Transactions) string {
	if tx == nil {
		return "the server was not asked whether it has them"
	}
	return "the server has none: " + tx.Reason
}

// beginTx starts a session and a transaction in it. The marker collection
// is created first, outside the transaction: MongoDB before 4.4 cannot
// create a collection inside one.
func (t *Target) beginTx(ctx context.Context) (*txWork, error) {
	if err := t.markers.ensure(ctx); err != nil {
		return nil, err
	}
	sess, err := t.db.Client().StartSession()
	if err != nil {
		return nil, fmt.Errorf("mongotarget: start a session: %w", err)
	}
	// Snapshot reads and majority commits: the change sees one consistent
	// state, and an acknowledged commit survives a failover, so the marker
	// the next run may look for is there for good.
	err = sess.StartTransaction(options.Transaction().
		SetReadConcern(readconcern.Snapshot()).
		SetWriteConcern(writeconcern.Majority()).
		SetReadPreference(readpref.Primary()))
	if err != nil {
		sess.EndSession(ctx)
		return nil, fmt.Errorf("mongotarget: start a transaction: %w", err)
	}
	return &txWork{t: t, sess: sess}, nil
}

// HasMarker implements pipeline.Markers.
func (t *Target) HasMarker(ctx context.Context, m pipeline.Marker) (bool, error) {
	if t.err != nil {
		return false, t.err
	}
	return t.markers.has(ctx, m)
}

// ClearMarker implements pipeline.Markers.
func (t *Target) ClearMarker(ctx context.Context, key audit.Key) error {
	if t.err != nil {
		return t.err
	}
	return t.markers.clear(ctx, key)
}

// plainWork is a change run without a transaction: its operations commit
// one by one, and Commit and Abort have nothing to do.
type plainWork struct{ db *mongo.Database }

func (w plainWork) Handle() *mongo.Database    { return w.db }
func (plainWork) Commit(context.Context) error { return nil }
func (plainWork) Abort(context.Context) error  { return nil }

// txWork is a change run in a session transaction, with its marker.
type txWork struct {
	t    *Target
	sess *mongo.Session
}

// Handle implements pipeline.Work. The database is the target's own: what
// puts the change's operations in the transaction is the context they run
// with (BindContext), not the handle.
func (w *txWork) Handle() *mongo.Database { return w.t.db }

// BindContext returns ctx carrying the work's session, which is how
// mongo-driver v2 runs an operation in a transaction: the change receives
// it, and every operation it runs with it joins the transaction.
func (w *txWork) BindContext(ctx context.Context) context.Context {
	return mongo.NewSessionContext(ctx, w.sess)
}

// WriteMarker implements pipeline.MarkerWriter: the marker is written in the
// change's transaction, so it commits with the change or not at all.
func (w *txWork) WriteMarker(ctx context.Context, m pipeline.Marker) error {
	return w.t.markers.write(w.BindContext(ctx), m)
}

// Commit implements pipeline.Work. The driver retries a commit once when
// the first attempt's outcome is unknown; after an error the pipeline reads
// the marker to learn whether it committed.
func (w *txWork) Commit(ctx context.Context) error {
	defer w.sess.EndSession(context.WithoutCancel(ctx))
	if err := w.sess.CommitTransaction(ctx); err != nil {
		return fmt.Errorf("mongotarget: commit: %w", err)
	}
	return nil
}

// Abort implements pipeline.Work.
func (w *txWork) Abort(ctx context.Context) error {
	defer w.sess.EndSession(context.WithoutCancel(ctx))
	if err := w.sess.AbortTransaction(ctx); err != nil {
		return fmt.Errorf("mongotarget: abort: %w", err)
	}
	return nil
}
