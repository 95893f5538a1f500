package audittest

import (
	"errors"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// sameInstant compares store times at the precision the suite requires.
func sameInstant(a, b time.Time) bool { return within(a.Sub(b), time.Millisecond) }

func testAcquire(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	if l.Key != key || l.Owner != "runner-a" || l.Epoch < 1 || l.TTL != longTTL {
		t.Errorf("Acquire = %+v, want key %q, owner runner-a, epoch ≥ 1, ttl %s", l, key, longTTL)
	}
	info := h.lock(h.store())
	if !info.Held() || info.Owner != l.Owner || info.Epoch != l.Epoch || !sameInstant(info.ExpiresAt, l.ExpiresAt) {
		t.Errorf("after Acquire, Lock = %+v (held %t), want it held by the lease %+v", info, info.Held(), l)
	}
}

func testAcquireHeld(t *testing.T, h *harness) {
	l := h.acquire(h.store(), "runner-a", longTTL)
	s := h.store()
	_, err := s.Acquire(t.Context(), key, "runner-b", longTTL)
	if !errors.Is(err, audit.ErrLockHeld) {
		t.Fatalf("second owner's Acquire: got %v, want an error matching ErrLockHeld", err)
	}
	var held *audit.LockHeldError
	if !errors.As(err, &held) {
		t.Fatalf("second owner's Acquire: got %T (%v), want a *audit.LockHeldError", err, err)
	}
	if i := held.Info; i.Key != key || i.Owner != l.Owner || i.Epoch != l.Epoch || !sameInstant(i.ExpiresAt, l.ExpiresAt) || !i.Held() {
		t.Errorf("LockHeldError.Info = %+v (held %t), want the holder's lease %+v", i, i.Held(), l)
	}
	if info := h.lock(s); info.Owner != l.Owner || info.Epoch != l.Epoch {
		t.Errorf("a refused Acquire changed the lock: %+v, want owner %s epoch %d", info, l.Owner, l.Epoch)
	}
}

func testAcquireReentrant(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	_, err := s.Acquire(t.Context(), key, "runner-a", longTTL)
	var held *audit.LockHeldError
	if !errors.As(err, &held) || held.Info.Owner != "runner-a" {
		t.Fatalf("Acquire by the holder: got %v, want a *audit.LockHeldError naming runner-a", err)
	}
	// The first lease is untouched.
	h.append(s, l, entry("s1", "a", audit.StateApplied))
}

func testAcquireInvalid(t *testing.T, h *harness) {
	s := h.store()
	tests := []struct {
		name, key, owner string
		ttl              time.Duration
	}{
		{"empty key", "", "runner-a", longTTL},
		{"empty owner", key, "", longTTL},
		{"zero ttl", key, "runner-a", 0},
		{"negative ttl", key, "runner-a", -time.Second},
		{"ttl under a millisecond", key, "runner-a", time.Microsecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := s.Acquire(t.Context(), tc.key, tc.owner, tc.ttl)
			if err == nil {
				t.Fatalf("Acquire(%q, %q, %s) = %+v, want an error", tc.key, tc.owner, tc.ttl, l)
			}
			if errors.Is(err, audit.ErrLockHeld) {
				t.Errorf("Acquire(%q, %q, %s): %v, want an invalid-argument error, not ErrLockHeld", tc.key, tc.owner, tc.ttl, err)
			}
		})
	}
	if info := h.lock(s); info.Owner != "" || info.Epoch != 0 {
		t.Errorf("refused Acquires changed the lock: %+v", info)
	}
}

func testRefresh(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	same, err := s.Refresh(t.Context(), l)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if same.Key != l.Key || same.Owner != l.Owner || same.Epoch != l.Epoch || same.TTL != l.TTL || same.ExpiresAt.Before(l.ExpiresAt) {
		t.Errorf("Refresh(%+v) = %+v, want the same lease expiring no earlier", l, same)
	}
	// A longer TTL shows the expiry moving from the store's now, without
	// depending on how much time passed.
	longer := same
	longer.TTL = time.Hour
	got, err := s.Refresh(t.Context(), longer)
	if err != nil {
		t.Fatalf("Refresh for an hour: %v", err)
	}
	if got.Epoch != l.Epoch || got.TTL != time.Hour || got.ExpiresAt.Before(l.ExpiresAt.Add(time.Hour-longTTL)) {
		t.Errorf("Refresh for an hour = %+v, want epoch %d expiring at least %s after %s", got, l.Epoch, time.Hour-longTTL, l.ExpiresAt)
	}
	info := h.lock(h.store())
	if !info.Held() || info.Epoch != l.Epoch || !sameInstant(info.ExpiresAt, got.ExpiresAt) {
		t.Errorf("after Refresh, Lock = %+v, want held at epoch %d until %s", info, l.Epoch, got.ExpiresAt)
	}
	h.append(s, got, entry("s1", "a", audit.StateApplied))
}

func testRelease(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	if err := s.Release(t.Context(), l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if info := h.lock(s); info.Held() || info.Owner != "" || info.Epoch != l.Epoch {
		t.Errorf("after Release, Lock = %+v (held %t), want no owner at epoch %d", info, info.Held(), l.Epoch)
	}
	if next := h.acquire(h.store(), "runner-b", longTTL); next.Epoch <= l.Epoch {
		t.Errorf("Acquire after Release got epoch %d, want more than %d", next.Epoch, l.Epoch)
	}
}

func testTakeover(t *testing.T, h *harness) {
	a, b := h.store(), h.store()
	la := h.acquire(a, "runner-a", shortTTL)
	h.waitExpired(b)
	lb := h.acquire(b, "runner-b", longTTL)
	if lb.Epoch <= la.Epoch {
		t.Errorf("takeover got epoch %d, want more than the expired lease's %d", lb.Epoch, la.Epoch)
	}
	if _, err := a.Append(t.Context(), la, entry("s1", "a", audit.StateApplied)); !errors.Is(err, audit.ErrFenced) {
		t.Errorf("Append with the expired lease after takeover: got %v, want ErrFenced", err)
	}
	want := h.append(b, lb, entry("s1", "a", audit.StateApplied))
	if got := h.history(a, audit.Filter{}); len(got) != 1 || got[0].Seq != want.Seq {
		t.Errorf("history holds %+v, want only the new owner's entry seq %d", got, want.Seq)
	}
}

func testEpoch(t *testing.T, h *harness) {
	s := h.store()
	var epochs []int64
	release := func(l audit.Lease) {
		t.Helper()
		if err := s.Release(t.Context(), l); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
	l := h.acquire(s, "runner-a", longTTL)
	epochs = append(epochs, l.Epoch)
	release(l)
	l = h.acquire(s, "runner-a", longTTL) // the same owner again
	epochs = append(epochs, l.Epoch)
	release(l)
	l = h.acquire(s, "runner-b", shortTTL)
	epochs = append(epochs, l.Epoch)
	h.waitExpired(s)
	l = h.acquire(s, "runner-b", longTTL) // the same owner after expiry
	epochs = append(epochs, l.Epoch)
	for i := 1; i < len(epochs); i++ {
		if epochs[i] <= epochs[i-1] {
			t.Fatalf("epochs of successive acquisitions %v, want strictly increasing", epochs)
		}
	}
	if info := h.lock(s); info.Epoch != l.Epoch {
		t.Errorf("Lock epoch %d, want the last acquisition's %d", info.Epoch, l.Epoch)
	}
}

// testFenced checks that a lease that does not hold the lock can neither
// write, refresh nor release, and changes nothing.
func testFenced(t *testing.T, h *harness) {
	tests := []struct {
		name string
		// lease prepares the namespace and returns the lease to try.
		lease func(h *harness, s audit.Store) audit.Lease
	}{
		{"a lease of another owner", func(h *harness, s audit.Store) audit.Lease {
			l := h.acquire(s, "runner-a", longTTL)
			l.Owner = "runner-b"
			return l
		}},
		{"a lease with an older epoch", func(h *harness, s audit.Store) audit.Lease {
			l := h.acquire(s, "runner-a", longTTL)
			if err := s.Release(h.t.Context(), l); err != nil {
				h.t.Fatalf("Release: %v", err)
			}
			h.acquire(s, "runner-a", longTTL)
			return l
		}},
		{"a lease with a newer epoch", func(h *harness, s audit.Store) audit.Lease {
			l := h.acquire(s, "runner-a", longTTL)
			l.Epoch++
			return l
		}},
		{"a lease on another key", func(h *harness, s audit.Store) audit.Lease {
			l := h.acquire(s, "runner-a", longTTL)
			l.Key = "another-pipeline"
			return l
		}},
		{"a lease on a key never acquired", func(h *harness, s audit.Store) audit.Lease {
			return audit.Lease{Key: key, Owner: "runner-a", Epoch: 1, ExpiresAt: base.Add(time.Hour), TTL: longTTL}
		}},
		{"a released lease", func(h *harness, s audit.Store) audit.Lease {
			l := h.acquire(s, "runner-a", longTTL)
			if err := s.Release(h.t.Context(), l); err != nil {
				h.t.Fatalf("Release: %v", err)
			}
			return l
		}},
		{"an expired lease", func(h *harness, s audit.Store) audit.Lease {
			l := h.acquire(s, "runner-a", shortTTL)
			h.waitExpired(s)
			return l
		}},
		{"a lease another owner took over", func(h *harness, s audit.Store) audit.Lease {
			l := h.acquire(s, "runner-a", shortTTL)
			h.waitExpired(s)
			h.acquire(s, "runner-b", longTTL)
			return l
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, h.newNamespace)
			s := h.store()
			l := tc.lease(h, s)
			lockOf := func() audit.LockInfo {
				info, err := s.Lock(t.Context(), l.Key)
				if err != nil {
					t.Fatalf("Lock(%q): %v", l.Key, err)
				}
				return info
			}
			before := lockOf()
			if got, err := s.Append(t.Context(), l, entry("s1", "a", audit.StateApplied)); !errors.Is(err, audit.ErrFenced) {
				t.Errorf("Append: got (seq %d, %v), want ErrFenced", got.Seq, err)
			}
			if got, err := s.Refresh(t.Context(), l); !errors.Is(err, audit.ErrFenced) {
				t.Errorf("Refresh: got (%+v, %v), want ErrFenced", got, err)
			}
			if err := s.Release(t.Context(), l); !errors.Is(err, audit.ErrFenced) {
				t.Errorf("Release: got %v, want ErrFenced", err)
			}
			after := lockOf()
			if after.Owner != before.Owner || after.Epoch != before.Epoch || !sameInstant(after.ExpiresAt, before.ExpiresAt) {
				t.Errorf("fenced calls changed the lock from %+v to %+v", before, after)
			}
			h.wantEmpty(s)
		})
	}
}
