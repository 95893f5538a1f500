package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/goname"
	"github.com/flamingock/flamingock-go/internal/isnil"
)

// Meta describes a change as it was declared. flamingock-gen fills it from
// the //flamingock:change directive; hand-written stages may fill it too.
type Meta struct {
	ID     string
	Order  audit.Order
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
	// Profiles are the environments the change belongs to (profile=dev,test),
	// as declared: a name prefixed by '!' excludes the change from a runner
	// with that profile. Empty, the change runs on every runner; otherwise
	// only on a runner with matching active profiles (WithProfiles; see the
	// package documentation, "Profiles"). New refuses a name that
	// profile= would refuse.
	Profiles []string
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
	// Generated is set, instead of Changes, by code that flamingock-gen
	// writes: the changes are then built only when a run needs them.
	Generated *Generated
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

// bind checks the change declared by m against the pipeline's store and
// binds it to the strategy its target reports.
func (f *changeFunc[H]) bind(store audit.Store, m Meta) (binding, error) {
	t := f.target
	if isnil.Value(t) {
		return binding{}, fmt.Errorf("target %q is not wired: set Targets.%s", m.Target, goname.Field(m.Target))
	}
	if f.apply == nil {
		return binding{}, errors.New("apply function is nil")
	}
	s, err := t.Strategy(!m.WithoutTransaction)
	if err != nil {
		return binding{}, fmt.Errorf("target %q: %w", m.Target, err)
	}
	if m.WithoutTransaction && s.name != audit.StrategyNonTx {
		return binding{}, fmt.Errorf("target %q: change is declared transactional=false but the target chose strategy %s", m.Target, s.name)
	}
	b := binding{target: m.Target, strategy: s.name, implicit: s.implicit}
	switch {
	case s.name == audit.StrategySharedTx && !isnil.Value(s.shared):
		st := s.shared
		if st.AuditStore() != store {
			return binding{}, fmt.Errorf("target %q shares the transactions of another audit store than the pipeline's: "+
				"build it on the store given to pipeline.New", m.Target)
		}
		implicit := s.implicitShared
		b.begin = func(ctx context.Context, req BeginRequest) (unit, error) {
			w, err := st.BeginShared(ctx, req)
			if err != nil {
				return unit{}, err
			}
			u := f.unit(w.Handle(), w.Context, nil, w.Abort, w.CommitAudit, nil)
			if implicit != nil {
				u.appendStarted = func(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
					return implicit.AppendStarted(ctx, w, l, e)
				}
			}
			return u, nil
		}
	case s.name == audit.StrategySeparateTx && !isnil.Value(s.separate):
		st := s.separate
		b.markers = st
		b.begin = func(ctx context.Context, req BeginRequest) (unit, error) {
			w, err := st.BeginSeparate(ctx, req)
			if err != nil {
				return unit{}, err
			}
			return f.unit(w.Handle(), w.Context, w.Commit, w.Abort, nil, w.WriteMarker), nil
		}
	case s.name == audit.StrategyNonTx && !isnil.Value(s.nonTx):
		st := s.nonTx
		b.begin = func(ctx context.Context, req BeginRequest) (unit, error) {
			w, err := st.BeginNonTx(ctx, req)
			if err != nil {
				return unit{}, err
			}
			return f.unit(w.Handle(), w.Context, w.Commit, w.Abort, nil, nil), nil
		}
	default:
		return binding{}, fmt.Errorf("target %q: Strategy returned no strategy (build it with pipeline.SharedTx, SeparateTx or NonTx)", m.Target)
	}
	return b, nil
}

// unit binds the change's functions to a begun unit of work.
func (f *changeFunc[H]) unit(h H, bind func(context.Context) context.Context, commit, abort func(context.Context) error,
	commitAudit func(context.Context, audit.Lease, audit.Entry) (audit.Entry, error), writeMarker func(context.Context, Marker) error,
) unit {
	u := unit{
		apply:       func(ctx context.Context) error { return f.apply(bind(ctx), h) },
		commit:      commit,
		abort:       abort,
		commitAudit: commitAudit,
		writeMarker: writeMarker,
	}
	if f.rollback != nil {
		u.rollback = func(ctx context.Context) error { return f.rollback(bind(ctx), h) }
	}
	return u
}

// changeFn is a changeFunc with its handle type erased, so that the
// runner needs no type parameter.
type changeFn interface {
	bind(store audit.Store, m Meta) (binding, error)
}

// binding is a change bound to the pipeline's store and to the interface
// of its strategy.
type binding struct {
	target   string // the target's id, for messages
	strategy audit.Strategy
	// implicit says that the target's database may commit a change's
	// transaction by itself (SharedTxImplicit, SeparateTxImplicit).
	implicit bool
	markers  Markers // set for audit.StrategySeparateTx
	leaseTTL time.Duration
	begin    func(context.Context, BeginRequest) (unit, error)
}

// start begins the change's unit of work.
func (b *binding) start(ctx context.Context) (unit, error) {
	return b.begin(ctx, BeginRequest{LeaseTTL: b.leaseTTL})
}

// unit is one begun unit of work with the change's functions bound to its
// handle. What a strategy does not use is nil: commit under
// audit.StrategySharedTx, which commits with commitAudit, writeMarker
// under any strategy but audit.StrategySeparateTx, and appendStarted under
// any but SharedTxImplicit.
type unit struct {
	apply       func(context.Context) error
	rollback    func(context.Context) error // nil when none is declared
	commit      func(context.Context) error
	abort       func(context.Context) error
	commitAudit func(context.Context, audit.Lease, audit.Entry) (audit.Entry, error)
	writeMarker func(context.Context, Marker) error
	// appendStarted appends STARTED inside the unit's transaction.
	appendStarted func(context.Context, audit.Lease, audit.Entry) (audit.Entry, error)
}

// unset reports whether dependency v is one a change would fail on: nil,
// or a nil pointer, map, channel or function (a nil slice is an empty one).
func unset(v any) bool {
	return isnil.Value(v) && reflect.ValueOf(v).Kind() != reflect.Slice
}
