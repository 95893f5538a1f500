package audittest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
)

func testConcurrentAppend(t *testing.T, h *harness) {
	const handles, writers, perWriter = 3, 6, 10
	stores := make([]audit.Store, handles)
	for i := range stores {
		stores[i] = h.store()
	}
	l := h.acquire(stores[0], "runner-a", longTTL)
	start := make(chan struct{})
	returned := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			<-start
			s := stores[w%handles]
			for i := range perWriter {
				e, err := s.Append(t.Context(), l, entry("s1", fmt.Sprintf("w%d-%d", w, i), audit.StateApplied))
				if err != nil {
					t.Errorf("writer %d, append %d: %v", w, i, err)
					return
				}
				returned[w] = append(returned[w], e.Seq)
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	var all []int64
	for w, got := range returned {
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Errorf("writer %d got seqs %v, want strictly increasing", w, got)
		}
		all = append(all, got...)
	}
	slices.Sort(all)
	hist := h.history(stores[1], audit.Filter{})
	if len(hist) != writers*perWriter {
		t.Fatalf("history holds %d entries, want %d", len(hist), writers*perWriter)
	}
	stored := seqs(hist)
	if !slices.Equal(stored, all) {
		t.Errorf("history seqs %v, want the %d distinct seqs Append returned, in order: %v", stored, len(all), all)
	}
	ids := map[string]bool{}
	for _, e := range hist {
		ids[e.ChangeID] = true
	}
	for w := range writers {
		for i := range perWriter {
			if id := fmt.Sprintf("w%d-%d", w, i); !ids[id] {
				t.Errorf("history lacks change %s", id)
			}
		}
	}
}

func testConcurrentAcquire(t *testing.T, h *harness) {
	const handles, owners = 4, 8
	stores := make([]audit.Store, handles)
	for i := range stores {
		stores[i] = h.store()
	}
	type result struct {
		lease audit.Lease
		err   error
	}
	results := make([]result, owners)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range owners {
		wg.Go(func() {
			<-start
			l, err := stores[i%handles].Acquire(t.Context(), key, fmt.Sprintf("runner-%d", i), longTTL)
			results[i] = result{l, err}
		})
	}
	close(start)
	wg.Wait()
	var winners []audit.Lease
	for _, r := range results {
		if r.err == nil {
			winners = append(winners, r.lease)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent acquirers won, want exactly one: %+v", len(winners), owners, results)
	}
	won := winners[0]
	for i, r := range results {
		if r.err == nil {
			continue
		}
		var held *audit.LockHeldError
		if !errors.As(r.err, &held) {
			t.Errorf("runner-%d: got %v, want a *audit.LockHeldError", i, r.err)
		} else if held.Info.Owner != won.Owner || held.Info.Epoch != won.Epoch {
			t.Errorf("runner-%d was told %s holds epoch %d, but %s won epoch %d", i, held.Info.Owner, held.Info.Epoch, won.Owner, won.Epoch)
		}
	}
	if info := h.lock(stores[0]); info.Owner != won.Owner || info.Epoch != won.Epoch {
		t.Errorf("Lock = %+v, want the winner %s at epoch %d", info, won.Owner, won.Epoch)
	}
}

func testConcurrentOpen(t *testing.T, h *harness) {
	const n = 6
	stores := make([]audit.Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = h.open(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("concurrent open %d: %v", i, errs[i])
			continue
		}
		h.closeAtEnd(s)
	}
	if t.Failed() {
		return
	}
	l := h.acquire(stores[0], "runner-a", longTTL)
	for i, s := range stores {
		h.append(s, l, entry("s1", fmt.Sprint("c", i), audit.StateApplied))
	}
	// Every handle, and one opened once the schema exists, sees every write.
	for i, s := range append(stores, h.store()) {
		if got := h.history(s, audit.Filter{}); len(got) != n {
			t.Errorf("handle %d sees %d entries, want %d", i, len(got), n)
		}
	}
}
