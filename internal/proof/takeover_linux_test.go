package proof_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// TestTakeoverOfAStoppedLockHolder stops the lock holder A with SIGSTOP at
// a known point of its run, waits until its lease has expired by the
// database's clock, runs B to the end, then resumes A with SIGCONT: A must
// record nothing more, stop with an error naming the change, and no change
// may have run twice.
//
// changes is the pipeline's length; lease is short, since the test waits
// for it to expire, and long enough for a running holder to refresh it
// (every third of it) on a loaded machine.
const (
	changes = 10
	lease   = 3 * time.Second
)

func TestTakeoverOfAStoppedLockHolder(t *testing.T) {

	betweenChanges := []struct {
		name  string
		pause pausePoint
		// fenced: the store itself refuses A's next write, because A had
		// already checked its lease for the next change when it was stopped.
		// Otherwise A's runner finds its lease lost before it writes.
		fenced bool
	}{
		{
			name:  "stopped after change-002 was applied, it stops before change-003 once resumed",
			pause: pausePoint{At: "applied", Change: "change-002"},
		},
		{
			name:   "stopped after checking its lease for change-003, its STARTED entry is refused once resumed",
			pause:  pausePoint{At: "started", Change: "change-003"},
			fenced: true,
		},
	}
	// Without a transaction, on every store: on MySQL, the changes and
	// the store's writes go through its own handle.
	for _, tt := range betweenChanges {
		for _, storeName := range []string{storePostgres, storeMySQL} {
			t.Run(onStore(storeName, tt.name), func(t *testing.T) {
				db := newDatabase(t, storeName, changes)
				a, store, expired := stopHolder(t, db, targetNonTx, changes, lease, tt.pause)

				b := startChild(t, db.childConfig(t, "B", targetNonTx, changes, lease))
				xb := b.wait()
				if xb.code != exitOK {
					t.Fatalf("B exited with code %d: %s\nits stderr:\n%s", xb.code, xb.report.Error, b.stderr.tail())
				}
				var rest []string
				for i := 3; i <= changes; i++ {
					rest = append(rest, changeID(i))
				}
				if diff := cmp.Diff(rest, xb.report.Applied); diff != "" {
					t.Errorf("changes B applied (-want +got):\n%s", diff)
				}

				xa := resume(t, a)
				if xa.code != exitRunFailed || !xa.report.LockLost || !strings.Contains(xa.report.Error, `"change-003"`) {
					t.Errorf("A resumed: exit %d, error %q; want exit %d with a lost lock at change-003",
						xa.code, xa.report.Error, exitRunFailed)
				}
				if tt.fenced && !xa.report.Fenced {
					t.Errorf("A resumed: error %q does not match audit.ErrFenced", xa.report.Error)
				}
				if len(xa.report.Applied) != 2 {
					t.Errorf("A reports applied %v, want change-001 and change-002", xa.report.Applied)
				}
				t.Logf("A, resumed after B took over: exit %d: %s", xa.code, xa.report.Error)

				wantCounts := map[string]string{}
				wantTrail := map[string][]string{}
				for i := 1; i <= changes; i++ {
					runner := "A"
					if i > 2 {
						runner = "B"
					}
					wantCounts[changeID(i)] = counted(1, runner)
					wantTrail[changeID(i)] = []string{"STARTED by " + runner, "APPLIED by " + runner}
				}
				if diff := cmp.Diff(wantCounts, db.counts(t)); diff != "" {
					t.Errorf("counters (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantTrail, trail(t, store)); diff != "" {
					t.Errorf("audit trail (-want +got):\n%s", diff)
				}
				checkTakenOverAndReleased(t, store, expired)
			})
		}
	}

	inTransaction := []struct {
		name  string
		pause pausePoint
	}{
		{
			name:  "stopped inside transactional change-003, B takes over once the lease expired",
			pause: pausePoint{At: "inside", Change: "change-003"},
		},
		{
			name:  "stopped before committing change-003 with its APPLIED entry, B takes over once the lease expired",
			pause: pausePoint{At: "before-commit", Change: "change-003"},
		},
	}
	// Both PostgreSQL targets that share the change's transaction with its
	// APPLIED entry: pgx, and database/sql with WithPostgreSQL.
	for _, target := range []string{targetPgx, targetSQL} {
		for _, tt := range inTransaction {
			t.Run(target+": "+tt.name, func(t *testing.T) {
				testStoppedInTransaction(t, target, tt.pause)
			})
		}
	}

	for _, storeName := range []string{storePostgres, storeMySQL} {
		t.Run(onStore(storeName, "stopped inside change-003 without a transaction, the next run reports an issue and its APPLIED is refused"), func(t *testing.T) {
			db := newDatabase(t, storeName, changes)
			a, store, expired := stopHolder(t, db, targetNonTx, changes, lease, pausePoint{At: "inside", Change: "change-003"})

			// A recorded STARTED and incremented the counter of change-003:
			// whether the change completed only an operator can tell.
			wantCounts := map[string]string{}
			for i := 1; i <= changes; i++ {
				wantCounts[changeID(i)] = "0"
			}
			for i := 1; i <= 3; i++ {
				wantCounts[changeID(i)] = counted(1, "A")
			}
			wantTrail := map[string][]string{
				"change-001": {"STARTED by A", "APPLIED by A"},
				"change-002": {"STARTED by A", "APPLIED by A"},
				"change-003": {"STARTED by A"},
			}

			b := startChild(t, db.childConfig(t, "B", targetNonTx, changes, lease))
			xb := b.wait()
			if xb.code != exitRunFailed || !xb.report.ManualIntervention {
				t.Errorf("B: exit %d, error %q; want exit %d with manual intervention required",
					xb.code, xb.report.Error, exitRunFailed)
			}
			if diff := cmp.Diff([]string{"change-003"}, xb.report.Issues); diff != "" {
				t.Errorf("issues B reported (-want +got):\n%s", diff)
			}
			if !strings.Contains(xb.report.Error, "flamingock audit fix change-003 --resolution applied") {
				t.Errorf("B's error does not say how to resolve the issue:\n%s", xb.report.Error)
			}
			if len(xb.report.Applied) != 0 {
				t.Errorf("B applied %v, want nothing", xb.report.Applied)
			}
			if diff := cmp.Diff(wantCounts, db.counts(t)); diff != "" {
				t.Errorf("counters after B (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantTrail, trail(t, store)); diff != "" {
				t.Errorf("audit trail after B (-want +got):\n%s", diff)
			}

			xa := resume(t, a)
			if xa.code != exitRunFailed || !xa.report.LockLost || !xa.report.Fenced ||
				!strings.Contains(xa.report.Error, `change "change-003"`) {
				t.Errorf("A resumed: exit %d, error %q; want exit %d, its APPLIED of change-003 refused (lock lost, fenced)",
					xa.code, xa.report.Error, exitRunFailed)
			}
			t.Logf("A, resumed after B reported the issue: exit %d: %s", xa.code, xa.report.Error)
			if diff := cmp.Diff(wantCounts, db.counts(t)); diff != "" {
				t.Errorf("counters after A (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantTrail, trail(t, store)); diff != "" {
				t.Errorf("audit trail after A (-want +got):\n%s", diff)
			}
			checkTakenOverAndReleased(t, store, expired)
		})
	}
}

// onStore names a subtest of store: PostgreSQL's keep the names they had
// before the MySQL store joined them.
func onStore(store, name string) string {
	if store == storePostgres {
		return name
	}
	return "on " + store + ", " + name
}

// stopHolder starts A, the first runner, waits until it reaches pause and
// stops it there with SIGSTOP, then waits until its lease has expired by
// the database's clock. It returns A, the audit store, and the lock as it
// was when it expired.
func stopHolder(t *testing.T, db *database, target string, changes int, lease time.Duration, pause pausePoint) (*child, audit.Store, audit.LockInfo) {
	t.Helper()
	cfg := db.childConfig(t, "A", target, changes, lease)
	cfg.Pause = &pause
	a := startChild(t, cfg)
	a.await("paused " + pause.String())
	a.signal(syscall.SIGSTOP)
	waitStopped(t, a)
	store := db.store(t)
	expired := waitLeaseExpired(t, store)
	if expired.Owner != "A" {
		t.Fatalf("expired lock = %+v, want A's", expired)
	}
	return a, store, expired
}

// resume lets a stopped child go on and waits for it to end.
func resume(t *testing.T, c *child) exit {
	t.Helper()
	c.send("resume") // read once it runs again
	c.signal(syscall.SIGCONT)
	return c.wait()
}

// checkTakenOverAndReleased checks that exactly one acquisition (B's)
// followed the expired lease, and that the lock is free.
func checkTakenOverAndReleased(t *testing.T, store audit.Store, expired audit.LockInfo) {
	t.Helper()
	info, err := store.Lock(t.Context(), lockKey)
	if err != nil {
		t.Fatalf("read the lock: %v", err)
	}
	if info.Epoch != expired.Epoch+1 || info.Held() {
		t.Errorf("lock at the end = %+v; want epoch %d (B's, after A's %d), released", info, expired.Epoch+1, expired.Epoch)
	}
}

// waitStopped waits until the kernel reports c stopped, so that nothing
// the test does next can race with it.
func waitStopped(t *testing.T, c *child) {
	t.Helper()
	path := "/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/stat"
	deadline := time.Now().Add(patience)
	for {
		stat, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("state of %s: %v", c.name, err)
		}
		// pid (comm) state …; comm may hold spaces and parentheses.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 0 && fields[0] == "T" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not stopped within %s: %s", c.name, patience, s)
		}
		time.Sleep(time.Millisecond)
	}
}

// testStoppedInTransaction stops runner A inside a transactional change on
// target, at pause, past its lease, and checks that B takes over and
// finishes while A's transaction cannot block it.
func testStoppedInTransaction(t *testing.T, target string, pause pausePoint) {
	db := newDatabase(t, storePostgres, changes)
	a, store, expired := stopHolder(t, db, target, changes, lease, pause)

	cfg := db.childConfig(t, "B", target, changes, lease)
	// B has nothing to wait for but A's lease, expired already. If
	// it cannot have the lock, it must say so once its lock wait is
	// over: a minute is ample for either, and much less than
	// "forever".
	cfg.LockWait = 20 * time.Second
	b := startChild(t, cfg)
	xb := b.waitWithin(time.Minute, func() string {
		return fmt.Sprintf("its lock wait is %s; the test's sessions:\n%s", cfg.LockWait, db.sessions(t))
	})
	if xb.code != exitOK {
		t.Fatalf("B exited with code %d: %s\nits stderr:\n%s", xb.code, xb.report.Error, b.stderr.tail())
	}

	xa := resume(t, a)
	if xa.code != exitRunFailed || !strings.Contains(xa.report.Error, `"change-003"`) {
		t.Errorf("A resumed: exit %d, error %q; want exit %d naming change-003", xa.code, xa.report.Error, exitRunFailed)
	}
	t.Logf("A, resumed after B took over: exit %d: %s", xa.code, xa.report.Error)

	wantCounts := map[string]string{}
	wantTrail := map[string][]string{}
	for i := 1; i <= changes; i++ {
		runner := "A"
		if i > 2 {
			runner = "B"
		}
		wantCounts[changeID(i)] = counted(1, runner)
		wantTrail[changeID(i)] = []string{"APPLIED by " + runner}
	}
	if diff := cmp.Diff(wantCounts, db.counts(t)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantTrail, trail(t, store)); diff != "" {
		t.Errorf("audit trail (-want +got):\n%s", diff)
	}
	checkTakenOverAndReleased(t, store, expired)
}
