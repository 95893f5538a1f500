// Package audittest is the conformance suite of audit stores, in the manner
// of testing/fstest.TestFS: a store is correct when Run passes against it.
//
// A store's test gives Run a function that creates a fresh, empty namespace
// (a new database file, schema, database or table prefix) and returns a
// Namespace for it: an Opener, and a Tamperer that edits its trail behind
// the store's back, as an operator with a SQL shell would:
//
//	func TestConformance(t *testing.T) {
//		audittest.Run(t, func(t *testing.T) audittest.Namespace {
//			path := filepath.Join(t.TempDir(), "audit.db")
//			return audittest.Namespace{
//				Open: func(ctx context.Context) (audit.Store, error) {
//					return sqlite.Open(ctx, path)
//				},
//				Tamper: tamperer{path},
//			}
//		})
//	}
//
// # Contract
//
// Run calls newNamespace once per subtest, from parallel subtests, so it
// must be safe for concurrent use and every namespace must be isolated from
// the others. newNamespace registers with t.Cleanup whatever removes the
// namespace. Each call of the Opener opens a new handle on that one
// namespace (the first call creates the schema; later and concurrent calls
// must find it). The suite closes every handle it opens, before the
// namespace's own cleanups run, and fails when Close returns an error.
//
// # Precision
//
// Entry.Time must come back in UTC, equal to what was appended to the
// millisecond (a store may truncate or round below that); Entry.Duration
// likewise to the millisecond. Metadata must come back as the same JSON
// value, though a store may reformat it (reorder keys, drop whitespace).
// Every other field must come back exactly.
//
// # Time
//
// The lock tests use leases of 300ms and wait for them to expire by polling
// Store.Lock until it reports the key not held (for at most 30 seconds), so
// the suite never asserts how long anything takes.
//
// # Choices the suite pins down
//
// Acquire on a key held by an unexpired lease fails with *audit.LockHeldError
// even when the holder is the same owner: a lease is taken only on a free,
// released or expired key. Acquire rejects an empty key, an empty owner and a
// TTL under a millisecond. Refresh and Release of a lease that is expired
// (even if nobody took the key over) fail with audit.ErrFenced, as Append
// does. Release keeps the key's epoch, and so does ForceRelease, which
// fences the holder by clearing the owner; the record of a forced release
// (ReleasedBy, ReleasedAt) survives later acquisitions.
//
// Stages, change ids and target ids of audit.MaxIDLen bytes and authors of
// audit.MaxAuthorLen bytes are stored and read back exactly, and found by
// History; Append refuses an entry one byte over any of them (see
// audit.Entry.CheckBounds) with an error, storing nothing.
//
// The checkpoint tests run only against stores that implement
// audit.Checkpointer, and are skipped otherwise. A checkpoint is current
// only while the trail's entries at or below its seq are exactly those it
// was saved on: deleting any of them, or editing any field of one (a
// value of the same length included, such as STARTED for APPLIED), makes
// it stale, and saving it again at the same seq makes it current again,
// for the trail as it now is.
package audittest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// Opener opens a new handle on one namespace of a store.
type Opener func(ctx context.Context) (audit.Store, error)

// Namespace is one fresh namespace of a store, as Run's newNamespace
// makes it.
type Namespace struct {
	// Open opens a new handle on the namespace.
	Open Opener
	// Tamper edits the namespace's trail without the store, with the
	// database's own tools (raw SQL, a raw collection update): the
	// checkpoint tests check that a checkpoint notices. Required of every
	// store that implements audit.Checkpointer.
	Tamper Tamperer
}

// Tamperer edits one namespace's trail behind its store's back, the way an
// operator editing the database by hand would. The suite only tampers
// with entries it appended.
type Tamperer interface {
	// DeleteEntry deletes the entry at seq.
	DeleteEntry(ctx context.Context, seq int64) error
	// EditEntry stores value as field of the entry at seq. field is the
	// name of an audit.Entry field other than Seq; value is a string for
	// the fields of a string type (State, Strategy and Recovery included,
	// and Metadata, as JSON text), an int64 for Order and for Duration (in
	// nanoseconds) and a time.Time in UTC, a whole millisecond, for Time.
	EditEntry(ctx context.Context, seq int64, field string, value any) error
}

const (
	// key is the lock key the tests use; namespaces are fresh, so one
	// name is enough.
	key = "pipeline"
	// longTTL outlives any test: leases taken with it never expire.
	longTTL = time.Minute
	// shortTTL is for the tests that wait for a lease to expire.
	shortTTL = 300 * time.Millisecond
	// expiryBound is how long waitExpired polls before failing.
	expiryBound = 30 * time.Second
)

// Run runs the conformance suite against the store that newNamespace opens.
// See the package documentation for the contract.
func Run(t *testing.T, newNamespace func(t *testing.T) Namespace) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"a fresh store has an empty snapshot and history", testEmpty},
		{"a never acquired lock key is free", testLockNeverUsed},
		{"snapshot returns the latest entry of every change in seq order", testSnapshot},
		{"history returns every entry in seq order", testHistory},
		{"history filters by stage, change id and time", testHistoryFilter},
		{"append assigns increasing seqs and ignores the caller's", testSeq},
		{"append round-trips every field", testRoundTrip},
		{"orders of any length round-trip exactly", testOrders},
		{"append stores every state, strategy and recovery", testEnums},
		{"append rejects an invalid entry and stores nothing", testInvalid},
		{"entries at the identity bounds round-trip byte for byte", testBounds},
		{"append refuses an entry one byte over an identity bound and stores nothing", testOverBounds},
		{"acquire takes a free key", testAcquire},
		{"acquire by a second owner reports the holder", testAcquireHeld},
		{"acquire by the holder itself while its lease is valid is refused", testAcquireReentrant},
		{"acquire rejects an empty key, an empty owner and a non-positive ttl", testAcquireInvalid},
		{"refresh extends the lease", testRefresh},
		{"release frees the key and keeps its epoch", testRelease},
		{"an expired lease is fenced and another owner takes over with a larger epoch", testTakeover},
		{"the epoch grows on every acquisition", testEpoch},
		{"a lease that does not hold the lock is fenced", testFenced},
		{"force release frees a held lock, fences its holder and records the operator", testForceReleaseHeld},
		{"force release of an expired or free lock records the operator", testForceReleaseFree},
		{"force release of a key never acquired writes nothing", testForceReleaseNeverAcquired},
		{"force release rejects an empty key and an empty operator", testForceReleaseInvalid},
		{"a checkpoint at the trail's highest seq is current for its digest only", testCheckpointCurrent},
		{"a checkpoint is stale once anything is appended", testCheckpointStale},
		{"a checkpoint replaces an older one of its digest and coexists with others", testCheckpointReplace},
		{"save checkpoint rejects an empty digest and a seq under 1", testCheckpointInvalid},
		{"a checkpoint is stale once an entry at or below its seq is deleted", testCheckpointDeleted},
		{"a checkpoint is stale once any field of an entry at or below its seq is edited", testCheckpointEdited},
		{"concurrent appenders on several handles store every entry", testConcurrentAppend},
		{"of many concurrent acquirers exactly one wins", testConcurrentAcquire},
		{"handles opened concurrently on a fresh namespace share one schema", testConcurrentOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newHarness(t, newNamespace))
		})
	}
}

// harness opens handles on one namespace and fails the test on any
// unexpected error.
type harness struct {
	t            *testing.T
	open         Opener
	tamper       Tamperer
	newNamespace func(t *testing.T) Namespace
}

func newHarness(t *testing.T, newNamespace func(t *testing.T) Namespace) *harness {
	ns := newNamespace(t)
	return &harness{t: t, open: ns.Open, tamper: ns.Tamper, newNamespace: newNamespace}
}

// store opens a new handle and closes it when the test ends.
func (h *harness) store() audit.Store {
	h.t.Helper()
	s, err := h.open(h.t.Context())
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
	h.closeAtEnd(s)
	return s
}

// closeAtEnd closes s when the test ends, before the namespace's cleanups
// (registered earlier) run.
func (h *harness) closeAtEnd(s audit.Store) {
	h.t.Cleanup(func() {
		if err := s.Close(); err != nil {
			h.t.Errorf("close: %v", err)
		}
	})
}

func (h *harness) acquire(s audit.Store, owner string, ttl time.Duration) audit.Lease {
	h.t.Helper()
	l, err := s.Acquire(h.t.Context(), key, owner, ttl)
	if err != nil {
		h.t.Fatalf("acquire %q for %s: %v", key, owner, err)
	}
	return l
}

func (h *harness) append(s audit.Store, l audit.Lease, e audit.Entry) audit.Entry {
	h.t.Helper()
	got, err := s.Append(h.t.Context(), l, e)
	if err != nil {
		h.t.Fatalf("append %s/%s %s: %v", e.Stage, e.ChangeID, e.State, err)
	}
	return got
}

func (h *harness) history(s audit.Store, f audit.Filter) []audit.Entry {
	h.t.Helper()
	got, err := s.History(h.t.Context(), f)
	if err != nil {
		h.t.Fatalf("history %+v: %v", f, err)
	}
	checkUTC(h.t, got)
	return got
}

func (h *harness) snapshot(s audit.Store) []audit.Entry {
	h.t.Helper()
	got, err := s.Snapshot(h.t.Context())
	if err != nil {
		h.t.Fatalf("snapshot: %v", err)
	}
	checkUTC(h.t, got)
	return got
}

func (h *harness) lock(s audit.Store) audit.LockInfo {
	h.t.Helper()
	info, err := s.Lock(h.t.Context(), key)
	if err != nil {
		h.t.Fatalf("lock %q: %v", key, err)
	}
	return info
}

// waitExpired polls the lock until the store reports it not held.
func (h *harness) waitExpired(s audit.Store) {
	h.t.Helper()
	deadline := time.Now().Add(expiryBound)
	for h.lock(s).Held() {
		if time.Now().After(deadline) {
			h.t.Fatalf("lock %q still held %s after its lease should have expired", key, expiryBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantEmpty fails the test when the store holds any entry.
func (h *harness) wantEmpty(s audit.Store) {
	h.t.Helper()
	if got := h.history(s, audit.Filter{}); len(got) != 0 {
		h.t.Errorf("store holds %d entries, want none: %+v", len(got), got)
	}
}

// base is the time of the entries the tests build; whole seconds, so
// filters on time are exact at any precision the suite allows.
var base = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// entry returns a valid entry of change id in stage.
func entry(stage, id string, state audit.State) audit.Entry {
	e := audit.Entry{
		ExecutionID: "exec-1",
		Stage:       stage,
		ChangeID:    id,
		Order:       audit.OrderOf(1),
		State:       state,
		Time:        base,
		Strategy:    audit.StrategyNonTx,
		Recovery:    audit.RecoveryManual,
	}
	if state == audit.StateManualApplied || state == audit.StateManualRolledBack {
		e.Operator, e.Reason = "alice", "checked by hand"
	}
	return e
}

// entryCmp compares entries at the precision the suite requires.
var entryCmp = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool { return within(a.Sub(b), time.Millisecond) }),
	cmp.Comparer(func(a, b time.Duration) bool { return within(a-b, time.Millisecond) }),
	cmp.Comparer(sameJSON),
}

func within(d, limit time.Duration) bool { return d < limit && d > -limit }

// sameJSON reports whether a and b hold the same JSON value; empty equals
// only empty.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func checkUTC(t *testing.T, entries []audit.Entry) {
	t.Helper()
	for _, e := range entries {
		if e.Time.Location() != time.UTC {
			t.Errorf("entry seq %d: time %s is in %s, want UTC", e.Seq, e.Time, e.Time.Location())
		}
	}
}

func seqs(entries []audit.Entry) []int64 {
	out := make([]int64, len(entries))
	for i, e := range entries {
		out[i] = e.Seq
	}
	return out
}
