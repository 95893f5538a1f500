package audittest

import (
	"errors"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// wantForcedRelease fails the test unless info shows the key free at epoch,
// with the forced release by operator recorded at the time ForceRelease
// returned in before.Now.
func wantForcedRelease(t *testing.T, info audit.LockInfo, epoch int64, operator string, before audit.LockInfo) {
	t.Helper()
	if info.Held() || info.Owner != "" || info.Epoch != epoch {
		t.Errorf("after ForceRelease, Lock = %+v (held %t), want no owner at epoch %d", info, info.Held(), epoch)
	}
	if info.ReleasedBy != operator || !sameInstant(info.ReleasedAt, before.Now) || info.ReleasedAt.Location() != time.UTC {
		t.Errorf("after ForceRelease, Lock records release by %q at %s, want %q at the release's time %s, in UTC",
			info.ReleasedBy, info.ReleasedAt, operator, before.Now)
	}
}

func testForceReleaseHeld(t *testing.T, h *harness) {
	holder := h.store()
	l := h.acquire(holder, "runner-a", longTTL)
	operator := h.store()

	before, err := operator.ForceRelease(t.Context(), key, "alice@ops")
	if err != nil {
		t.Fatalf("ForceRelease: %v", err)
	}

	if before.Key != key || before.Owner != l.Owner || before.Epoch != l.Epoch || !sameInstant(before.ExpiresAt, l.ExpiresAt) || !before.Held() {
		t.Errorf("ForceRelease returned %+v (held %t), want the holder's lease %+v as it was before", before, before.Held(), l)
	}
	wantForcedRelease(t, h.lock(holder), l.Epoch, "alice@ops", before)
	// The former holder can record nothing, refresh nothing, release nothing.
	if got, err := holder.Append(t.Context(), l, entry("s1", "a", audit.StateApplied)); !errors.Is(err, audit.ErrFenced) {
		t.Errorf("the former holder's Append: got (seq %d, %v), want ErrFenced", got.Seq, err)
	}
	if got, err := holder.Refresh(t.Context(), l); !errors.Is(err, audit.ErrFenced) {
		t.Errorf("the former holder's Refresh: got (%+v, %v), want ErrFenced", got, err)
	}
	if err := holder.Release(t.Context(), l); !errors.Is(err, audit.ErrFenced) {
		t.Errorf("the former holder's Release: got %v, want ErrFenced", err)
	}
	h.wantEmpty(holder)
	// The next runner takes the lock at once, at a larger epoch; the record
	// of the forced release stays.
	next := h.acquire(operator, "runner-b", longTTL)
	if next.Epoch <= l.Epoch {
		t.Errorf("Acquire after ForceRelease got epoch %d, want more than %d", next.Epoch, l.Epoch)
	}
	if info := h.lock(operator); info.ReleasedBy != "alice@ops" || !sameInstant(info.ReleasedAt, before.Now) {
		t.Errorf("after the next Acquire, Lock = %+v, want the forced release by alice@ops still recorded", info)
	}
	h.append(operator, next, entry("s1", "a", audit.StateApplied))
}

func testForceReleaseFree(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", shortTTL)
	h.waitExpired(s)

	expired, err := s.ForceRelease(t.Context(), key, "alice@ops")
	if err != nil {
		t.Fatalf("ForceRelease of an expired lease: %v", err)
	}
	if expired.Owner != "runner-a" || expired.Epoch != l.Epoch || expired.Held() {
		t.Errorf("ForceRelease of an expired lease returned %+v (held %t), want runner-a's expired lease at epoch %d", expired, expired.Held(), l.Epoch)
	}
	wantForcedRelease(t, h.lock(s), l.Epoch, "alice@ops", expired)

	// Forcing a free lock again records the newer operator.
	again, err := s.ForceRelease(t.Context(), key, "bob@ops")
	if err != nil {
		t.Fatalf("ForceRelease of a free lock: %v", err)
	}
	if again.Owner != "" || again.Epoch != l.Epoch || again.ReleasedBy != "alice@ops" {
		t.Errorf("the second ForceRelease returned %+v, want the free lock at epoch %d as alice@ops left it", again, l.Epoch)
	}
	wantForcedRelease(t, h.lock(s), l.Epoch, "bob@ops", again)
}

func testForceReleaseNeverAcquired(t *testing.T, h *harness) {
	s := h.store()
	info, err := s.ForceRelease(t.Context(), key, "alice@ops")
	if err != nil {
		t.Fatalf("ForceRelease of a key never acquired: %v", err)
	}
	if info.Key != key || info.Owner != "" || info.Epoch != 0 || info.ReleasedBy != "" {
		t.Errorf("ForceRelease of a key never acquired returned %+v, want the key with epoch 0", info)
	}
	if got := h.lock(s); got.Epoch != 0 || got.ReleasedBy != "" || !got.ReleasedAt.IsZero() {
		t.Errorf("ForceRelease of a key never acquired wrote %+v, want nothing", got)
	}
	if l := h.acquire(s, "runner-a", longTTL); l.Epoch < 1 {
		t.Errorf("Acquire after it got epoch %d, want ≥ 1", l.Epoch)
	}
}

func testForceReleaseInvalid(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	for _, tc := range []struct{ name, key, operator string }{
		{"empty key", "", "alice@ops"},
		{"empty operator", key, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if info, err := s.ForceRelease(t.Context(), tc.key, tc.operator); err == nil {
				t.Errorf("ForceRelease(%q, %q) = %+v, want an error", tc.key, tc.operator, info)
			}
		})
	}
	if info := h.lock(s); !info.Held() || info.Owner != l.Owner || info.Epoch != l.Epoch || info.ReleasedBy != "" {
		t.Errorf("refused ForceReleases changed the lock: %+v", info)
	}
}
