package mongotarget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/mongoname"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Target is a MongoDB target: its changes receive a *mongo.Database, and
// run with pipeline.SeparateTx when they are transactional and the target
// has transactions, with pipeline.NonTx otherwise. It is safe for
// concurrent use.
type Target struct {
	db      *mongo.Database
	markers *markers
	log     *slog.Logger
	noTx    bool  // WithoutTransactions
	err     error // a nil database or a bad option; reported by Strategy

	mu     sync.Mutex
	server *Transactions // what hello said, once it was asked
}

var _ pipeline.Target[*mongo.Database] = (*Target)(nil)

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
		if err := mongoname.Collection("collection name", name); err != nil {
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

// WithoutTransactions runs every change without a transaction
// (audit.StrategyNonTx), as a server without transactions requires: a
// standalone server, or FerretDB. Detect chooses it from the server's
// answer.
func WithoutTransactions() Option {
	return optionFunc(func(t *Target) error {
		t.noTx = true
		return nil
	})
}

// New returns a target whose changes run on db, which stays the caller's:
// a transactional change in a session transaction with a marker, which
// needs a server with transactions (a replica set or a sharded cluster);
// with WithoutTransactions, every change without one. A server that turns
// out to have no transactions fails the first transactional change before
// it runs, saying so. Detect asks the server which applies.
//
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

// Detect asks db's server whether it runs multi-document transactions (see
// Transactions) and returns the target New(db, opts...) builds when it
// does, and New(db, WithoutTransactions(), opts...) when it does not.
// What the server said is logged, and kept: Transactions returns it.
func Detect(ctx context.Context, db *mongo.Database, opts ...Option) (*Target, error) {
	t := New(db, opts...)
	tx, err := t.Transactions(ctx)
	if err != nil {
		return nil, err
	}
	t.noTx = !tx.Supported
	return t, nil
}

// Strategy implements pipeline.Target: pipeline.NonTx for a change
// declared transactional=false and on a target built WithoutTransactions,
// pipeline.SeparateTx otherwise. It asks nothing of the server.
//
// The audit store is not consulted: a change never shares its transaction
// with the audit trail, even when the trail is the audit/mongo store on the
// same client (the package documentation says why).
func (t *Target) Strategy(transactional bool) (pipeline.Strategy[*mongo.Database], error) {
	if t.err != nil {
		return pipeline.Strategy[*mongo.Database]{}, t.err
	}
	if !transactional || t.noTx {
		return pipeline.NonTx[*mongo.Database](t), nil
	}
	return pipeline.SeparateTx[*mongo.Database](t), nil
}

// BeginNonTx implements pipeline.NonTxTarget: the change's operations
// commit one by one.
func (t *Target) BeginNonTx(context.Context, pipeline.BeginRequest) (pipeline.Work[*mongo.Database], error) {
	if t.err != nil {
		return nil, t.err
	}
	return plainWork{db: t.db}, nil
}

// BeginSeparate implements pipeline.SeparateTxTarget. The first call asks
// the server whether it has transactions (see Transactions), under ctx,
// unless Detect or Transactions asked before, and fails when it has none.
//
// MongoDB itself aborts a transaction that outlives its
// transactionLifetimeLimitSeconds (60 s by default), so a runner paused
// mid-change cannot hold the documents its successor needs for longer than
// that; req.LeaseTTL is not needed here.
func (t *Target) BeginSeparate(ctx context.Context, _ pipeline.BeginRequest) (pipeline.MarkedWork[*mongo.Database], error) {
	if t.err != nil {
		return nil, t.err
	}
	tx, err := t.Transactions(ctx)
	if err != nil {
		return nil, err
	}
	if !tx.Supported {
		return nil, fmt.Errorf("mongotarget: a transactional change needs a server with transactions, and database %q's has none: %s; "+
			"build the target with mongotarget.Detect, or with mongotarget.WithoutTransactions to run every change without one",
			t.db.Name(), tx.Reason)
	}
	return t.beginTx(ctx)
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

func (w plainWork) Handle() *mongo.Database                   { return w.db }
func (plainWork) Context(ctx context.Context) context.Context { return ctx }
func (plainWork) Commit(context.Context) error                { return nil }
func (plainWork) Abort(context.Context) error                 { return nil }

// txWork is a change run in a session transaction, with its marker.
type txWork struct {
	t    *Target
	sess *mongo.Session
}

// Handle implements pipeline.Work. The database is the target's own: what
// puts the change's operations in the transaction is the context they run
// with (Context), not the handle.
func (w *txWork) Handle() *mongo.Database { return w.t.db }

// Context implements pipeline.Work: ctx carrying the work's session, which
// is how mongo-driver v2 runs an operation in a transaction: the change
// receives it, and every operation it runs with it joins the transaction.
func (w *txWork) Context(ctx context.Context) context.Context {
	return mongo.NewSessionContext(ctx, w.sess)
}

// WriteMarker implements pipeline.MarkedWork: the marker is written in the
// change's transaction, so it commits with the change or not at all.
func (w *txWork) WriteMarker(ctx context.Context, m pipeline.Marker) error {
	return w.t.markers.write(w.Context(ctx), m)
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
