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

// always returns the same trail for every change.
func always(entries ...string) func(int) []string {
	return func(int) []string { return entries }
}

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
		// entries is the trail of the i-th change (from 1), as "STATE
		// STRATEGY".
		entries func(i int) []string
		// ddl says which changes create a table of their own (MySQL's
		// targetSQL): it must exist at the end.
		ddl func(i int) bool
	}{
		{
			name:    "changes without a transaction, protected by the lock alone, each run once",
			store:   storePostgres,
			target:  targetNonTx,
			entries: always("STARTED NON_TX", "APPLIED NON_TX"),
		},
		{
			name:    "changes in transactions shared with their APPLIED entry each run once",
			store:   storePostgres,
			target:  targetPgx,
			entries: always("APPLIED SHARED_TX"),
		},
		{
			name:    "on MySQL, changes without a transaction, protected by the lock alone, each run once",
			store:   storeMySQL,
			target:  targetNonTx,
			entries: always("STARTED NON_TX", "APPLIED NON_TX"),
		},
		{
			// The MySQL target (sqltarget.Shared) writes STARTED first in
			// the change's transaction. A change of DML alone commits with
			// its APPLIED entry; one that runs DDL is committed by the
			// database at its DDL, STARTED with it, and recorded APPLIED
			// without a transaction.
			name:   "on MySQL, Go changes of DML and of DDL sharing the store's transactions each run once",
			store:  storeMySQL,
			target: targetSQL,
			entries: func(i int) []string {
				if mysqlDDL(i) {
					return []string{"STARTED SHARED_TX", "APPLIED NON_TX"}
				}
				return []string{"STARTED SHARED_TX", "APPLIED SHARED_TX"}
			},
			ddl: mysqlDDL,
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
			// process that applied the change, with the expected strategy:
			// no change has two APPLIED entries or a STARTED one left.
			store := db.store(t)
			wantTrail := map[string][]string{}
			for i := 1; i <= changes; i++ {
				id := changeID(i)
				for _, e := range tt.entries(i) {
					wantTrail[id] = append(wantTrail[id], e+" by "+appliedBy[id])
				}
			}
			h := history(t, store)
			got := map[string][]string{}
			applied := 0
			for _, e := range h {
				got[e.ChangeID] = append(got[e.ChangeID], fmt.Sprintf("%s %s by %s", e.State, e.Strategy, e.RunnerID))
				if e.State == audit.StateApplied {
					applied++
				}
			}
			if diff := cmp.Diff(wantTrail, got); diff != "" {
				t.Errorf("audit trail (-want +got):\n%s", diff)
			}
			// One lock holder at a time: in the order the store wrote them,
			// the entries of one process are never interleaved with
			// another's.
			var holders []string
			turns := map[string]int{}
			for _, e := range h {
				if n := len(holders); n == 0 || holders[n-1] != e.RunnerID {
					holders = append(holders, e.RunnerID)
					if turns[e.RunnerID]++; turns[e.RunnerID] == 2 {
						t.Errorf("the trail was written by turns of %v: %s wrote again after another process had", holders, e.RunnerID)
					}
				}
			}
			if tt.ddl != nil {
				tables := db.mysqlTables(t)
				for i := 1; i <= changes; i++ {
					if tt.ddl(i) && !tables[mysqlDDLTable(changeID(i))] {
						t.Errorf("%s is applied but its table %s does not exist", changeID(i), mysqlDDLTable(changeID(i)))
					}
				}
			}
			if info, err := store.Lock(t.Context(), lockKey); err != nil {
				t.Errorf("read the lock: %v", err)
			} else if info.Held() {
				t.Errorf("lock still held after every process ended: %+v", info)
			}

			slices.Sort(appliers)
			t.Logf("proof (%s on %s): %d processes started at once (%d waited for the lock), %d changes: %d/%d counters at exactly 1, %d/%d processes exited 0, %d APPLIED entries, changes applied by %v, the trail written by turns of %v",
				tt.target, tt.store, processes, waited, changes, atOne, changes, exitedOK, processes, applied, appliers, holders)
		})
	}
}
