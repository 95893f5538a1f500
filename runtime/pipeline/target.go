package pipeline

import (
	"context"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// Target is a system that changes modify. H is the handle each change
// receives: *sql.Tx for a database/sql target (package sqltarget), pgx.Tx
// (pgxtarget), *mongo.Database (mongotarget), or any value for a target
// without transactions (NonTransactional).
//
// A target runs each change with one of three strategies, and says which
// by returning the target as what that strategy needs of it:
//
//	SharedTx(t)    the change and its APPLIED entry commit in one
//	               transaction of the audit store's database
//	               (audit.StrategySharedTx; t is a SharedTxTarget)
//	SeparateTx(t)  STARTED; the change commits with a marker in the
//	               target; APPLIED (audit.StrategySeparateTx; t is a
//	               SeparateTxTarget)
//	NonTx(t)       STARTED; the change, without a transaction; APPLIED
//	               (audit.StrategyNonTx; t is a NonTxTarget)
//
// so that what a strategy needs is checked by the compiler, and a target of
// one handle type cannot be wired where changes expect another. A target
// that wraps another (to add tracing, say) returns itself in its Strategy,
// not the one it wraps: the runner reaches the Begin methods only through
// the Strategy. Package
// targettest checks that a target keeps the contract, as audittest does
// for stores.
type Target[H any] interface {
	// Strategy reports how a change declared transactional (or, when
	// transactional is false, declared transactional=false) runs on this
	// target, or why it cannot. It must not do I/O and must answer the
	// same for the life of the target: New calls it, before anything runs,
	// and the answer decides what the trail records.
	Strategy(transactional bool) (Strategy[H], error)
}

// Strategy is a target's answer to Target.Strategy: one of the three
// strategies, with the target as what that strategy needs. Build one with
// SharedTx, SeparateTx or NonTx; the zero value is no strategy, and New
// refuses it.
type Strategy[H any] struct {
	name     audit.Strategy
	shared   SharedTxTarget[H]
	separate SeparateTxTarget[H]
	nonTx    NonTxTarget[H]
	// implicit is set for a target whose database may commit a change's
	// transaction by itself (SharedTxImplicit, SeparateTxImplicit); for a
	// shared one, implicitShared appends inside the transaction.
	implicit       bool
	implicitShared ImplicitSharedTxTarget[H]
}

// SharedTx is the strategy of a target that shares the audit store's
// transactions.
func SharedTx[H any](t SharedTxTarget[H]) Strategy[H] {
	return Strategy[H]{name: audit.StrategySharedTx, shared: t}
}

// SeparateTx is the strategy of a target that runs each change in a
// transaction of its own, with a marker.
func SeparateTx[H any](t SeparateTxTarget[H]) Strategy[H] {
	return Strategy[H]{name: audit.StrategySeparateTx, separate: t}
}

// NonTx is the strategy of a target that runs changes without a
// transaction.
func NonTx[H any](t NonTxTarget[H]) Strategy[H] {
	return Strategy[H]{name: audit.StrategyNonTx, nonTx: t}
}

// SharedTxImplicit is the strategy of a target that shares the audit
// store's transactions on a database that may commit a change's transaction
// by itself part-way through the change: MySQL and MariaDB commit
// implicitly before and after DDL statements (CREATE, ALTER, DROP…), and
// what the change did so far then stays, whatever happens next.
//
// The runner appends the change's STARTED entry inside the transaction,
// first: it becomes durable exactly when something of the change does.
// When the transaction commits as usual, STARTED and the done state commit
// with the change, and a crash before leaves nothing behind, as with
// SharedTx. When the database commits it by itself, STARTED commits with
// it: a crash then leaves the change STARTED, uncertain, and never taken
// for not run. After the change, the runner asks the store, on another
// connection, whether STARTED is already visible: if it is, the
// transaction was committed by the database, and the change is recorded
// as run without a transaction (audit.StrategyNonTx): APPLIED when it
// succeeded, FAILED, uncertain, when it failed. Never is a done state
// recorded as if a transaction had made the change atomic.
func SharedTxImplicit[H any](t ImplicitSharedTxTarget[H]) Strategy[H] {
	return Strategy[H]{name: audit.StrategySharedTx, shared: t, implicit: true, implicitShared: t}
}

// SeparateTxImplicit is the strategy of a target that runs each change in
// a transaction of its own, with a marker, on a database that may commit
// that transaction by itself part-way through the change (see
// SharedTxImplicit).
//
// The runner writes a first marker, of the execution with suffix
// BegunMarker, as the transaction's first statement, and the usual marker
// when the change is done: the first is durable exactly when something of
// the change is. After a crash, the marker of the execution proves the
// change done, the begun marker alone proves that the database committed
// part of it (an issue, or a retry with recovery retry), and no marker
// proves that nothing of it was committed. After the change, HasMarker of
// the begun marker, read outside the transaction, tells whether the
// database committed it by itself; the change is then recorded as run
// without a transaction, as with SharedTxImplicit.
//
// t's WriteMarker must replace a marker in one statement (REPLACE, or
// INSERT … ON DUPLICATE KEY UPDATE): once the database has committed the
// transaction, each of its statements commits on its own, and a delete
// followed by an insert would leave a moment with no marker at all.
func SeparateTxImplicit[H any](t SeparateTxTarget[H]) Strategy[H] {
	return Strategy[H]{name: audit.StrategySeparateTx, separate: t, implicit: true}
}

// BegunMarker is the suffix of the execution id of the marker that
// SeparateTxImplicit writes first in a change's transaction.
const BegunMarker = "/begun"

// ImplicitCommits reports whether s is the strategy of a target whose
// database may commit a change's transaction by itself (SharedTxImplicit,
// SeparateTxImplicit).
func (s Strategy[H]) ImplicitCommits() bool { return s.implicit }

// ImplicitSharedTxTarget is a SharedTxTarget on a database that may commit
// a change's transaction by itself (see SharedTxImplicit).
type ImplicitSharedTxTarget[H any] interface {
	SharedTxTarget[H]
	// AppendStarted appends e, a STARTED entry, inside the transaction of
	// w, a work BeginShared returned, without committing it. It checks
	// that lease holds the lock without locking the lease (a locking read
	// would keep the lease row locked, and the runner's heartbeat waiting,
	// for as long as the change runs): the entry becomes durable on its
	// own only when the database commits the transaction by itself, and
	// what the change did is then done, whoever holds the lock by then.
	AppendStarted(ctx context.Context, w SharedWork[H], lease audit.Lease, e audit.Entry) (audit.Entry, error)
}

// Name is the strategy as the trail records it; empty for the zero value.
func (s Strategy[H]) Name() audit.Strategy { return s.name }

// SharedTx returns the target of a SharedTx strategy, and false for
// another. Package targettest drives a target through it, as the runner
// does.
func (s Strategy[H]) SharedTx() (SharedTxTarget[H], bool) { return s.shared, s.shared != nil }

// SeparateTx returns the target of a SeparateTx strategy, and false for
// another.
func (s Strategy[H]) SeparateTx() (SeparateTxTarget[H], bool) { return s.separate, s.separate != nil }

// NonTx returns the target of a NonTx strategy, and false for another.
func (s Strategy[H]) NonTx() (NonTxTarget[H], bool) { return s.nonTx, s.nonTx != nil }

// SharedTxTarget is what a target that shares the audit store's
// transactions provides: each change runs in a transaction of the store's
// own database, and the runner appends the change's APPLIED entry in it
// before it commits, so both commit or neither does. The sharing is stated
// where the target is built (sqltarget.Shared(store),
// pgxtarget.Shared(store)), never guessed.
type SharedTxTarget[H any] interface {
	// AuditStore is the store whose transactions the target shares. New
	// refuses the target in a pipeline on any other store.
	AuditStore() audit.Store
	// BeginShared begins one change's transaction.
	BeginShared(ctx context.Context, req BeginRequest) (SharedWork[H], error)
}

// SharedWork is one change's transaction on a SharedTxTarget.
type SharedWork[H any] interface {
	// Handle is what the change function receives.
	Handle() H
	// Context returns the context the change runs with: ctx, or one
	// derived from it that carries the unit of work.
	Context(ctx context.Context) context.Context
	// CommitAudit appends e under lease inside the work's transaction and
	// commits the work, and returns e as stored. When the lease no longer
	// holds the lock it fails with an error matching audit.ErrFenced and
	// commits nothing. After any other error the work may or may not have
	// committed: the audit trail tells, since it holds e if and only if the
	// work committed. The runner calls Abort after every error of
	// CommitAudit, never after its success: Abort must be harmless
	// whatever the commit did.
	CommitAudit(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error)
	// Abort discards the work (rolls the transaction back).
	Abort(ctx context.Context) error
}

// SeparateTxTarget is what a target that runs each change in a
// transaction of its own provides: the change commits together with a
// marker, and after a crash between the target's commit and the APPLIED
// entry, the marker tells whether the change committed.
type SeparateTxTarget[H any] interface {
	Markers
	// BeginSeparate begins one change's transaction.
	BeginSeparate(ctx context.Context, req BeginRequest) (MarkedWork[H], error)
}

// MarkedWork is one change's transaction on a SeparateTxTarget.
type MarkedWork[H any] interface {
	Work[H]
	// WriteMarker records m inside the work's transaction, replacing any
	// marker of the same key, so that it commits with the change.
	WriteMarker(ctx context.Context, m Marker) error
}

// NonTxTarget is what a target that runs changes without a transaction
// provides: what a change did stays, even when it fails halfway, so
// STARTED and APPLIED guard it and its recovery decides after a crash.
type NonTxTarget[H any] interface {
	// BeginNonTx begins one change's unit of work.
	BeginNonTx(ctx context.Context, req BeginRequest) (Work[H], error)
}

// Work is one change's unit of work on a SeparateTxTarget or a NonTxTarget.
type Work[H any] interface {
	// Handle is what the change function receives.
	Handle() H
	// Context returns the context the change and its rollback run with: ctx
	// itself, or, for a client that ties operations to the unit of work
	// through the context as MongoDB's driver does with sessions, one
	// derived from ctx that carries it.
	Context(ctx context.Context) context.Context
	// Commit makes the work durable (commits the transaction, if any).
	Commit(ctx context.Context) error
	// Abort discards the work: it rolls back the transaction of a
	// SeparateTxTarget's work; on a NonTxTarget, whose work has none, what
	// the change did stays, and Abort only releases what the work holds
	// (a connection). It is called at most once, and never after a Commit
	// that succeeded.
	Abort(ctx context.Context) error
}

// BeginRequest is what a target needs to begin one change's unit of work.
type BeginRequest struct {
	// LeaseTTL is the runner's lease. A target whose transactions hold
	// locks should have the server end a transaction left idle longer than
	// this: its runner was paused or cut off past its lease, the lock may
	// have moved to another runner, and that runner must not wait forever on
	// the locks of a transaction that can no longer commit anything.
	LeaseTTL time.Duration
}

// Marker identifies one execution of one change in a SeparateTxTarget.
type Marker struct {
	Key audit.Key
	// ExecutionID is the run whose STARTED entry the marker answers. A
	// marker left behind by another execution proves nothing about this one.
	ExecutionID string
}

// Markers reads and clears the markers a SeparateTxTarget's work wrote.
type Markers interface {
	// HasMarker reports whether the marker of m.Key was written by
	// m.ExecutionID and committed. It must not change the target's data.
	HasMarker(ctx context.Context, m Marker) (bool, error)
	// ClearMarker deletes the marker of key, if any.
	ClearMarker(ctx context.Context, key audit.Key) error
}

// NonTransactional returns a target whose changes receive h and run with
// the non-transactional strategy (a Kafka admin client, an *http.Client, an
// S3 client…).
func NonTransactional[H any](h H) Target[H] { return nonTx[H]{h: h} }

type nonTx[H any] struct{ h H }

func (t nonTx[H]) Strategy(bool) (Strategy[H], error) { return NonTx[H](t), nil }

func (t nonTx[H]) BeginNonTx(context.Context, BeginRequest) (Work[H], error) { return t, nil }

func (t nonTx[H]) Handle() H                                 { return t.h }
func (nonTx[H]) Context(ctx context.Context) context.Context { return ctx }
func (nonTx[H]) Commit(context.Context) error                { return nil }
func (nonTx[H]) Abort(context.Context) error                 { return nil }
