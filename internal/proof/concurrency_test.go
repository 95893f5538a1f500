package proof_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// TestConcurrentProcesses is the proof under concurrency: processes
// started at once on one database run the same pipeline, whose changes are
// not idempotent and run without a transaction, so that only the lock
// keeps each from running more than once.
func TestConcurrentProcesses(t *testing.T) {
	const (
		processes = 20
		changes   = 100
		// No lease expires in this test: a lease long enough for a starved
		// holder to refresh it on a loaded machine keeps it that way.
		lease = 10 * time.Second
	)
	tests := []struct {
		name   string
		store  string
		target string
		// states is the trail of each change, strategy what it records.
		states   []string
		strategy audit.Strategy
	}{
		{
			name:     "changes without a transaction, protected by the lock alone, each run once",
			store:    storePostgres,
			target:   targetNonTx,
			states:   []string{"STARTED", "APPLIED"},
			strategy: audit.StrategyNonTx,
		},
		{
			name:     "changes in transactions shared with their APPLIED entry each run once",
			store:    storePostgres,
			target:   targetPgx,
			states:   []string{"APPLIED"},
			strategy: audit.StrategySharedTx,
		},
		{
			// No MySQL target shares the store's transaction: on MySQL
			// the changes run without one.
			name:     "on MySQL, changes without a transaction, protected by the lock alone, each run once",
			store:    storeMySQL,
			target:   targetNonTx,
			states:   []string{"STARTED", "APPLIED"},
			strategy: audit.StrategyNonTx,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDatabase(t, tt.store, changes)
			children := make([]*child, processes)
			for i := range children {
				cfg := db.childConfig(t, fmt.Sprintf("proc-%02d", i+1), tt.target, changes, lease)
				cfg.Barrier = true
				children[i] = startChild(t, cfg)
			}
			// Every child has opened the store (creating its tables,
			// concurrently) and built its runner; let them all run at the
			// same instant.
			for _, c := range children {
				c.await("ready")
			}
			for _, c := range children {
				c.send("go")
			}

			exitedOK, waited := 0, 0
			appliedBy := map[string]string{} // change -> the process that reported it applied
			var appliers, twice []string
			for _, c := range children {
				x := c.wait()
				if strings.Contains(c.stderr.String(), `msg="waiting for lock"`) {
					waited++
				}
				if x.code != exitOK {
					t.Errorf("%s exited with code %d: %s\nits stderr:\n%s", c.name, x.code, x.report.Error, c.stderr.tail())
					continue
				}
				exitedOK++
				if len(x.report.Applied) > 0 {
					appliers = append(appliers, c.name)
				}
				if got := len(x.report.Applied) + x.report.Skipped; got != changes {
					t.Errorf("%s accounted for %d changes (applied %d, skipped %d), want %d",
						c.name, got, len(x.report.Applied), x.report.Skipped, changes)
				}
				for _, id := range x.report.Applied {
					if prev, dup := appliedBy[id]; dup {
						twice = append(twice, fmt.Sprintf("%s by %s and %s", id, prev, c.name))
					}
					appliedBy[id] = c.name
				}
			}
			if len(twice) > 0 {
				t.Errorf("%d changes reported applied by two processes: %s", len(twice), strings.Join(twice, "; "))
			}

			// The counters are the ground truth: each change ran exactly
			// once, by the process that says it applied it.
			wantCounts := map[string]string{}
			for i := 1; i <= changes; i++ {
				id := changeID(i)
				wantCounts[id] = counted(1, appliedBy[id])
			}
			counts := db.counts(t)
			if diff := cmp.Diff(wantCounts, counts); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
			atOne := 0
			for _, c := range counts {
				if strings.HasPrefix(c, "1 by ") {
					atOne++
				}
			}

			// The audit trail says the same, every entry written by the
			// process that applied the change, with the expected strategy.
			store := db.store(t)
			wantTrail := map[string][]string{}
			for id, runner := range appliedBy {
				for _, st := range tt.states {
					wantTrail[id] = append(wantTrail[id], st+" by "+runner)
				}
			}
			got := trail(t, store)
			if diff := cmp.Diff(wantTrail, got); diff != "" {
				t.Errorf("audit trail (-want +got):\n%s", diff)
			}
			applied := 0
			for _, e := range history(t, store) {
				if e.Strategy != tt.strategy {
					t.Errorf("%s of %s recorded with strategy %s, want %s", e.State, e.ChangeID, e.Strategy, tt.strategy)
				}
				if e.State == audit.StateApplied {
					applied++
				}
			}
			if info, err := store.Lock(t.Context(), lockKey); err != nil {
				t.Errorf("read the lock: %v", err)
			} else if info.Held() {
				t.Errorf("lock still held after every process ended: %+v", info)
			}

			slices.Sort(appliers)
			t.Logf("proof (%s on %s): %d processes started at once (%d waited for the lock), %d changes: %d/%d counters at exactly 1, %d/%d processes exited 0, %d APPLIED entries, changes applied by %v",
				tt.target, tt.store, processes, waited, changes, atOne, changes, exitedOK, processes, applied, appliers)
		})
	}
}
