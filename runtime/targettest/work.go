package targettest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// work is one begun unit of work of any strategy, as the generic tests
// drive it.
type work[H any] struct {
	handle  func() H
	context func(context.Context) context.Context
	// commit makes the work durable: Commit, or, in a shared transaction,
	// CommitAudit of an APPLIED entry under a lease of the fixture's store.
	commit func(context.Context) error
	abort  func(context.Context) error
}

// begin begins a unit of work of fx's strategy st, aborted at the end of
// the test unless it was committed or aborted.
func begin[H any](t *testing.T, fx Fixture[H], st audit.Strategy, transactional bool) work[H] {
	t.Helper()
	ctx := t.Context()
	var w work[H]
	switch st {
	case audit.StrategySharedTx:
		lease := acquire(t, fx.Store, owner, longTTL)
		sw, err := sharedTarget(t, fx, transactional).BeginShared(ctx, pipeline.BeginRequest{LeaseTTL: longTTL})
		if err != nil {
			t.Fatalf("BeginShared: %v", err)
		}
		w = work[H]{handle: sw.Handle, context: sw.Context, abort: sw.Abort,
			commit: func(ctx context.Context) error {
				_, err := sw.CommitAudit(ctx, lease, entry("work", audit.StrategySharedTx))
				return err
			}}
	case audit.StrategySeparateTx:
		mw, err := separateTarget(t, fx, transactional).BeginSeparate(ctx, pipeline.BeginRequest{LeaseTTL: longTTL})
		if err != nil {
			t.Fatalf("BeginSeparate: %v", err)
		}
		w = work[H]{handle: mw.Handle, context: mw.Context, commit: mw.Commit, abort: mw.Abort}
	default:
		nw, err := nonTxTarget(t, fx, transactional).BeginNonTx(ctx, pipeline.BeginRequest{LeaseTTL: longTTL})
		if err != nil {
			t.Fatalf("BeginNonTx: %v", err)
		}
		w = work[H]{handle: nw.Handle, context: nw.Context, commit: nw.Commit, abort: nw.Abort}
	}
	done := false
	abortAtEnd(t, w.abort, &done)
	commit, abort := w.commit, w.abort
	w.commit = func(ctx context.Context) error { done = true; return commit(ctx) }
	w.abort = func(ctx context.Context) error { done = true; return abort(ctx) }
	return w
}

// acquire takes the suite's lock key in store.
func acquire(t *testing.T, store audit.Store, owner string, ttl time.Duration) audit.Lease {
	t.Helper()
	l, err := store.Acquire(t.Context(), lockKey, owner, ttl)
	if err != nil {
		t.Fatalf("acquire %q for %s: %v", lockKey, owner, err)
	}
	return l
}

// entry is an APPLIED entry of change id, as the runner appends in a
// shared transaction.
func entry(id string, st audit.Strategy) audit.Entry {
	return audit.Entry{
		ExecutionID: "targettest-exec",
		Stage:       stage,
		ChangeID:    id,
		Order:       audit.OrderOf(1),
		Author:      "targettest",
		State:       audit.StateApplied,
		Time:        time.Now().UTC().Truncate(time.Millisecond),
		Strategy:    st,
		Recovery:    audit.RecoveryManual,
	}
}

type ctxKey struct{}

func (s *suite[H]) testContext(t *testing.T, st audit.Strategy, transactional bool) {
	fx := s.fixture(t)
	w := begin(t, fx, st, transactional)
	parent, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "carried"))
	defer cancel()
	ctx := w.context(parent)
	if ctx == nil {
		t.Fatal("Context returned nil")
	}
	if got, _ := ctx.Value(ctxKey{}).(string); got != "carried" {
		t.Errorf("a value of ctx is %q in the work's Context, want %q: it must derive from ctx", got, "carried")
	}
	if ctx.Err() != nil {
		t.Errorf("the work's Context is done before ctx is: %v", ctx.Err())
	}
	cancel()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Error("the work's Context is not done 5s after ctx was cancelled")
	}
	if err := w.abort(t.Context()); err != nil {
		t.Errorf("abort: %v", err)
	}
}

func (s *suite[H]) testHandle(t *testing.T, st audit.Strategy, transactional bool) {
	fx := s.fixture(t)
	w := begin(t, fx, st, transactional)
	h1, h2 := w.handle(), w.handle()
	if v := reflect.ValueOf(&h1).Elem(); v.Kind() == reflect.Interface && v.IsNil() {
		t.Fatal("Handle returned nil")
	}
	if isComparable(h1) && any(h1) != any(h2) {
		t.Errorf("Handle returned %v, then %v: a change and its unit of work must see one handle", h1, h2)
	}
	ctx := w.context(t.Context())
	if err := fx.Apply(ctx, h1, "e1"); err != nil {
		t.Fatalf("apply through Handle: %v", err)
	}
	if err := w.commit(t.Context()); err != nil {
		t.Fatalf("commit: %v", err)
	}
	wantEffect(t, fx, "e1", true, "after committing a work whose handle made it")
}

// isComparable reports whether h can be compared with == without a panic.
func isComparable(h any) bool {
	return h != nil && reflect.TypeOf(h).Comparable()
}

// applyIn applies effect id through w.
func applyIn[H any](t *testing.T, fx Fixture[H], w work[H], id string) {
	t.Helper()
	if err := fx.Apply(w.context(t.Context()), w.handle(), id); err != nil {
		t.Fatalf("apply %q: %v", id, err)
	}
}

func (s *suite[H]) testSeparateCommit(t *testing.T, transactional bool) {
	fx := s.fixture(t)
	w := begin(t, fx, audit.StrategySeparateTx, transactional)
	applyIn(t, fx, w, "e1")
	if err := w.commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	wantEffect(t, fx, "e1", true, "after Commit")
}

func (s *suite[H]) testSeparateAbort(t *testing.T, transactional bool) {
	fx := s.fixture(t)
	w := begin(t, fx, audit.StrategySeparateTx, transactional)
	applyIn(t, fx, w, "e1")
	if err := w.abort(t.Context()); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantEffect(t, fx, "e1", false, "after Abort")
}

func (s *suite[H]) testNonTxCommit(t *testing.T, transactional bool) {
	fx := s.fixture(t)
	w := begin(t, fx, audit.StrategyNonTx, transactional)
	applyIn(t, fx, w, "e1")
	if err := w.commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	wantEffect(t, fx, "e1", true, "after Commit")
}

// markers drives the markers of a SeparateTxTarget for one change.
type markers[H any] struct {
	t  *testing.T
	fx Fixture[H]
	tg pipeline.SeparateTxTarget[H]
}

var (
	markerKey   = audit.Key{Stage: stage, ChangeID: "c1"}
	firstExec   = pipeline.Marker{Key: markerKey, ExecutionID: "exec-1"}
	secondExec  = pipeline.Marker{Key: markerKey, ExecutionID: "exec-2"}
	otherChange = pipeline.Marker{Key: audit.Key{Stage: stage, ChangeID: "c2"}, ExecutionID: "exec-1"}
)

func (s *suite[H]) markers(t *testing.T, transactional bool) markers[H] {
	fx := s.fixture(t)
	return markers[H]{t: t, fx: fx, tg: separateTarget(t, fx, transactional)}
}

func (m markers[H]) has(mk pipeline.Marker) bool {
	m.t.Helper()
	ok, err := m.tg.HasMarker(m.t.Context(), mk)
	if err != nil {
		m.t.Fatalf("HasMarker(%s): %v", mk.ExecutionID, err)
	}
	return ok
}

// write writes mk in a work of its own, with effect, if not empty, and
// commits or aborts it.
func (m markers[H]) write(mk pipeline.Marker, effect string, commit bool) {
	m.t.Helper()
	ctx := m.t.Context()
	w, err := m.tg.BeginSeparate(ctx, pipeline.BeginRequest{LeaseTTL: longTTL})
	if err != nil {
		m.t.Fatalf("BeginSeparate: %v", err)
	}
	done := false
	abortAtEnd(m.t, w.Abort, &done)
	if effect != "" {
		if err := m.fx.Apply(w.Context(ctx), w.Handle(), effect); err != nil {
			m.t.Fatalf("apply %q: %v", effect, err)
		}
	}
	if err := w.WriteMarker(w.Context(ctx), mk); err != nil {
		m.t.Fatalf("WriteMarker(%s): %v", mk.ExecutionID, err)
	}
	done = true
	if commit {
		err = w.Commit(ctx)
	} else {
		err = w.Abort(ctx)
	}
	if err != nil {
		m.t.Fatalf("end the work of marker %s: %v", mk.ExecutionID, err)
	}
}

// want fails the test unless exactly the markers of found are found among
// firstExec and secondExec.
func (m markers[H]) want(when string, found ...pipeline.Marker) {
	m.t.Helper()
	for _, mk := range []pipeline.Marker{firstExec, secondExec} {
		w := slices.Contains(found, mk)
		if got := m.has(mk); got != w {
			m.t.Errorf("%s: HasMarker(%s) = %v, want %v", when, mk.ExecutionID, got, w)
		}
	}
}

func (s *suite[H]) testMarkerCommitted(t *testing.T, transactional bool) {
	m := s.markers(t, transactional)
	m.want("before any marker was written")
	m.write(firstExec, "e1", false)
	m.want("after aborting exec-1's marker")
	wantEffect(t, m.fx, "e1", false, "after aborting the work of exec-1's marker")
	m.write(firstExec, "e1", true)
	m.want("after committing exec-1's marker", firstExec)
	wantEffect(t, m.fx, "e1", true, "after committing the work of exec-1's marker")
}

func (s *suite[H]) testMarkerOwnExecution(t *testing.T, transactional bool) {
	m := s.markers(t, transactional)
	m.write(firstExec, "", true)
	m.want("after committing exec-1's marker", firstExec)
	if m.has(otherChange) {
		t.Errorf("after committing exec-1's marker of change %s: HasMarker finds one for change %s",
			firstExec.Key.ChangeID, otherChange.Key.ChangeID)
	}
	m.write(secondExec, "", false)
	m.want("after aborting exec-2's marker", firstExec)
}

func (s *suite[H]) testMarkerReplaced(t *testing.T, transactional bool) {
	m := s.markers(t, transactional)
	m.write(firstExec, "", true)
	m.write(secondExec, "", true)
	m.want("after committing exec-1's marker, then exec-2's", secondExec)
}

func (s *suite[H]) testMarkerCleared(t *testing.T, transactional bool) {
	m := s.markers(t, transactional)
	m.write(firstExec, "", true)
	if err := m.tg.ClearMarker(t.Context(), markerKey); err != nil {
		t.Fatalf("ClearMarker: %v", err)
	}
	m.want("after ClearMarker")
	// Clearing what is not there is no error: the runner clears after
	// every separate transaction, and again on recovery.
	if err := m.tg.ClearMarker(t.Context(), markerKey); err != nil {
		t.Errorf("ClearMarker of a key without a marker: %v", err)
	}
}

func (s *suite[H]) testHasMarkerReadOnly(t *testing.T, transactional bool) {
	m := s.markers(t, transactional)
	m.has(secondExec) // on a target that never wrote a marker
	m.write(firstExec, "e1", true)
	for range 3 {
		m.has(secondExec)
		m.has(otherChange)
		m.has(firstExec)
	}
	m.want("after HasMarker was asked of other executions and changes", firstExec)
	if m.has(otherChange) {
		t.Errorf("HasMarker(%s of change %s) is true after being asked", otherChange.ExecutionID, otherChange.Key.ChangeID)
	}
	wantEffect(t, m.fx, "e1", true, "after HasMarker was asked")
}

func (s *suite[H]) testAuditStore(t *testing.T, transactional bool) {
	fx := s.fixture(t)
	got := sharedTarget(t, fx, transactional).AuditStore()
	if got != fx.Store {
		t.Errorf("AuditStore() = %v, want the fixture's store %v: pipeline.New refuses the target on any other", got, fx.Store)
	}
}

// sharedWork begins a shared transaction of fx, aborted at the end of the
// test on a failure.
func sharedWork[H any](t *testing.T, fx Fixture[H], transactional bool) pipeline.SharedWork[H] {
	t.Helper()
	w, err := sharedTarget(t, fx, transactional).BeginShared(t.Context(), pipeline.BeginRequest{LeaseTTL: longTTL})
	if err != nil {
		t.Fatalf("BeginShared: %v", err)
	}
	t.Cleanup(func() { w.Abort(context.Background()) }) // harmless after CommitAudit, as the contract says
	return w
}

func (s *suite[H]) testCommitAudit(t *testing.T, transactional bool) {
	fx := s.fixture(t)
	lease := acquire(t, fx.Store, owner, longTTL)
	w := sharedWork(t, fx, transactional)
	if err := fx.Apply(w.Context(t.Context()), w.Handle(), "e1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	stored, err := w.CommitAudit(t.Context(), lease, entry("e1", audit.StrategySharedTx))
	if err != nil {
		t.Fatalf("CommitAudit: %v", err)
	}
	if stored.Seq < 1 {
		t.Errorf("CommitAudit returned the entry with seq %d, want the store's", stored.Seq)
	}
	wantEffect(t, fx, "e1", true, "after CommitAudit")
	es := history(t, fx, "e1")
	if len(es) != 1 || es[0].State != audit.StateApplied || es[0].Seq != stored.Seq {
		t.Errorf("after CommitAudit the trail holds %v of the change (seqs %v), want its APPLIED entry at seq %d",
			states(es), seqsOf(es), stored.Seq)
	}
}

func (s *suite[H]) testSharedAbort(t *testing.T, transactional bool) {
	fx := s.fixture(t)
	w := sharedWork(t, fx, transactional)
	if err := fx.Apply(w.Context(t.Context()), w.Handle(), "e1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if err := w.Abort(t.Context()); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantEffect(t, fx, "e1", false, "after Abort")
	if es := history(t, fx, "e1"); len(es) != 0 {
		t.Errorf("after Abort the trail holds %v of the change, want nothing", states(es))
	}
}

func (s *suite[H]) testAbortAfterCommitAudit(t *testing.T, transactional bool) {
	fx := s.fixture(t)
	lease := acquire(t, fx.Store, owner, longTTL)
	w := sharedWork(t, fx, transactional)
	if err := fx.Apply(w.Context(t.Context()), w.Handle(), "e1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if _, err := w.CommitAudit(t.Context(), lease, entry("e1", audit.StrategySharedTx)); err != nil {
		t.Fatalf("CommitAudit: %v", err)
	}
	if err := w.Abort(t.Context()); err != nil {
		t.Errorf("Abort after a successful CommitAudit: %v", err)
	}
	wantEffect(t, fx, "e1", true, "after CommitAudit, then Abort")
	if es := history(t, fx, "e1"); len(es) != 1 {
		t.Errorf("after CommitAudit, then Abort, the trail holds %v of the change, want its APPLIED entry", states(es))
	}
}

// fence makes a lease of store no longer hold the lock, and returns it.
type fence func(t *testing.T, store audit.Store) audit.Lease

func forceRelease(t *testing.T, store audit.Store) audit.Lease {
	t.Helper()
	l := acquire(t, store, owner, longTTL)
	if _, err := store.ForceRelease(t.Context(), lockKey, "targettest-operator"); err != nil {
		t.Fatalf("force release: %v", err)
	}
	return l
}

func takeOver(t *testing.T, store audit.Store) audit.Lease {
	t.Helper()
	l := acquire(t, store, owner, shortTTL)
	deadline := time.Now().Add(expiryBound)
	for {
		info, err := store.Lock(t.Context(), lockKey)
		if err != nil {
			t.Fatalf("lock %q: %v", lockKey, err)
		}
		if !info.Held() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock %q still held %s after its lease should have expired", lockKey, expiryBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
	acquire(t, store, "targettest-other-runner", longTTL)
	return l
}

func (s *suite[H]) testFenced(t *testing.T, transactional bool, fenced fence) {
	fx := s.fixture(t)
	sharedTarget(t, fx, transactional) // fails early on a target of another strategy
	lease := fenced(t, fx.Store)
	w := sharedWork(t, fx, transactional)
	if err := fx.Apply(w.Context(t.Context()), w.Handle(), "e1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	_, err := w.CommitAudit(t.Context(), lease, entry("e1", audit.StrategySharedTx))
	if !errors.Is(err, audit.ErrFenced) {
		t.Errorf("CommitAudit under a lease that no longer holds the lock returned %s, want one matching audit.ErrFenced", describe(err))
	}
	// The runner aborts after every error of CommitAudit.
	if err := w.Abort(t.Context()); err != nil {
		t.Errorf("Abort after a fenced CommitAudit: %v", err)
	}
	wantEffect(t, fx, "e1", false, "after a fenced CommitAudit and Abort")
	if es := history(t, fx, "e1"); len(es) != 0 {
		t.Errorf("after a fenced CommitAudit the trail holds %v of the change, want nothing", states(es))
	}
	// The aborted work holds nothing any more: the lock's new holder
	// commits.
	if _, err := fx.Store.ForceRelease(t.Context(), lockKey, "targettest-operator"); err != nil {
		t.Fatalf("force release: %v", err)
	}
	next := acquire(t, fx.Store, "targettest-next-runner", longTTL)
	w2 := sharedWork(t, fx, transactional)
	if err := fx.Apply(w2.Context(t.Context()), w2.Handle(), "e2"); err != nil {
		t.Fatalf("apply after the aborted work: %v", err)
	}
	if _, err := w2.CommitAudit(t.Context(), next, entry("e2", audit.StrategySharedTx)); err != nil {
		t.Fatalf("CommitAudit of the next work, under the lock's new holder: %v", err)
	}
	wantEffect(t, fx, "e2", true, "after the next work's CommitAudit")
}

func seqsOf(es []audit.Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}
