package netfault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/internal/faultproxy"
	"github.com/flamingock/flamingock-go/internal/mysqltest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// The MySQL store's statements the faults cut, as the driver sends them
// (arguments interpolated).
var (
	myAuditAppend = "INSERT INTO `flamingock_audit` (schema_version"
	mySnapshot    = faultproxy.SQLContains("JOIN (SELECT MAX(seq) AS latest FROM `flamingock_audit`")
	myRefresh     = faultproxy.SQLContains("UPDATE `flamingock_lock` SET expires_at = UTC_TIMESTAMP(6) + INTERVAL")
	myApplyEffect = faultproxy.SQLContains("INSERT INTO " + effectsTable)
)

// myAppendOf matches the MySQL store's audit write of state, quoted in the
// statement: 'APPLIED' is not part of 'MANUAL_MARKED_AS_APPLIED'.
func myAppendOf(state audit.State) faultproxy.Matcher {
	return faultproxy.All(faultproxy.SQLContains(myAuditAppend), faultproxy.SQLContains("'"+string(state)+"'"))
}

// mysqlWorld is a pipeline's surroundings on the MySQL test server: a
// database of the test's own, the store's connections going through one
// proxy. No MySQL target shares the store's transaction: its changes run
// without a transaction, over the store's handle.
type mysqlWorld struct {
	proxy *faultproxy.Proxy
	store *mysql.Store
	// direct is the test's database reached without the proxy, to check it.
	direct *sql.DB
	// url is the store URL of the database, not proxied.
	url string
}

func newMySQLWorld(t *testing.T) *mysqlWorld {
	t.Helper()
	server := mysqltest.New(t)
	name := server.Database(t, "netfault_")
	direct := server.Open(t, name)
	if _, err := direct.ExecContext(t.Context(), "CREATE TABLE "+effectsTable+" (change_id VARCHAR(64) NOT NULL)"); err != nil {
		t.Fatal(err)
	}

	w := &mysqlWorld{direct: direct, url: server.URL(name)}
	w.proxy = faultproxy.NewMySQL(t, server.Host)
	// The store's DSN names the proxy's port, not the server's.
	var err error
	proxied := mysqltest.Server{User: server.User, Host: w.proxy.Addr()}
	w.store, err = mysql.Open(t.Context(), proxied.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.store.Close() })
	// The store creates its tables at its first write: done before any
	// fault is armed, so that no rule matches it.
	ctx := context.Background()
	l, err := w.store.Acquire(ctx, "warm-up", "netfault", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	return w
}

// change is a change without a transaction on the store's handle: it
// takes effect once, then runs body, if any.
func (w *mysqlWorld) change(id string, order uint64, rec audit.Recovery, body func(context.Context, *sql.DB) error) pipeline.Change {
	m := pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "netfault", Target: "db",
		Recovery: rec, WithoutTransaction: true, Checksum: "sum-" + id, Source: id + ".go:1"}
	return pipeline.NewChange(m, pipeline.NonTransactional(w.store.DB()),
		func(ctx context.Context, db *sql.DB) error {
			if _, err := db.ExecContext(ctx, "INSERT INTO "+effectsTable+" (change_id) VALUES (?)", id); err != nil {
				return err
			}
			if body != nil {
				return body(ctx, db)
			}
			return nil
		}, nil)
}

func (w *mysqlWorld) runner(t *testing.T, lease time.Duration, changes ...pipeline.Change) *pipeline.Runner {
	t.Helper()
	r, err := pipeline.New(w.store, []pipeline.Stage{{Name: stage, Changes: changes}},
		pipeline.WithLockKey(lockKey), pipeline.WithLease(lease),
		pipeline.WithLockWait(time.Minute, 20*time.Millisecond),
		pipeline.WithLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// effectsHere returns how many times change id took effect, read without
// the proxy.
func (w *mysqlWorld) effectsHere(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := w.direct.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+effectsTable+" WHERE change_id = ?", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkTrail compares change id's audit trail, read without the proxy, as
// "STATE STRATEGY" lines, with want.
func (w *mysqlWorld) checkTrail(t *testing.T, id string, want ...string) {
	t.Helper()
	direct, err := mysql.Open(context.Background(), w.url)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	h, err := direct.History(context.Background(), audit.Filter{Stage: stage, ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range h {
		got = append(got, string(e.State)+" "+string(e.Strategy))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit trail of %s (-want +got):\n%s", id, diff)
	}
}

func firedMySQL(t *testing.T, faults ...*faultproxy.Fault) {
	t.Helper()
	for i, f := range faults {
		select {
		case <-f.Fired():
		default:
			t.Fatalf("fault %d never fired", i)
		}
	}
}

// TestMySQLNonTransactional is TestNonTransactional on the MySQL store,
// its connections cut through the proxy: a change whose outcome a fault
// made uncertain is an issue under recovery manual and runs again under
// recovery retry; a fault that leaves its outcome known needs no operator.
func TestMySQLNonTransactional(t *testing.T) {
	const (
		started = "STARTED NON_TX"
		failed  = "FAILED NON_TX"
		applied = "APPLIED NON_TX"
	)
	cases := []struct {
		name           string
		rule           faultproxy.Rule
		trail          []string
		effects        int
		manual, retry  pipeline.Status
		retriedEffects int
	}{
		{name: "a connection cut mid-change leaves FAILED",
			rule: cut(myApplyEffect, before), trail: []string{started, failed},
			manual: "issue", retry: pipeline.StatusApplied, retriedEffects: 1},
		{name: "a STARTED write stored but never acknowledged leaves STARTED though nothing ran",
			rule: cut(myAppendOf(audit.StateStarted), after), trail: []string{started},
			manual: "issue", retry: pipeline.StatusApplied, retriedEffects: 1},
		{name: "a cut STARTED write leaves nothing and the next run applies it",
			rule: cut(myAppendOf(audit.StateStarted), before), trail: nil,
			manual: pipeline.StatusApplied, retry: pipeline.StatusApplied, retriedEffects: 1},
		{name: "a cut APPLIED write leaves STARTED after the change took effect",
			rule: cut(myAppendOf(audit.StateApplied), before), trail: []string{started}, effects: 1,
			manual: "issue", retry: pipeline.StatusApplied, retriedEffects: 2},
		{name: "an APPLIED write stored but never acknowledged is not recorded twice",
			rule: cut(myAppendOf(audit.StateApplied), after), trail: []string{started, applied}, effects: 1,
			manual: pipeline.StatusSkipped, retry: pipeline.StatusSkipped, retriedEffects: 1},
	}
	for _, tc := range cases {
		for _, rec := range []audit.Recovery{audit.RecoveryManual, audit.RecoveryRetry} {
			t.Run(tc.name+" and recovery "+string(rec)+" decides", func(t *testing.T) {
				ctx := context.Background()
				w := newMySQLWorld(t)
				r := w.runner(t, lease, w.change("c1", 1, rec, nil))
				f := w.proxy.Arm(tc.rule)
				if _, err := r.Run(ctx); err == nil {
					t.Fatal("run with the fault: no error, want one")
				}
				firedMySQL(t, f)
				w.checkTrail(t, "c1", tc.trail...)
				if n := w.effectsHere(t, "c1"); n != tc.effects {
					t.Fatalf("after the faulty run c1 took effect %d times, want %d", n, tc.effects)
				}

				want, wantEffects := tc.manual, tc.effects
				if rec == audit.RecoveryRetry {
					want, wantEffects = tc.retry, tc.retriedEffects
				} else if want != "issue" {
					wantEffects = tc.retriedEffects
				}
				res, err := r.Run(ctx)
				if want == "issue" {
					issueOf(t, err, "c1")
					if got := status(res, "c1"); got != pipeline.StatusNotRun {
						t.Errorf("c1 is %s, want %s", got, pipeline.StatusNotRun)
					}
				} else {
					if err != nil {
						t.Fatalf("run after the fault: %v", err)
					}
					if got := status(res, "c1"); got != want {
						t.Errorf("run after the fault: c1 is %s, want %s", got, want)
					}
				}
				if n := w.effectsHere(t, "c1"); n != wantEffects {
					t.Errorf("c1 took effect %d times, want %d", n, wantEffects)
				}
			})
		}
	}
}

// TestMySQLEveryConnectionCutMidChange: the proxy drops every connection
// of the store's handle while a change without a transaction is inside its
// body. The handle reconnects for the change's next statement and the
// store's next write, so the run completes: the change took effect once
// and its trail is STARTED, APPLIED.
func TestMySQLEveryConnectionCutMidChange(t *testing.T) {
	ctx := context.Background()
	w := newMySQLWorld(t)
	g := newGate()
	body := func(ctx context.Context, db *sql.DB) error {
		if err := g.pass(ctx); err != nil {
			return err
		}
		_, err := db.ExecContext(ctx, "SELECT 1")
		return err
	}
	r := w.runner(t, lease, w.change("c1", 1, audit.RecoveryManual, body))
	errc := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx)
		errc <- err
	}()
	wait(t, g.inside, "the change entering its body")
	if n := w.proxy.DropAll(); n == 0 {
		t.Fatal("DropAll cut no connection")
	}
	close(g.release)
	if err := <-errc; err != nil {
		t.Fatalf("run with every connection cut between two statements: %v", err)
	}
	w.checkTrail(t, "c1", "STARTED NON_TX", "APPLIED NON_TX")
	if n := w.effectsHere(t, "c1"); n != 1 {
		t.Errorf("c1 took effect %d times, want exactly once", n)
	}
}

// TestMySQLAuditReadCut is TestAuditReadCut on the MySQL store.
func TestMySQLAuditReadCut(t *testing.T) {
	t.Run("one snapshot read cut is read again and the run applies the change once", func(t *testing.T) {
		ctx := context.Background()
		w := newMySQLWorld(t)
		r := w.runner(t, lease, w.change("c1", 1, audit.RecoveryManual, nil))
		f := w.proxy.Arm(cut(mySnapshot, before))
		res, err := r.Run(ctx)
		firedMySQL(t, f)
		if err != nil {
			t.Fatalf("run with one snapshot read cut: %v", err)
		}
		if got := status(res, "c1"); got != pipeline.StatusApplied {
			t.Errorf("c1 is %s, want %s", got, pipeline.StatusApplied)
		}
		w.checkTrail(t, "c1", "STARTED NON_TX", "APPLIED NON_TX")
		if n := w.effectsHere(t, "c1"); n != 1 {
			t.Errorf("c1 took effect %d times, want exactly once", n)
		}
	})

	t.Run("snapshot reads cut until the network heals fail the run before the lock, and the next run applies the change", func(t *testing.T) {
		ctx := context.Background()
		w := newMySQLWorld(t)
		r := w.runner(t, 3*time.Second, w.change("c1", 1, audit.RecoveryManual, nil))
		f := w.proxy.Arm(faultproxy.Rule{Match: mySnapshot, When: before, Repeat: true})
		res, err := r.Run(ctx)
		firedMySQL(t, f)
		if err == nil {
			t.Fatal("run with the snapshot reads cut: no error, want one")
		}
		if f.Count() < 2 {
			t.Errorf("%d snapshot reads cut, want the read and at least one retry", f.Count())
		}
		if got := status(res, "c1"); got != pipeline.StatusNotRun {
			t.Errorf("c1 is %s, want %s", got, pipeline.StatusNotRun)
		}
		if n := w.effectsHere(t, "c1"); n != 0 {
			t.Errorf("c1 took effect %d times during a run that could not read the trail", n)
		}
		info, err := w.store.Lock(ctx, lockKey)
		if err != nil {
			t.Fatal(err)
		}
		if info.Epoch != 0 {
			t.Errorf("lock epoch %d: the run took the lock without having read the trail", info.Epoch)
		}
		f.Disarm()
		if _, err := r.Run(ctx); err != nil {
			t.Fatalf("run after the network healed: %v", err)
		}
		if n := w.effectsHere(t, "c1"); n != 1 {
			t.Errorf("c1 took effect %d times, want exactly once", n)
		}
	})
}

// waitingForMySQL is waitingFor on the MySQL store: a change body that
// waits until f cut cuts refreshes, so that the faults happen while the run
// is between changes. A fault fires when the proxy reads the statement,
// before the runner hears of the failure: waiting for a second cut, which
// only a retry sends, makes sure the runner knows its refresh failed when
// the change returns (else the next change may start under the lease it
// still holds with margin, as it may).
func waitingForMySQL(f *faultproxy.Fault, cuts int) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, _ *sql.DB) error {
		giveUp := time.After(time.Minute)
		select {
		case <-f.Fired():
		case <-giveUp:
			return errors.New("no lease refresh was cut within a minute")
		}
		for f.Count() < cuts {
			select {
			case <-time.After(5 * time.Millisecond):
			case <-giveUp:
				return fmt.Errorf("%d lease refreshes cut within a minute, want %d", f.Count(), cuts)
			}
		}
		return nil
	}
}

// TestMySQLLeaseRefreshCut is TestLeaseRefreshCut on the MySQL store.
func TestMySQLLeaseRefreshCut(t *testing.T) {
	for _, when := range []faultproxy.When{before, after} {
		name := map[faultproxy.When]string{before: "before the server sees it", after: "after the server extended the lease"}[when]
		t.Run("one refresh cut "+name+" is retried and the run goes on under the same lease", func(t *testing.T) {
			ctx := context.Background()
			w := newMySQLWorld(t)
			f := w.proxy.Arm(cut(myRefresh, when))
			r := w.runner(t, refreshLease,
				w.change("c1", 1, audit.RecoveryManual, waitingForMySQL(f, 1)),
				w.change("c2", 2, audit.RecoveryManual, nil))
			res, err := r.Run(ctx)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, id := range []string{"c1", "c2"} {
				if got := status(res, id); got != pipeline.StatusApplied {
					t.Errorf("%s is %s, want %s", id, got, pipeline.StatusApplied)
				}
				if n := w.effectsHere(t, id); n != 1 {
					t.Errorf("%s took effect %d times, want once", id, n)
				}
			}
			info, err := w.store.Lock(ctx, lockKey)
			if err != nil {
				t.Fatal(err)
			}
			if info.Epoch != 1 || info.Owner != "" {
				t.Errorf("lock after the run: owner %q epoch %d, want released at epoch 1 (never lost)", info.Owner, info.Epoch)
			}
		})
	}

	t.Run("refreshes cut until the network heals stop the run before the next change, which the next run applies", func(t *testing.T) {
		ctx := context.Background()
		w := newMySQLWorld(t)
		f := w.proxy.Arm(faultproxy.Rule{Match: myRefresh, When: before, Repeat: true})
		r := w.runner(t, refreshLease,
			w.change("c1", 1, audit.RecoveryManual, waitingForMySQL(f, 2)),
			w.change("c2", 2, audit.RecoveryManual, nil))
		res, err := r.Run(ctx)
		var lost *pipeline.LockLostError
		if !errors.As(err, &lost) {
			t.Fatalf("run with refreshes cut: got %v, want a *LockLostError", err)
		}
		if got := status(res, "c1"); got != pipeline.StatusApplied {
			t.Errorf("c1 is %s, want %s", got, pipeline.StatusApplied)
		}
		if got := status(res, "c2"); got != pipeline.StatusNotRun {
			t.Errorf("c2 is %s, want %s: no change starts without a valid lease", got, pipeline.StatusNotRun)
		}
		if n := w.effectsHere(t, "c2"); n != 0 {
			t.Fatalf("c2 took effect %d times without a valid lease", n)
		}
		if f.Count() < 2 {
			t.Errorf("%d refreshes cut, want the periodic one and the retry before c2", f.Count())
		}
		f.Disarm()

		res, err = r.Run(ctx)
		if err != nil {
			t.Fatalf("run after the network healed: %v", err)
		}
		if got := status(res, "c2"); got != pipeline.StatusApplied {
			t.Errorf("c2 is %s, want %s", got, pipeline.StatusApplied)
		}
		for _, id := range []string{"c1", "c2"} {
			if n := w.effectsHere(t, id); n != 1 {
				t.Errorf("%s took effect %d times, want once", id, n)
			}
		}
	})
}
