package audit_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
)

// plainStore is a store with no optional capability: every method of
// audit.Store, through the embedded nil interface, panics but Snapshot.
type plainStore struct {
	audit.Store
	snap []audit.Entry
}

func (s *plainStore) Snapshot(context.Context) ([]audit.Entry, error) { return s.snap, nil }

// fullStore keeps checkpoints and names itself.
type fullStore struct {
	plainStore
	current bool
	saved   []audit.Checkpoint
	loc     audit.Locator
}

func (s *fullStore) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	if s.current {
		return nil, true, nil
	}
	snap, err := s.Snapshot(ctx)
	return snap, false, err
}

func (s *fullStore) SaveCheckpoint(_ context.Context, cp audit.Checkpoint) error {
	s.saved = append(s.saved, cp)
	return nil
}

func (s *fullStore) Locator() audit.Locator { return s.loc }

var (
	_ audit.Checkpointer = (*fullStore)(nil)
	_ audit.Locatable    = (*fullStore)(nil)
)

func TestExtendAsksForEachCapabilityAndFallsBack(t *testing.T) {
	trail := []audit.Entry{{Seq: 1, ChangeID: "c1"}}
	loc := audit.Locator{URL: "sqlite:app.db", TablePrefix: "billing"}
	tests := []struct {
		name        string
		store       audit.Store
		keeps       bool
		wantCurrent bool
		wantEntries []audit.Entry
		wantSaved   int
		wantLoc     audit.Locator
	}{
		{"a store without capabilities reads its snapshot and saves nothing", &plainStore{snap: trail}, false, false, trail, 0, audit.Locator{}},
		{"a store with checkpoints answers from its checkpoint", &fullStore{plainStore: plainStore{snap: trail}, current: true, loc: loc}, true, true, nil, 1, loc},
		{"a store with a stale checkpoint returns its snapshot", &fullStore{plainStore: plainStore{snap: trail}, loc: loc}, true, false, trail, 1, loc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := audit.Extend(tt.store)
			if got := x.KeepsCheckpoints(); got != tt.keeps {
				t.Errorf("KeepsCheckpoints = %v, want %v", got, tt.keeps)
			}
			entries, current, err := x.SnapshotUnlessCurrent(t.Context(), "sha256:d")
			if err != nil || current != tt.wantCurrent || !slices.EqualFunc(entries, tt.wantEntries, func(a, b audit.Entry) bool { return a.Seq == b.Seq }) {
				t.Errorf("SnapshotUnlessCurrent = %v, %v, %v; want %v, %v, nil", entries, current, err, tt.wantEntries, tt.wantCurrent)
			}
			if err := x.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "sha256:d", Seq: 1}); err != nil {
				t.Errorf("SaveCheckpoint = %v, want nil", err)
			}
			if f, ok := tt.store.(*fullStore); ok && len(f.saved) != tt.wantSaved {
				t.Errorf("the store saved %d checkpoints, want %d", len(f.saved), tt.wantSaved)
			}
			if got := x.Locator(); got != tt.wantLoc {
				t.Errorf("Locator = %+v, want %+v", got, tt.wantLoc)
			}
			if x.Unwrap() != tt.store {
				t.Errorf("Unwrap = %v, want the store", x.Unwrap())
			}
			if again := audit.Extend(x); again != x {
				t.Error("Extend of an *Extended wraps it again, want it as it is")
			}
		})
	}
}

func TestExtendedZeroValue(t *testing.T) {
	for name, x := range map[string]*audit.Extended{"nil": nil, "zero": {}, "of nil": audit.Extend(nil)} {
		t.Run(name, func(t *testing.T) {
			if x.KeepsCheckpoints() {
				t.Error("KeepsCheckpoints = true")
			}
			if got := x.Locator(); got != (audit.Locator{}) {
				t.Errorf("Locator = %+v, want the zero Locator", got)
			}
			if x.Unwrap() != nil {
				t.Errorf("Unwrap = %v, want nil", x.Unwrap())
			}
			if err := x.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: 1}); err != nil {
				t.Errorf("SaveCheckpoint = %v, want nil (nothing to save)", err)
			}
			if _, _, err := x.SnapshotUnlessCurrent(t.Context(), "d"); !errors.Is(err, audit.ErrNoStore) {
				t.Errorf("SnapshotUnlessCurrent = %v, want ErrNoStore", err)
			}
		})
	}
}

func TestLocatorArgs(t *testing.T) {
	tests := []struct {
		name    string
		loc     audit.Locator
		lockKey string
		want    []string
	}{
		{"a URL alone", audit.Locator{URL: "sqlite:app.db"}, "", []string{"--store", "sqlite:app.db"}},
		{"the default lock key is not repeated", audit.Locator{URL: "sqlite:app.db"}, audit.DefaultLockKey, []string{"--store", "sqlite:app.db"}},
		{"schema, prefix and lock key, in that order", audit.Locator{URL: "postgres://ops@db/app", Schema: "ops", TablePrefix: "billing"}, "billing-lock",
			[]string{"--store", "postgres://ops@db/app", "--schema", "ops", "--table-prefix", "billing", "--lock-key", "billing-lock"}},
		{"a password is redacted", audit.Locator{URL: "postgres://ops:s3cret@db/app"}, "", []string{"--store", "postgres://ops:xxxxx@db/app"}},
		{"an unknown URL is a placeholder to replace", audit.Locator{TablePrefix: "billing"}, "", []string{"--store", audit.UnknownStoreURL, "--table-prefix", "billing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.loc.Args(tt.lockKey); !slices.Equal(got, tt.want) {
				t.Errorf("Args(%q) = %q, want %q", tt.lockKey, got, tt.want)
			}
		})
	}
}
