package pipeline

import (
	"context"

	"github.com/flamingock/flamingock-go/audit"
)

// Meta describes a change as it was declared. flamingock-gen fills it from
// the //flamingock:change directive; hand-written stages may fill it too.
type Meta struct {
	ID     string
	Order  int64
	Author string
	// Target is the target id of the directive (target=…).
	Target   string
	Recovery audit.Recovery
	// Transactional is false when the change was declared
	// transactional=false: it then runs without a target transaction, with
	// STARTED/APPLIED guarding it, even on a transactional target.
	Transactional bool
	// Checksum is a digest of the change's normalized source.
	Checksum string
	// Source is where the change is declared, as file:line.
	Source string
}

// Change is a declared change bound to its target. Build one with NewChange.
type Change struct {
	meta        Meta
	hasRollback bool
	bind        func(store audit.Store) (binding, error)
}

// Meta returns the change's declaration.
func (c Change) Meta() Meta { return c.meta }

// HasRollback reports whether the change declares a rollback.
func (c Change) HasRollback() bool { return c.hasRollback }

// Stage is an ordered list of changes: one generated package is one stage.
// The stages of a pipeline run in the order the application lists them.
type Stage struct {
	Name    string
	Changes []Change
}

// Target is a system that changes modify. H is the handle each change
// receives: *sql.Tx for a database/sql target (package sqltarget), or any
// value for a target without transactions (NonTransactional).
type Target[H any] interface {
	// Strategy reports how a change on this target is executed, given the
	// pipeline's audit store and whether the change was declared
	// transactional. An error means this target cannot run such a change;
	// the runtime reports it before anything runs.
	Strategy(store audit.Store, transactional bool) (audit.Strategy, error)
	// Begin starts one change's unit of work under strategy s.
	Begin(ctx context.Context, s audit.Strategy) (Work[H], error)
}

// Work is one change's unit of work on its target.
//
// Under audit.StrategySharedTx a Work must also implement AuditAppender;
// under audit.StrategySeparateTx it must implement MarkerWriter and its
// Target must implement Markers.
type Work[H any] interface {
	// Handle is what the change function receives.
	Handle() H
	// Commit makes the work durable (commits the transaction, if any).
	Commit(ctx context.Context) error
	// Abort discards the work (rolls back the transaction, if any). It is
	// called at most once, and never after a successful Commit.
	Abort(ctx context.Context) error
}

// AuditAppender is implemented by the Work of a target that shares its
// transaction with the audit store: the APPLIED entry is appended inside
// the change's transaction, so both commit or neither does.
type AuditAppender interface {
	AppendAudit(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error)
}

// MarkerWriter is implemented by the Work of a target that runs changes in
// a transaction of its own: the marker commits with the change, so that
// after a crash the marker tells whether the change committed.
type MarkerWriter interface {
	WriteMarker(ctx context.Context, key audit.Key) error
}

// Markers reads and clears the markers a MarkerWriter wrote.
type Markers interface {
	HasMarker(ctx context.Context, key audit.Key) (bool, error)
	ClearMarker(ctx context.Context, key audit.Key) error
}

// NewChange binds a change function (and its rollback, which may be nil)
// to target t. Generated code calls it once per change.
func NewChange[H any](m Meta, t Target[H], apply, rollback func(context.Context, H) error) Change {
	return newChange(m, t, apply, rollback)
}

// NonTransactional returns a target whose changes receive h and run with
// the non-transactional strategy (a Kafka admin client, an *http.Client, an
// S3 client…).
func NonTransactional[H any](h H) Target[H] { return nonTx[H]{h: h} }

type nonTx[H any] struct{ h H }

func (nonTx[H]) Strategy(audit.Store, bool) (audit.Strategy, error) {
	return audit.StrategyNonTx, nil
}

func (t nonTx[H]) Begin(context.Context, audit.Strategy) (Work[H], error) { return t, nil }
func (t nonTx[H]) Handle() H                                          { return t.h }
func (nonTx[H]) Commit(context.Context) error                         { return nil }
func (nonTx[H]) Abort(context.Context) error                          { return nil }
