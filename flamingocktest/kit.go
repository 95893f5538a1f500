package flamingocktest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/digest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Operator is the operator recorded in the entries the kit writes itself
// (GivenApplied's marks, Given's entries without a runner id).
const Operator = "flamingocktest"

// Kit runs a test's pipelines against an audit store and asserts what the
// trail records. Make one with New; it is meant for one test (or subtest),
// from that test's goroutine.
type Kit struct {
	tb      testing.TB
	store   audit.Store
	sqlite  *sqlite.Store // the kit's own store; nil WithStore
	lockKey string
	opts    []pipeline.Option
	given   int // Given calls, numbering their execution ids
}

// Option configures a Kit.
type Option interface {
	apply(*Kit)
}

type optionFunc func(*Kit)

func (f optionFunc) apply(k *Kit) { f(k) }

// WithStore makes the kit use store instead of a temporary SQLite store: the
// test's own PostgreSQL or MongoDB store, a store it seeded. The kit does not
// close it. A nil store keeps the default.
func WithStore(store audit.Store) Option {
	return optionFunc(func(k *Kit) {
		if store != nil {
			k.store = store
		}
	})
}

// WithLockKey sets the pipeline's lock key (pipeline.WithLockKey), which the
// kit's runners take and under which Given writes. Empty keeps
// audit.DefaultLockKey.
func WithLockKey(key string) Option {
	return optionFunc(func(k *Kit) {
		if key != "" {
			k.lockKey = key
		}
	})
}

// WithRunnerOptions adds options to every runner the kit makes, after its
// own (a logger that writes to t.Log, the lock key): pipeline.WithEvents,
// pipeline.WithLogger to log elsewhere, pipeline.WithImport.
func WithRunnerOptions(opts ...pipeline.Option) Option {
	return optionFunc(func(k *Kit) { k.opts = append(k.opts, opts...) })
}

// New returns a Kit for tb. Without WithStore it opens a temporary SQLite
// audit store, closed when the test ends; it fails the test when it cannot.
func New(tb testing.TB, opts ...Option) *Kit {
	tb.Helper()
	k := &Kit{tb: tb, lockKey: audit.DefaultLockKey}
	for _, o := range opts {
		if o != nil {
			o.apply(k)
		}
	}
	if k.store == nil {
		path := filepath.Join(tb.TempDir(), "flamingock.db")
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			tb.Fatalf("flamingocktest: open a temporary SQLite store: %v", err)
		}
		tb.Cleanup(func() {
			if err := s.Close(); err != nil {
				tb.Errorf("flamingocktest: close the temporary SQLite store: %v", err)
			}
		})
		k.store, k.sqlite = s, s
	}
	return k
}

// check panics on a Kit not made by New, which has no test to report to.
func (k *Kit) check() {
	if k == nil || k.tb == nil {
		panic("flamingocktest: a Kit is made by flamingocktest.New(t)")
	}
}

// Store is the kit's audit store.
func (k *Kit) Store() audit.Store {
	k.check()
	return k.store
}

// SQLite is the kit's temporary SQLite store, for the targets that share its
// transactions (sqltarget.Shared(k.SQLite())) and for the test's own queries
// (k.SQLite().DB()). It fails the test on a kit given another store.
func (k *Kit) SQLite() *sqlite.Store {
	k.check()
	k.tb.Helper()
	if k.sqlite == nil {
		k.tb.Fatalf("flamingocktest: SQLite: the kit runs on the store WithStore gave it (%T), not a temporary SQLite store", k.store)
	}
	return k.sqlite
}

// ctx is the test's context: cancelled when the test ends.
func (k *Kit) ctx() context.Context { return k.tb.Context() }

// Runner returns a runner of stages on the kit's store with the kit's
// options, for what the kit has no method for (Plan, Validate, RollbackTo,
// Baseline). It fails the test when pipeline.New refuses the pipeline.
func (k *Kit) Runner(stages ...pipeline.Stage) *pipeline.Runner {
	k.check()
	k.tb.Helper()
	opts := append([]pipeline.Option{
		pipeline.WithLogger(slog.New(slog.NewTextHandler(tbWriter{k.tb}, &slog.HandlerOptions{ReplaceAttr: dropTime}))),
		pipeline.WithLockKey(k.lockKey),
	}, k.opts...)
	r, err := pipeline.New(k.store, stages, opts...)
	if err != nil {
		k.tb.Fatalf("flamingocktest: %v", err)
	}
	return r
}

// Run runs stages, as the application does at start-up, and returns what the
// run did. It fails the test, showing the trail, when the run returns an
// error; a test that expects one calls TryRun.
func (k *Kit) Run(stages ...pipeline.Stage) *pipeline.Result {
	k.check()
	k.tb.Helper()
	res, err := k.Runner(stages...).Run(k.ctx())
	if err != nil {
		k.tb.Fatalf("flamingocktest: run: %v\n%s", err, k.table())
	}
	return res
}

// TryRun runs stages and returns what Run returns, for a test whose run
// should stop: errors.Is(err, pipeline.ErrManualInterventionRequired) for an
// issue, pipeline.ErrChangeFailed for a failed change. The Result is never
// nil.
func (k *Kit) TryRun(stages ...pipeline.Stage) (*pipeline.Result, error) {
	k.check()
	k.tb.Helper()
	return k.Runner(stages...).Run(k.ctx())
}

// RunOne runs change id of stage alone, and returns what the run did. Every
// change before it must be applied in the trail (given with GivenApplied, or
// applied by an earlier run): RunOne never runs a change out of order, nor
// one the test did not ask for, so it fails the test before running anything
// when one is not, naming it. Through(stage, id) runs them first instead.
func (k *Kit) RunOne(stage pipeline.Stage, id string) *pipeline.Result {
	k.check()
	k.tb.Helper()
	cut := k.Through(stage, id)
	p, err := k.Runner(cut).Plan(k.ctx())
	if err != nil {
		k.tb.Fatalf("flamingocktest: RunOne(%q): plan: %v\n%s", id, err, k.table())
	}
	var before []string
	for _, c := range p.Changes[:len(p.Changes)-1] {
		if c.Action != pipeline.ActionSkip {
			before = append(before, fmt.Sprintf("%q (%s: %s)", c.ChangeID, c.Action, c.Reason))
		}
	}
	if len(before) > 0 {
		k.tb.Fatalf("flamingocktest: RunOne(%q): change %s comes before it and is not applied: "+
			"give it as applied (GivenApplied) or run it first (Run(k.Through(stage, %q)))\n%s",
			id, strings.Join(before, ", "), id, k.table())
	}
	return k.Run(cut)
}

// Through returns stage cut after change id: its changes up to and
// including id, with its dependencies. Run runs the changes before id
// first, unless the trail has them applied; the changes after id are not
// in the pipeline, as if they had not been written yet. It fails the test
// when stage has no change id.
func (k *Kit) Through(stage pipeline.Stage, id string) pipeline.Stage {
	k.check()
	k.tb.Helper()
	changes := k.changesOf(stage)
	i := slices.IndexFunc(changes, func(c pipeline.Change) bool { return c.Meta().ID == id })
	if i < 0 {
		k.tb.Fatalf("flamingocktest: stage %q has no change %q (it has %s)", stage.Name, id, idsOf(changes))
	}
	return pipeline.Stage{Name: stage.Name, Changes: changes[: i+1 : i+1], Deps: stage.Deps}
}

// changesOf returns the changes of stage, built, as a runner builds them: a
// generated stage whose changes are not what its generated file says (it
// was edited by hand) fails the test, as it fails a run.
func (k *Kit) changesOf(stage pipeline.Stage) []pipeline.Change {
	k.tb.Helper()
	g := stage.Generated
	if g == nil {
		return stage.Changes
	}
	if g.Changes == nil {
		k.tb.Fatalf("flamingocktest: stage %q: Generated has no Changes: run go generate", stage.Name)
	}
	changes := g.Changes()
	d := digest.NewStage()
	for _, c := range changes {
		d.Add(c.Meta().ID, c.Meta().Checksum)
	}
	if sum := d.Sum(); len(changes) != g.Len || sum != g.Digest {
		k.tb.Fatalf("flamingocktest: stage %q: its generated file says %d changes of digest %s, and builds %d of digest %s: "+
			"it was edited by hand; run go generate", stage.Name, g.Len, g.Digest, len(changes), sum)
	}
	return changes
}

// GivenApplied records changes ids of stage as applied before the test
// runs anything, without running them: the runtime marks each
// MANUAL_MARKED_AS_APPLIED (Runner.Baseline on the stage cut to these
// changes), operator "flamingocktest", with the strategy of its target and
// the checksum of its code, under the pipeline's lock. Without ids, every
// change of the stage is given (a stage released before). A change that
// already has an entry is left alone when it is applied, and fails the test
// otherwise.
//
// The target systems are not touched: when the changes that run next need
// what a given change made (a table), the test makes it too.
func (k *Kit) GivenApplied(stage pipeline.Stage, ids ...string) {
	k.check()
	k.tb.Helper()
	changes := k.changesOf(stage)
	picked := changes
	if len(ids) > 0 {
		picked = nil
		var unknown []string
		for _, id := range ids {
			if !slices.ContainsFunc(changes, func(c pipeline.Change) bool { return c.Meta().ID == id }) {
				unknown = append(unknown, fmt.Sprintf("%q", id))
			}
		}
		if len(unknown) > 0 {
			k.tb.Fatalf("flamingocktest: GivenApplied: stage %q has no change %s (it has %s)", stage.Name, strings.Join(unknown, ", "), idsOf(changes))
		}
		for _, c := range changes { // in the stage's order, whatever the order of ids
			if slices.Contains(ids, c.Meta().ID) {
				picked = append(picked, c)
			}
		}
	}
	if len(picked) == 0 {
		return
	}
	sub := pipeline.Stage{Name: stage.Name, Changes: picked, Deps: stage.Deps}
	last := picked[len(picked)-1].Meta().ID
	if _, err := k.Runner(sub).Baseline(k.ctx(), last, Operator, "given applied by "+k.tb.Name()); err != nil {
		k.tb.Fatalf("flamingocktest: GivenApplied: %v\n%s", err, k.table())
	}
}

// Given appends entries to the trail, in order, as a runner that ran
// before the test would have: under a lease of the pipeline's lock, through
// the store's Append, which validates them. A zero ExecutionID, Time, Host,
// RunnerID or Recovery is filled in (one execution id per call, the time
// now, host and runner "flamingocktest", recovery MANUAL); Strategy must be
// set, since it decides what the next run does with a STARTED or FAILED
// change, and the kit will not guess how a change ran.
//
//	k.Given(audit.Entry{Stage: "changes", ChangeID: "enable-signup",
//		State: audit.StateStarted, Strategy: audit.StrategyNonTx}) // a runner died inside it
//
// Order, Author, TargetID and Checksum may stay zero: no decision reads them
// (an APPLIED entry without a checksum is never a drift). The test fails
// when the lock is held or the store refuses an entry; the entries before
// it stay appended.
func (k *Kit) Given(entries ...audit.Entry) {
	k.check()
	k.tb.Helper()
	for i, e := range entries {
		if !e.Strategy.Valid() {
			k.tb.Fatalf("flamingocktest: Given: entry #%d (change %q, %s): strategy %q: set Strategy to how the change ran "+
				"(audit.StrategySharedTx, StrategySeparateTx or StrategyNonTx); it decides what the next run does", i+1, e.ChangeID, e.State, e.Strategy)
		}
	}
	if len(entries) == 0 {
		return
	}
	ctx := k.ctx()
	lease, err := k.store.Acquire(ctx, k.lockKey, Operator, time.Minute)
	if err != nil {
		k.tb.Fatalf("flamingocktest: Given: take the lock %q: %v", k.lockKey, err)
	}
	defer func() {
		if err := k.store.Release(context.WithoutCancel(ctx), lease); err != nil {
			k.tb.Errorf("flamingocktest: Given: release the lock %q: %v", k.lockKey, err)
		}
	}()
	k.given++
	exec := fmt.Sprintf("flamingocktest-given-%d", k.given)
	now := time.Now().UTC()
	for i, e := range entries {
		if e.ExecutionID == "" {
			e.ExecutionID = exec
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		if e.Host == "" {
			e.Host = Operator
		}
		if e.RunnerID == "" {
			e.RunnerID = Operator
		}
		if e.Recovery == "" {
			e.Recovery = audit.RecoveryManual
		}
		if _, err := k.store.Append(ctx, lease, e); err != nil {
			k.tb.Fatalf("flamingocktest: Given: entry #%d (change %q, %s): the store refused it: %v", i+1, e.ChangeID, e.State, err)
		}
	}
}

// idsOf names the changes of a stage, for messages.
func idsOf(changes []pipeline.Change) string {
	if len(changes) == 0 {
		return "none"
	}
	q := make([]string, len(changes))
	for i, c := range changes {
		q[i] = fmt.Sprintf("%q", c.Meta().ID)
	}
	return strings.Join(q, ", ")
}

// tbWriter writes the runner's log lines to the test's log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// dropTime leaves the time out of the runner's log lines: t.Log says when.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
