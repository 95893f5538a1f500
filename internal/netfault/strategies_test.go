package netfault

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/faultproxy"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// lease is the lease of runs that do not test refreshes: long enough that
// no refresh happens during a test on a loaded machine.
const lease = time.Minute

// faultCase is one fault and what the pipeline must do about it.
type faultCase struct {
	name  string
	rules []faultproxy.Rule
	// firstFails says whether the run during which the fault fires
	// returns an error.
	firstFails bool
	// second is the change's status in the run after the fault.
	second pipeline.Status
	// trail is the change's audit trail after both runs.
	trail []string
	// markers is how many markers the target keeps after both runs.
	markers int
}

func cut(m faultproxy.Matcher, when faultproxy.When) faultproxy.Rule {
	return faultproxy.Rule{Match: m, When: when}
}

const (
	before = faultproxy.BeforeForward
	after  = faultproxy.AfterForward
)

// TestSharedTransaction: the change and its APPLIED entry commit together,
// so whatever the fault, the audit row decides and the change takes effect
// exactly once.
func TestSharedTransaction(t *testing.T) {
	const (
		failed  = "FAILED SHARED_TX"
		applied = "APPLIED SHARED_TX"
	)
	cases := []faultCase{
		{name: "a connection cut mid-change rolls it back and the next run applies it once",
			rules: []faultproxy.Rule{cut(applyEffect, before)}, firstFails: true,
			second: pipeline.StatusApplied, trail: []string{failed, applied}},
		{name: "a cut APPLIED write inside the transaction rolls it back and the next run applies it once",
			rules: []faultproxy.Rule{cut(appendOf(audit.StateApplied), before)}, firstFails: true,
			second: pipeline.StatusApplied, trail: []string{failed, applied}},
		{name: "a COMMIT the server never saw leaves nothing and the next run applies it once",
			rules: []faultproxy.Rule{cut(commit, before)}, firstFails: true,
			second: pipeline.StatusApplied, trail: []string{failed, applied}},
		{name: "a COMMIT made but never acknowledged is found in the trail by the same run",
			rules:  []faultproxy.Rule{cut(commit, after)},
			second: pipeline.StatusSkipped, trail: []string{applied}},
		{name: "a COMMIT never acknowledged, with the trail unreadable right after, is decided by the next run's trail",
			rules: []faultproxy.Rule{cut(commit, after), cut(historyRead, before)}, firstFails: true,
			second: pipeline.StatusSkipped, trail: []string{applied}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tg := pgxtarget.Shared(w.store)
			r := w.runner(t, lease, change("c1", 1, tg, true, audit.RecoveryManual, effect("c1")))
			runTwice(t, w, r, tc, "c1")
			if n := w.effectsHere(t, "c1"); n != 1 {
				t.Errorf("c1 took effect %d times, want exactly once", n)
			}
		})
	}
}

// TestSeparateTransaction: the change commits with a marker in another
// database; after a fault the marker decides whether it committed.
func TestSeparateTransaction(t *testing.T) {
	const (
		started = "STARTED SEPARATE_TX"
		failed  = "FAILED SEPARATE_TX"
		applied = "APPLIED SEPARATE_TX"
	)
	cases := []faultCase{
		{name: "a connection cut mid-change rolls it back and the next run applies it once",
			rules: []faultproxy.Rule{cut(applyEffect, before)}, firstFails: true,
			second: pipeline.StatusApplied, trail: []string{started, failed, started, applied}},
		{name: "a COMMIT the server never saw is shown by the missing marker and the next run applies it once",
			rules: []faultproxy.Rule{cut(commit, before)}, firstFails: true,
			second: pipeline.StatusApplied, trail: []string{started, failed, started, applied}},
		{name: "a COMMIT made but never acknowledged is proven by the marker in the same run",
			rules:  []faultproxy.Rule{cut(commit, after)},
			second: pipeline.StatusSkipped, trail: []string{started, applied}},
		{name: "a COMMIT never acknowledged, with the marker unreadable right after, is recovered by the next run from the marker",
			rules: []faultproxy.Rule{cut(commit, after), cut(markerRead, before)}, firstFails: true,
			second: pipeline.StatusRecovered, trail: []string{started, applied}},
		{name: "a cut APPLIED write after the commit is recovered by the next run from the marker",
			rules: []faultproxy.Rule{cut(appendOf(audit.StateApplied), before)}, firstFails: true,
			second: pipeline.StatusRecovered, trail: []string{started, applied}},
		{name: "an APPLIED write stored but never acknowledged is not recorded twice",
			rules: []faultproxy.Rule{cut(appendOf(audit.StateApplied), after)}, firstFails: true,
			second: pipeline.StatusSkipped, trail: []string{started, applied},
			// The run that wrote APPLIED did not hear so and left the marker;
			// no later run clears it, which is harmless: it names an
			// execution no later STARTED entry will.
			markers: 1},
		{name: "a cut STARTED write runs nothing and the next run applies it once",
			rules: []faultproxy.Rule{cut(appendOf(audit.StateStarted), before)}, firstFails: true,
			second: pipeline.StatusApplied, trail: []string{started, applied}},
		{name: "a STARTED write stored but never acknowledged runs nothing and the next run finds no marker and applies it once",
			rules: []faultproxy.Rule{cut(appendOf(audit.StateStarted), after)}, firstFails: true,
			second: pipeline.StatusApplied, trail: []string{started, started, applied}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tg, direct := w.separate(t)
			r := w.runner(t, lease, change("c1", 1, tg, true, audit.RecoveryManual, effect("c1")))
			runTwice(t, w, r, tc, "c1")
			if n := effects(t, direct, effectsTable, "c1"); n != 1 {
				t.Errorf("c1 took effect %d times, want exactly once", n)
			}
			var markers int
			if err := direct.QueryRow(context.Background(), "SELECT count(*) FROM flamingock_marker").Scan(&markers); err != nil {
				t.Fatal(err)
			}
			if markers != tc.markers {
				t.Errorf("%d markers left after the change was recorded APPLIED, want %d", markers, tc.markers)
			}
		})
	}
}

// runTwice arms tc's faults, runs r (the faults must fire), then runs it
// again with the network healed, and checks both runs and the trail of
// change id.
func runTwice(t *testing.T, w *world, r *pipeline.Runner, tc faultCase, id string) {
	t.Helper()
	ctx := context.Background()
	var faults []*faultproxy.Fault
	for _, rule := range tc.rules {
		faults = append(faults, w.proxy.Arm(rule))
	}
	res, err := r.Run(ctx)
	fired(t, faults...)
	switch {
	case tc.firstFails && err == nil:
		t.Fatalf("run with the fault: no error (status %s), want one", status(res, id))
	case !tc.firstFails && err != nil:
		t.Fatalf("run with the fault: %v", err)
	}
	t.Logf("run with the fault: %s: %v", status(res, id), err)
	res, err = r.Run(ctx)
	if err != nil {
		t.Fatalf("run after the fault: %v", err)
	}
	if got := status(res, id); got != tc.second {
		t.Errorf("run after the fault: %s is %s, want %s", id, got, tc.second)
	}
	checkTrail(t, w, id, tc.trail...)
}

// TestNonTransactional: a change outside any transaction whose outcome a
// fault made uncertain is an issue under recovery manual (nothing runs),
// and runs again under recovery retry; a fault that leaves its outcome
// known (its APPLIED stored, or nothing started) needs no operator.
func TestNonTransactional(t *testing.T) {
	const (
		started = "STARTED NON_TX"
		failed  = "FAILED NON_TX"
		applied = "APPLIED NON_TX"
	)
	cases := []struct {
		name  string
		rule  faultproxy.Rule
		trail []string // after the faulty run
		// effects after the faulty run; manual and retry are what the next
		// run does under each recovery: issue, applied or skipped.
		effects        int
		manual, retry  pipeline.Status
		retriedEffects int
	}{
		{name: "a connection cut mid-change leaves FAILED",
			rule: cut(applyEffect, before), trail: []string{started, failed},
			manual: "issue", retry: pipeline.StatusApplied, retriedEffects: 1},
		{name: "a STARTED write stored but never acknowledged leaves STARTED though nothing ran",
			rule: cut(appendOf(audit.StateStarted), after), trail: []string{started},
			manual: "issue", retry: pipeline.StatusApplied, retriedEffects: 1},
		{name: "a cut STARTED write leaves nothing and the next run applies it",
			rule: cut(appendOf(audit.StateStarted), before), trail: nil,
			manual: pipeline.StatusApplied, retry: pipeline.StatusApplied, retriedEffects: 1},
		{name: "a cut APPLIED write leaves STARTED after the change took effect",
			rule: cut(appendOf(audit.StateApplied), before), trail: []string{started}, effects: 1,
			// Recovery retry is the declaration that running it twice is safe.
			manual: "issue", retry: pipeline.StatusApplied, retriedEffects: 2},
		{name: "an APPLIED write stored but never acknowledged is not recorded twice",
			rule: cut(appendOf(audit.StateApplied), after), trail: []string{started, applied}, effects: 1,
			manual: pipeline.StatusSkipped, retry: pipeline.StatusSkipped, retriedEffects: 1},
	}
	for _, tc := range cases {
		for _, rec := range []audit.Recovery{audit.RecoveryManual, audit.RecoveryRetry} {
			t.Run(tc.name+" and recovery "+string(rec)+" decides", func(t *testing.T) {
				ctx := context.Background()
				w := newWorld(t)
				r := w.runner(t, lease, change("c1", 1, pgxtarget.Shared(w.store), false, rec, effect("c1")))
				f := w.proxy.Arm(tc.rule)
				if _, err := r.Run(ctx); err == nil {
					t.Fatal("run with the fault: no error, want one")
				}
				fired(t, f)
				checkTrail(t, w, "c1", tc.trail...)
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

// TestEveryConnectionCutMidChange: the proxy drops every connection (the
// change's, the idle ones of the pool) while a shared-transaction change
// is inside its body; the change fails, nothing of it is kept, and the
// next run reconnects and applies it once.
func TestEveryConnectionCutMidChange(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	g := newGate()
	body := func(ctx context.Context, tx pgx.Tx) error {
		if err := effect("c1")(ctx, tx); err != nil {
			return err
		}
		if err := g.pass(ctx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT 1")
		return err
	}
	r := w.runner(t, lease, change("c1", 1, pgxtarget.Shared(w.store), true, audit.RecoveryManual, body))
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
	if err := <-errc; err == nil {
		t.Fatal("run cut mid-change: no error, want one")
	}
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("run after the cut: %v", err)
	}
	if got := status(res, "c1"); got != pipeline.StatusApplied {
		t.Errorf("c1 is %s, want %s", got, pipeline.StatusApplied)
	}
	checkTrail(t, w, "c1", "FAILED SHARED_TX", "APPLIED SHARED_TX")
	if n := w.effectsHere(t, "c1"); n != 1 {
		t.Errorf("c1 took effect %d times, want exactly once", n)
	}
}

// TestAuditReadCut: the read that plans the run changes nothing, so the
// runtime reads again after a cut; only a trail that stays unreadable for
// the whole retry budget fails the run, before it takes the lock or runs
// anything, and the next run applies the change.
func TestAuditReadCut(t *testing.T) {
	t.Run("one snapshot read cut is read again and the run applies the change once", func(t *testing.T) {
		ctx := context.Background()
		w := newWorld(t)
		r := w.runner(t, lease, change("c1", 1, pgxtarget.Shared(w.store), true, audit.RecoveryManual, effect("c1")))
		f := w.proxy.Arm(cut(snapshot, before))
		res, err := r.Run(ctx)
		fired(t, f)
		if err != nil {
			t.Fatalf("run with one snapshot read cut: %v", err)
		}
		if got := status(res, "c1"); got != pipeline.StatusApplied {
			t.Errorf("c1 is %s, want %s", got, pipeline.StatusApplied)
		}
		checkTrail(t, w, "c1", "APPLIED SHARED_TX")
		if n := w.effectsHere(t, "c1"); n != 1 {
			t.Errorf("c1 took effect %d times, want exactly once", n)
		}
	})

	t.Run("snapshot reads cut until the network heals fail the run before the lock, and the next run applies the change", func(t *testing.T) {
		ctx := context.Background()
		w := newWorld(t)
		// A short lease keeps the retry budget (within its margin) short.
		r := w.runner(t, 3*time.Second, change("c1", 1, pgxtarget.Shared(w.store), true, audit.RecoveryManual, effect("c1")))
		f := w.proxy.Arm(faultproxy.Rule{Match: snapshot, When: before, Repeat: true})
		res, err := r.Run(ctx)
		fired(t, f)
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
