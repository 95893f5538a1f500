package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/goname"
)

// Meta describes a change as it was declared. flamingock-gen fills it from
// the //flamingock:change directive; hand-written stages may fill it too.
type Meta struct {
	ID     string
	Order  int64
	Author string
	// Target is the target id of the directive (target=…).
	Target string
	// Recovery is what the next run does when this change's outcome is
	// uncertain. Empty means audit.RecoveryManual.
	Recovery audit.Recovery
	// WithoutTransaction is true when the change was declared
	// transactional=false: it then runs without a target transaction, with
	// STARTED/APPLIED guarding it, even on a transactional target. The zero
	// value runs the change as its target does, in a transaction where the
	// target has them.
	WithoutTransaction bool
	// Compensate asks for the rollback to run right after the change fails
	// without a transaction (non-transactional strategy), to compensate
	// what it partly did: ROLLED_BACK or ROLLBACK_FAILED is then recorded
	// after FAILED. Without it a rollback is an undo, for a change that was
	// fully applied, run only by RollbackTo: an undo run on a half-applied
	// change can destroy data (a "down" migration dropping a column that the
	// failed "up" never finished adding). New refuses Compensate without a
	// rollback.
	Compensate bool
	// Checksum is a digest of what the change executes: its normalized
	// source and the files it embeds.
	Checksum string
	// Equivalent lists the checksums of earlier versions of the change
	// that its ledger records as cosmetic edits (flamingock-gen -cosmetic):
	// a change applied under one of them is not reported as changed.
	Equivalent []string
	// Source is where the change is declared, as file:line.
	Source string
}

// recovery returns the declared recovery with its default applied.
func (m Meta) recovery() audit.Recovery {
	if m.Recovery == "" {
		return audit.RecoveryManual
	}
	return m.Recovery
}

// Change is a declared change bound to its target. Build one with NewChange.
type Change struct {
	meta        Meta
	hasRollback bool
	fn          changeFn // nil unless built by NewChange
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
	// Deps are the dependencies the changes receive, as generated code
	// passes them from its Deps struct, so that New reports one left unset
	// before anything runs instead of a change failing on a nil pointer.
	Deps []Dep
}

// Dep is one dependency that changes of a stage receive.
type Dep struct {
	// Name says where it is set, as Deps.Logger.
	Name string
	// Value is the dependency. New refuses a nil pointer, interface, map,
	// channel or function.
	Value any
	// Changes are the ids of the changes that receive it.
	Changes []string
}

// Target is a system that changes modify. H is the handle each change
// receives: *sql.Tx for a database/sql target (package sqltarget), or any
// value for a target without transactions (NonTransactional).
type Target[H any] interface {
	// Strategy reports how a change on this target is executed, given the
	// pipeline's audit store and whether the change was declared
	// transactional. An error means this target cannot run such a change;
	// New reports it before anything runs.
	Strategy(store audit.Store, transactional bool) (audit.Strategy, error)
	// Begin starts one change's unit of work under req.Strategy, the value
	// Strategy returned for req.Store.
	Begin(ctx context.Context, req BeginRequest) (Work[H], error)
}

// BeginRequest is what a Target needs to start one change's unit of work.
type BeginRequest struct {
	Store    audit.Store
	Strategy audit.Strategy
	// LeaseTTL is the runner's lease. A target whose transactions hold
	// locks should have the server end a transaction left idle longer than
	// this: its runner was paused or cut off past its lease, the lock may
	// have moved to another runner, and that runner must not wait forever on
	// the locks of a transaction that can no longer commit anything.
	LeaseTTL time.Duration
}

// Work is one change's unit of work on its target.
//
// Under audit.StrategySharedTx a Work must also implement AuditAppender;
// under audit.StrategySeparateTx it must implement MarkerWriter and its
// Target must implement Markers. A Work whose operations join it through
// the context (a MongoDB session) implements ContextBinder.
type Work[H any] interface {
	// Handle is what the change function receives.
	Handle() H
	// Commit makes the work durable (commits the transaction, if any).
	Commit(ctx context.Context) error
	// Abort discards the work (rolls back the transaction, if any). It is
	// called at most once, and never after Commit.
	Abort(ctx context.Context) error
}

// AuditAppender is implemented by the Work of a target that shares its
// transaction with the audit store: the APPLIED entry is appended inside
// the change's transaction, so both commit or neither does. The runner
// then ends the work with CommitAudit, never with Commit.
type AuditAppender interface {
	// CommitAudit appends e under lease inside the work's transaction and
	// commits the work, and returns e as stored. When the lease no longer
	// holds the lock it fails with an error matching audit.ErrFenced and
	// commits nothing. After any other error the work may or may not have
	// committed: the audit trail tells, since it holds e if and only if the
	// work committed. The runner calls Abort after every error of
	// CommitAudit, never after its success: Abort must be harmless
	// whatever the commit did.
	CommitAudit(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error)
}

// ContextBinder is implemented by the Work of a target whose client ties
// operations to the unit of work through the context rather than through
// the handle, as MongoDB's driver does with sessions: the change and its
// rollback receive the context BindContext returns, derived from the run's,
// and must run their operations with it.
type ContextBinder interface {
	BindContext(ctx context.Context) context.Context
}

// Marker identifies one execution of one change in a target that runs
// changes in a transaction of its own.
type Marker struct {
	Key audit.Key
	// ExecutionID is the run whose STARTED entry the marker answers. A
	// marker left behind by another execution proves nothing about this one.
	ExecutionID string
}

// MarkerWriter is implemented by the Work of a target that runs changes in
// a transaction of its own: the marker commits with the change, so that
// after a crash the marker tells whether the change committed.
type MarkerWriter interface {
	// WriteMarker records m inside the work's transaction, replacing any
	// marker of the same key.
	WriteMarker(ctx context.Context, m Marker) error
}

// Markers reads and clears the markers a MarkerWriter wrote.
type Markers interface {
	// HasMarker reports whether the marker of m.Key was written by
	// m.ExecutionID and committed. It must not change the target's data.
	HasMarker(ctx context.Context, m Marker) (bool, error)
	// ClearMarker deletes the marker of key, if any.
	ClearMarker(ctx context.Context, key audit.Key) error
}

// NewChange binds a change function (and its rollback, which may be nil)
// to target t. Generated code calls it once per change; New reports a nil
// target or function.
func NewChange[H any](m Meta, t Target[H], apply, rollback func(context.Context, H) error) Change {
	return Change{meta: m, hasRollback: rollback != nil, fn: &changeFunc[H]{target: t, apply: apply, rollback: rollback}}
}

// changeFunc is a change's target and functions, with their handle type.
type changeFunc[H any] struct {
	target          Target[H]
	apply, rollback func(context.Context, H) error
}

// bind checks the change declared by m against store and decides its
// strategy.
func (f *changeFunc[H]) bind(store audit.Store, m Meta) (audit.Strategy, Markers, error) {
	t := f.target
	if isNil(t) {
		return "", nil, fmt.Errorf("target %q of change %q is not wired: set Targets.%s", m.Target, m.ID, goname.Field(m.Target))
	}
	if f.apply == nil {
		return "", nil, errors.New("apply function is nil")
	}
	s, err := t.Strategy(store, !m.WithoutTransaction)
	if err != nil {
		return "", nil, fmt.Errorf("target %q: %w", m.Target, err)
	}
	var markers Markers
	switch s {
	case audit.StrategySharedTx, audit.StrategyNonTx:
	case audit.StrategySeparateTx:
		mk, ok := t.(Markers)
		if !ok {
			return "", nil, fmt.Errorf("target %q: strategy %s needs a target that implements pipeline.Markers (%T does not)", m.Target, s, t)
		}
		markers = mk
	default:
		return "", nil, fmt.Errorf("target %q: unknown strategy %q", m.Target, s)
	}
	if m.WithoutTransaction && s != audit.StrategyNonTx {
		return "", nil, fmt.Errorf("target %q: change is declared transactional=false but the target chose strategy %s", m.Target, s)
	}
	return s, markers, nil
}

// begin starts the change's unit of work.
func (f *changeFunc[H]) begin(ctx context.Context, req BeginRequest) (unit, error) {
	w, err := f.target.Begin(ctx, req)
	if err != nil {
		return unit{}, err
	}
	bind := func(ctx context.Context) context.Context { return ctx }
	if cb, ok := w.(ContextBinder); ok {
		bind = cb.BindContext
	}
	u := unit{
		work:  w,
		apply: func(ctx context.Context) error { return f.apply(bind(ctx), w.Handle()) },
	}
	if f.rollback != nil {
		u.rollback = func(ctx context.Context) error { return f.rollback(bind(ctx), w.Handle()) }
	}
	u.appender, _ = w.(AuditAppender)
	u.marker, _ = w.(MarkerWriter)
	return u, nil
}

// changeFn is a changeFunc with its handle type erased, so that the
// runner needs no type parameter.
type changeFn interface {
	bind(store audit.Store, m Meta) (audit.Strategy, Markers, error)
	begin(ctx context.Context, req BeginRequest) (unit, error)
}

// binding is a change bound to the pipeline's store.
type binding struct {
	target   string // the target's id, for messages
	strategy audit.Strategy
	markers  Markers // set for audit.StrategySeparateTx
	leaseTTL time.Duration
	fn       changeFn
}

// begin starts the change's unit of work under its strategy. A Work that
// lacks what the strategy needs of it (AuditAppender for a shared
// transaction, MarkerWriter for a separate one) is aborted and refused:
// its target chose a strategy it cannot carry out.
func (b *binding) begin(ctx context.Context, store audit.Store) (unit, error) {
	u, err := b.fn.begin(ctx, BeginRequest{Store: store, Strategy: b.strategy, LeaseTTL: b.leaseTTL})
	if err != nil {
		return unit{}, err
	}
	var need string
	switch {
	case b.strategy == audit.StrategySharedTx && u.appender == nil:
		need = "pipeline.AuditAppender"
	case b.strategy == audit.StrategySeparateTx && u.marker == nil:
		need = "pipeline.MarkerWriter"
	default:
		return u, nil
	}
	err = fmt.Errorf("target %q: its work does not implement %s, which strategy %s needs", b.target, need, b.strategy)
	if aerr := u.work.Abort(ctx); aerr != nil {
		err = errors.Join(err, fmt.Errorf("abort: %w", aerr))
	}
	return unit{}, err
}

// unit is one begun Work with the change's functions bound to its handle.
type unit struct {
	work interface {
		Commit(context.Context) error
		Abort(context.Context) error
	}
	apply    func(context.Context) error
	rollback func(context.Context) error // nil when none is declared
	appender AuditAppender               // nil unless the Work shares the audit transaction
	marker   MarkerWriter                // nil unless the Work writes markers
}

// isNil reports whether t is a nil interface or holds a nil pointer, map,
// func…: a Targets field left unset may be either.
func isNil(t any) bool {
	if t == nil {
		return true
	}
	v := reflect.ValueOf(t)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// unset reports whether dependency v is one a change would fail on: nil,
// or a nil pointer, map, channel or function (a nil slice is an empty one).
func unset(v any) bool {
	return isNil(v) && reflect.ValueOf(v).Kind() != reflect.Slice
}

// NonTransactional returns a target whose changes receive h and run with
// the non-transactional strategy (a Kafka admin client, an *http.Client, an
// S3 client…).
func NonTransactional[H any](h H) Target[H] { return nonTx[H]{h: h} }

type nonTx[H any] struct{ h H }

func (nonTx[H]) Strategy(audit.Store, bool) (audit.Strategy, error) {
	return audit.StrategyNonTx, nil
}

func (t nonTx[H]) Begin(context.Context, BeginRequest) (Work[H], error) {
	return t, nil
}
func (t nonTx[H]) Handle() H                  { return t.h }
func (nonTx[H]) Commit(context.Context) error { return nil }
func (nonTx[H]) Abort(context.Context) error  { return nil }
