package netfault

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/faultproxy"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// refreshLease is short so that a refresh (every lease/3) happens while
// the first change waits for it; the test waits on the fault, not on time.
const refreshLease = 6 * time.Second

// waitingFor returns a change body that takes effect and then waits until
// f fired, so that the fault happens while the run is between changes.
func waitingFor(f *faultproxy.Fault, id string) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		if err := effect(id)(ctx, tx); err != nil {
			return err
		}
		select {
		case <-f.Fired():
			return nil
		case <-time.After(time.Minute):
			return errors.New("no lease refresh was cut within a minute")
		}
	}
}

// TestLeaseRefreshCut: the runner retries a refresh that failed before it
// starts the next change (a refresh is idempotent: same owner, same epoch),
// so one cut refresh costs nothing; refreshes that keep failing stop the
// run before the next change, and the next run applies it.
func TestLeaseRefreshCut(t *testing.T) {
	for _, when := range []faultproxy.When{before, after} {
		name := map[faultproxy.When]string{before: "before the server sees it", after: "after the server extended the lease"}[when]
		t.Run("one refresh cut "+name+" is retried and the run goes on under the same lease", func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			f := w.proxy.Arm(cut(refresh, when))
			tg := pgxtarget.Shared(w.store)
			r := w.runner(t, refreshLease,
				change("c1", 1, tg, true, audit.RecoveryManual, waitingFor(f, "c1")),
				change("c2", 2, tg, true, audit.RecoveryManual, effect("c2")))
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
		w := newWorld(t)
		f := w.proxy.Arm(faultproxy.Rule{Match: refresh, When: before, Repeat: true})
		tg := pgxtarget.Shared(w.store)
		r := w.runner(t, refreshLease,
			change("c1", 1, tg, true, audit.RecoveryManual, waitingFor(f, "c1")),
			change("c2", 2, tg, true, audit.RecoveryManual, effect("c2")))
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
