// Package audit defines the audit trail of flamingock-go: the entries that
// record every state transition of every change, the lease lock that lets one
// runner at a time execute a pipeline, and the Store interface that every
// audit store implements.
//
// The trail is append-only. A change's state is its latest entry, ordered by
// the sequence number the store assigns (never by clocks). Every write made by
// a runner carries its Lease, and a store refuses the write with ErrFenced
// when the lease is no longer the store's current lock: a paused or
// partitioned former owner can never record anything.
//
// Stores live in subpackages (audit/sqlite, …); the conformance suite in
// audit/audittest is the definition of a correct store. What a store may
// or may not do beyond Store (keep checkpoints, name itself for the
// flamingock CLI with a Locator) is asked once, by Extend.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// State is the state a change reached; an entry records one transition.
type State string

// The states of DESIGN §4.
const (
	StateStarted          State = "STARTED"
	StateApplied          State = "APPLIED"
	StateFailed           State = "FAILED"
	StateRolledBack       State = "ROLLED_BACK"
	StateRollbackFailed   State = "ROLLBACK_FAILED"
	StateManualApplied    State = "MANUAL_MARKED_AS_APPLIED"
	StateManualRolledBack State = "MANUAL_MARKED_AS_ROLLED_BACK"
)

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StateStarted, StateApplied, StateFailed, StateRolledBack, StateRollbackFailed,
		StateManualApplied, StateManualRolledBack:
		return true
	}
	return false
}

// Strategy is how a change was executed against its target.
type Strategy string

const (
	// StrategySharedTx: the change and its APPLIED entry commit in one
	// transaction of the database that also holds the audit store.
	StrategySharedTx Strategy = "SHARED_TX"
	// StrategySeparateTx: the change commits in a target transaction
	// together with a marker; STARTED and APPLIED are recorded around it.
	StrategySeparateTx Strategy = "SEPARATE_TX"
	// StrategyNonTx: the target has no transaction covering the change
	// (or the change opted out with transactional=false).
	StrategyNonTx Strategy = "NON_TX"
)

// Valid reports whether s is one of the known strategies.
func (s Strategy) Valid() bool {
	switch s {
	case StrategySharedTx, StrategySeparateTx, StrategyNonTx:
		return true
	}
	return false
}

// Recovery says what the next run does with a change whose outcome is
// uncertain (STARTED or FAILED without a transaction, ROLLBACK_FAILED).
type Recovery string

const (
	// RecoveryManual reports an issue and runs nothing until an operator
	// resolves it. The default.
	RecoveryManual Recovery = "MANUAL"
	// RecoveryRetry applies the change again; declare it only for changes
	// that are safe to run twice.
	RecoveryRetry Recovery = "RETRY"
)

// Valid reports whether r is one of the known recovery strategies.
func (r Recovery) Valid() bool { return r == RecoveryManual || r == RecoveryRetry }

// Entry is one state transition of one change.
type Entry struct {
	// Seq is assigned by the store on Append and orders the trail.
	Seq int64
	// ExecutionID identifies the run (or the manual operation) that wrote it.
	ExecutionID string
	Stage       string
	ChangeID    string
	Order       Order
	Author      string
	State       State
	// Time is when the transition happened, in UTC.
	Time time.Time
	// Duration is how long the step took (zero for STARTED and manual marks).
	Duration time.Duration
	Host     string
	RunnerID string
	TargetID string
	Strategy Strategy
	Recovery Recovery
	Checksum string
	// ErrorMessage and ErrorKind describe a failure (FAILED, ROLLBACK_FAILED).
	// ErrorKind is one of the ErrorKind constants, or else the Go type of
	// the innermost error of the failure's chain ("*net.OpError").
	ErrorMessage string
	ErrorKind    string
	// Operator and Reason are set on manual marks.
	Operator string
	Reason   string
	// Metadata is user metadata; empty or a JSON object.
	Metadata json.RawMessage
}

// The error kinds the runtime records for a failure that is not the
// change's own error, whatever its Go type.
const (
	// ErrorKindPanic: the change or its rollback panicked.
	ErrorKindPanic = "panic"
	// ErrorKindCancelled: the change returned because its context was
	// cancelled (its error matches context.Canceled), typically when the
	// process was told to stop. It was interrupted, not broken.
	ErrorKindCancelled = "cancelled"
	// ErrorKindDeadline: the change returned because a deadline of its
	// context passed (its error matches context.DeadlineExceeded).
	ErrorKindDeadline = "deadline"
)

// Key identifies a change in the trail.
type Key struct {
	Stage    string
	ChangeID string
}

// Key returns the entry's change key.
func (e Entry) Key() Key { return Key{Stage: e.Stage, ChangeID: e.ChangeID} }

// Bounds on the identity of a change, in bytes. Every store indexes the
// stage and the change id together (PostgreSQL refuses a btree row over
// 2704 bytes, MySQL an index key over 3072, four bytes per utf8mb4
// character), so the generator refuses longer ids at generate time,
// pipeline.New refuses them before anything runs, and stores refuse to
// append them: what one layer accepts, every store takes.
const (
	// MaxIDLen bounds a stage name, a change id and a target id.
	MaxIDLen = 128
	// MaxAuthorLen bounds an author.
	MaxAuthorLen = 256
)

// CheckBounds reports the first identity field of e longer than its bound
// (MaxIDLen, MaxAuthorLen), or nil. Stores check it before Append, not
// when decoding: a trail written before the bounds existed stays readable.
func (e Entry) CheckBounds() error {
	for _, f := range [...]struct {
		name, value string
		max         int
	}{
		{"stage", e.Stage, MaxIDLen},
		{"change id", e.ChangeID, MaxIDLen},
		{"target id", e.TargetID, MaxIDLen},
		{"author", e.Author, MaxAuthorLen},
	} {
		if len(f.value) > f.max {
			return fmt.Errorf("%s of %d bytes is longer than the %d every store takes", f.name, len(f.value), f.max)
		}
	}
	return nil
}

// Validate reports the first reason e cannot be stored (before Append) or
// trusted (after decoding a stored row). Seq is not checked.
func (e Entry) Validate() error {
	switch {
	case e.ExecutionID == "":
		return errors.New("missing execution id")
	case e.Stage == "":
		return errors.New("missing stage")
	case e.ChangeID == "":
		return errors.New("missing change id")
	case !e.State.Valid():
		return fmt.Errorf("unknown state %q", e.State)
	case e.Time.IsZero():
		return errors.New("missing time")
	case e.Duration < 0:
		return fmt.Errorf("negative duration %s", e.Duration)
	case !e.Strategy.Valid():
		return fmt.Errorf("unknown strategy %q", e.Strategy)
	case !e.Recovery.Valid():
		return fmt.Errorf("unknown recovery %q", e.Recovery)
	case (e.State == StateManualApplied || e.State == StateManualRolledBack) && (e.Operator == "" || e.Reason == ""):
		return fmt.Errorf("%s needs an operator and a reason", e.State)
	}
	if len(e.Metadata) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(e.Metadata, &obj); err != nil {
			return fmt.Errorf("metadata is not a JSON object: %w", err)
		}
	}
	return nil
}

// Lease is a runner's hold on a lock key. It is the fencing token every
// runner write carries.
type Lease struct {
	Key   string
	Owner string
	// Epoch grows on every acquisition of Key; a write carrying an older
	// epoch is refused.
	Epoch int64
	// ExpiresAt is computed by the store's clock.
	ExpiresAt time.Time
	// TTL is the duration the lease was taken or refreshed for.
	TTL time.Duration
}

// LockInfo is the state of a lock key as the store sees it.
type LockInfo struct {
	Key   string
	Owner string // empty when the key was never acquired or was released
	Epoch int64
	// ExpiresAt and Now are both read from the store's clock.
	ExpiresAt time.Time
	Now       time.Time
	// ReleasedBy and ReleasedAt record the latest ForceRelease of the key:
	// the operator who forced it and when, by the store's clock. They stay
	// until the next forced release; empty when none ever happened.
	ReleasedBy string
	ReleasedAt time.Time
}

// Held reports whether the lock is held by someone at the store's now.
func (l LockInfo) Held() bool { return l.Owner != "" && l.Now.Before(l.ExpiresAt) }

// Filter selects entries of History. Zero fields select everything.
type Filter struct {
	Stage    string
	ChangeID string
	// Since keeps entries whose Time is at or after it.
	Since time.Time
}

// Store is an audit trail and the lock that guards it.
//
// Implementations must be safe for concurrent use and must pass
// audittest.Run.
type Store interface {
	// Snapshot returns the latest entry of every change, in Seq order,
	// read in one round trip.
	Snapshot(ctx context.Context) ([]Entry, error)
	// History returns the entries matching f, in Seq order.
	History(ctx context.Context, f Filter) ([]Entry, error)
	// Append validates e, assigns its Seq and stores it, atomically with
	// checking that lease is the current, unexpired lock of lease.Key held
	// by lease.Owner at lease.Epoch. Otherwise it stores nothing and returns
	// an error matching ErrFenced.
	Append(ctx context.Context, lease Lease, e Entry) (Entry, error)

	// Acquire takes the lock key for owner for ttl when it is free,
	// released or expired, incrementing its epoch. While an unexpired lease
	// holds it (another owner's, or owner's own), it returns a
	// *LockHeldError (matching ErrLockHeld). key and owner must not be
	// empty and ttl must be at least a millisecond.
	Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error)
	// Refresh extends lease by its TTL from the store's now. It returns an
	// error matching ErrFenced when the lease expired or moved on.
	Refresh(ctx context.Context, lease Lease) (Lease, error)
	// Release frees the lock if lease still holds it, keeping its epoch;
	// releasing a lease that expired or moved on returns an error matching
	// ErrFenced.
	Release(ctx context.Context, lease Lease) error
	// Lock reports the state of the lock key.
	Lock(ctx context.Context, key string) (LockInfo, error)
	// ForceRelease frees the lock key whoever holds it, for an operator
	// who made sure its holder is gone (a crashed runner whose lease has
	// not expired yet). Like Release it clears the owner and keeps the
	// epoch, so the former holder's lease is fenced: its writes, refreshes
	// and releases fail with ErrFenced, and the next acquisition gets a
	// larger epoch. It records operator and the store's now as the key's
	// ReleasedBy and ReleasedAt, in the same write. It returns the lock as
	// it was just before, with Now set to the time of the release. A key
	// never acquired is left alone: ForceRelease writes nothing and returns
	// it with a zero Epoch. key and operator must not be empty.
	ForceRelease(ctx context.Context, key, operator string) (LockInfo, error)

	// Close releases the store's resources.
	Close() error
}

// Checkpoint records that every change of one pipeline was done (applied,
// or marked applied) in the trail's entries up to Seq. Seq is the highest
// seq of the trail at that point, so the claim is about a fixed prefix of
// the trail; while Seq is still the trail's highest seq and that prefix is
// still the one the claim was made on, the pipeline is still wholly done.
// The trail is append-only for the runtime, not for an operator with a SQL
// shell: a store must notice when an entry at or below Seq was deleted or
// edited since the checkpoint was saved (see Checkpointer).
type Checkpoint struct {
	// Digest identifies the pipeline: its stages and changes in order, and
	// their checksums. The runtime computes it; stores only compare it.
	Digest string
	// Seq is the highest seq of the trail when every change was done.
	Seq int64
}

// Validate reports why cp cannot be recorded.
func (cp Checkpoint) Validate() error {
	switch {
	case cp.Digest == "":
		return errors.New("checkpoint without a digest")
	case cp.Seq < 1:
		return fmt.Errorf("checkpoint at seq %d: a pipeline that is done has entries", cp.Seq)
	}
	return nil
}

// Checkpointer is implemented by stores that keep checkpoints, one per
// pipeline digest. It lets an up-to-date pipeline start with one small
// read: the runtime records a checkpoint when it finds every change done,
// and a later start that finds it current reads nothing else. Checkpoints
// of several pipelines (releases of one application) coexist. Stores that
// implement it must pass its part of audittest.Run. Callers do not
// type-assert it: Extend asks once and falls back to Snapshot for a store
// without checkpoints.
//
// A checkpoint is current only while the trail's highest seq is its Seq
// and the entries at or below Seq are those it was saved on: deleting any
// of them, or editing any field of one, by hand, must make it stale, so
// that a checkpoint never hides a change made pending again. How a store
// knows is its own (audit/postgres and audit/sqlite have triggers void
// checkpoints on an edit, and postgres checks the triggers are untouched,
// audit/mongo digests the documents); a checkpoint saved by an earlier
// release of a store that could not tell must never be current.
type Checkpointer interface {
	// SnapshotUnlessCurrent returns current true and no entries when the
	// checkpoint of digest is current, reading as little as the store can
	// (one round trip for audit/postgres; audit/mongo reads the trail's
	// documents to digest them, without decoding them). Otherwise it
	// returns what Snapshot returns.
	SnapshotUnlessCurrent(ctx context.Context, digest string) (entries []Entry, current bool, err error)
	// SaveCheckpoint records cp, on the entries at or below cp.Seq as they
	// now are, unless the checkpoint recorded for its digest has a higher
	// Seq that is not above the trail's highest. It needs no lease: a
	// checkpoint states a fact about the trail, not a decision of the lock
	// holder.
	SaveCheckpoint(ctx context.Context, cp Checkpoint) error
}

var (
	// ErrFenced reports a write refused because the writer's lease expired
	// or another runner acquired the lock since.
	ErrFenced = errors.New("audit: lease no longer holds the lock")
	// ErrLockHeld reports that another owner holds an unexpired lease.
	ErrLockHeld = errors.New("audit: lock held by another runner")
	// ErrCorrupt reports a stored record that cannot be trusted.
	ErrCorrupt = errors.New("audit: corrupt record")
	// ErrUnavailable reports that the store could not be reached and the
	// request never reached it: it had no effect, so it is safe to retry,
	// even a write. A store marks an error with it (see Unavailable) only
	// when it knows so, for example when the connection could not be
	// established or failed before any byte of the request was sent; a
	// connection lost after the request was sent is not marked, since the
	// write may have been stored.
	ErrUnavailable = errors.New("audit: store unavailable, the request did not reach it")
	// ErrBusy reports that the store could not serve a request in time
	// because another transaction held a lock the request needs, such as
	// SQLite's single write lock held by a change that shares its
	// transaction with the store. The request had no effect, so it is safe
	// to retry, even a write; the runtime waits for the lock to be free as
	// it waits for the pipeline's lock.
	ErrBusy = errors.New("audit: store busy, another transaction holds the lock the request needs")
)

// Unavailable returns err marked as matching ErrUnavailable, with err's
// message and err still in the chain. Stores call it only for errors that
// certainly had no effect.
func Unavailable(err error) error { return &unavailableError{err} }

type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// LockHeldError is returned by Acquire when another owner holds the lock.
type LockHeldError struct {
	Info LockInfo
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("audit: lock %q held by %s (epoch %d) until %s",
		e.Info.Key, e.Info.Owner, e.Info.Epoch, e.Info.ExpiresAt.UTC().Format(time.RFC3339))
}

// Unwrap makes the error match ErrLockHeld.
func (e *LockHeldError) Unwrap() error { return ErrLockHeld }

// CorruptError describes a stored record that failed to decode or validate.
type CorruptError struct {
	// Where names the record, e.g. "entry seq 42" or "lock \"default\"".
	Where string
	Err   error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("audit: corrupt record (%s): %v", e.Where, e.Err)
}

// Unwrap returns both ErrCorrupt and the cause.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }
