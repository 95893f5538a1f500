package audit

import (
	"context"
	"errors"

	"github.com/flamingock/flamingock-go/internal/redact"
)

// DefaultLockKey is the lock key of a pipeline that names none
// (pipeline.WithLockKey) and of the flamingock CLI without --lock-key.
const DefaultLockKey = "flamingock"

// UnknownStoreURL stands for the --store value in the commands printed for
// a store that cannot name its URL (a MongoDB store made by mongo.New from
// a client): the operator replaces it.
const UnknownStoreURL = "STORE_URL"

// ErrNoStore is returned by the methods of an Extended that has no store
// (its zero value) instead of a nil dereference.
var ErrNoStore = errors.New("audit: no store to read")

// Locator names an audit store the way the flamingock CLI and
// audit/storeurl take it: storeurl.Open(ctx, l.URL, storeurl.Options{
// Schema: l.Schema, TablePrefix: l.TablePrefix}) opens the same trail and
// lock, its password given back (URL never holds one). Args renders it as
// the CLI's flags; it is the one place those flags are built.
//
// The zero Locator names no store: its Args print UnknownStoreURL.
type Locator struct {
	// URL is the store's URL without its password (shown as xxxxx):
	// sqlite:PATH, postgres://…, mongodb://…. Empty when the store cannot
	// know it.
	URL string
	// Schema is the PostgreSQL schema of the store's tables, empty for the
	// default (public).
	Schema string
	// TablePrefix is the prefix of the store's tables (or collection),
	// empty for the default (flamingock).
	TablePrefix string
}

// Args returns the flamingock global flags that reach l's store and the
// lock lockKey in it: --store URL, then --schema and --table-prefix when
// set, then --lock-key unless lockKey is empty or DefaultLockKey. A
// password in URL is redacted; an empty URL is UnknownStoreURL.
func (l Locator) Args(lockKey string) []string {
	url := redact.DSN(l.URL)
	if url == "" {
		url = UnknownStoreURL
	}
	args := []string{"--store", url}
	if l.Schema != "" {
		args = append(args, "--schema", l.Schema)
	}
	if l.TablePrefix != "" {
		args = append(args, "--table-prefix", l.TablePrefix)
	}
	if lockKey != "" && lockKey != DefaultLockKey {
		args = append(args, "--lock-key", lockKey)
	}
	return args
}

// Locatable is implemented by stores that can name themselves for the
// flamingock CLI. Every store of this module does (audit/sqlite,
// audit/postgres, audit/mongo); its Locator round-trips through
// audit/storeurl.
type Locatable interface {
	// Locator returns how the flamingock CLI reaches this store's trail.
	Locator() Locator
}

// Extended is a store with its optional capabilities asked for once, by
// Extend, and a fallback for each one it lacks, so that no caller
// type-asserts a store:
//
//   - checkpoints (Checkpointer): without them, SnapshotUnlessCurrent is
//     Snapshot with current false, SaveCheckpoint does nothing, and
//     KeepsCheckpoints is false (the runtime then does not compute the
//     pipeline's digest);
//   - a name for resolution commands (Locatable): without one, Locator is
//     the zero Locator.
//
// It implements Store (the wrapped store's methods), Checkpointer and
// Locatable with those fallbacks. Pass it where a store's capabilities are
// asked for, not where its concrete type is (a target sharing the store's
// transaction wants the store itself: Unwrap).
//
// A nil or zero Extended has no store: it keeps no checkpoints, its
// Locator is the zero Locator, SaveCheckpoint does nothing and
// SnapshotUnlessCurrent returns ErrNoStore; the other methods of Store
// panic, as a nil Store's do.
type Extended struct {
	Store
	checkpointer Checkpointer // nil when the store keeps no checkpoints
	locator      Locator
}

var (
	_ Store        = (*Extended)(nil)
	_ Checkpointer = (*Extended)(nil)
	_ Locatable    = (*Extended)(nil)
)

// Extend asks s once for its optional capabilities. An *Extended is
// returned as it is; a nil s gives an Extended without a store.
func Extend(s Store) *Extended {
	if x, ok := s.(*Extended); ok && x != nil {
		return x
	}
	x := &Extended{Store: s}
	if s == nil {
		return x
	}
	if cp, ok := s.(Checkpointer); ok {
		x.checkpointer = cp
	}
	if l, ok := s.(Locatable); ok {
		x.locator = l.Locator()
	}
	return x
}

// Unwrap returns the store Extend was given (nil for none).
func (x *Extended) Unwrap() Store {
	if x == nil {
		return nil
	}
	return x.Store
}

// KeepsCheckpoints reports whether the store keeps checkpoints, so that a
// current one lets an up-to-date pipeline start with one small read.
func (x *Extended) KeepsCheckpoints() bool { return x != nil && x.checkpointer != nil }

// SnapshotUnlessCurrent is the store's (see Checkpointer) when it keeps
// checkpoints, and otherwise Snapshot with current false.
func (x *Extended) SnapshotUnlessCurrent(ctx context.Context, digest string) (entries []Entry, current bool, err error) {
	switch {
	case x == nil || x.Store == nil:
		return nil, false, ErrNoStore
	case x.checkpointer == nil:
		entries, err = x.Store.Snapshot(ctx)
		return entries, false, err
	}
	return x.checkpointer.SnapshotUnlessCurrent(ctx, digest)
}

// SaveCheckpoint is the store's (see Checkpointer) when it keeps
// checkpoints, and otherwise does nothing.
func (x *Extended) SaveCheckpoint(ctx context.Context, cp Checkpoint) error {
	if !x.KeepsCheckpoints() {
		return nil
	}
	return x.checkpointer.SaveCheckpoint(ctx, cp)
}

// Locator is the store's (see Locatable), read once by Extend, or the zero
// Locator when the store cannot name itself.
func (x *Extended) Locator() Locator {
	if x == nil {
		return Locator{}
	}
	return x.locator
}
