package pipeline_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestALockHeldByAnotherRunnerFailsAfterTheWait(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other, err := e.store.Acquire(ctx, lockKey, "other-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "c1", strategy: nonTx})},
		pipeline.WithLockWait(30*time.Millisecond, 10*time.Millisecond))

	res, err := r.Run(ctx)

	var le *pipeline.LockError
	if !errors.As(err, &le) || !errors.Is(err, pipeline.ErrLockNotAcquired) {
		t.Fatalf("Run error = %v, want a *LockError matching ErrLockNotAcquired", err)
	}
	if le.Holder.Owner != "other-runner" || le.Holder.Epoch != other.Epoch ||
		!strings.Contains(err.Error(), "held by runner other-runner") || !strings.Contains(err.Error(), "until "+other.ExpiresAt.Format(time.RFC3339)) {
		t.Errorf("error %q does not say who holds the lock until when (%+v)", err, le.Holder)
	}
	if diff := cmp.Diff([]string{"s1/c1=not run"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if e.ran("c1") != 0 || len(e.history("s1", "c1")) != 0 {
		t.Error("c1 ran without the lock")
	}
	if l := e.lock(); l.Owner != "other-runner" || l.Epoch != other.Epoch {
		t.Errorf("lock = %+v, want it untouched", l)
	}
}

// signalHandler closes ch the first time a record with message msg is
// logged.
type signalHandler struct {
	msg  string
	ch   chan struct{}
	once *sync.Once
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalHandler) WithGroup(string) slog.Handler            { return h }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

func TestARunWaitsForTheLockAndTakesItWhenReleased(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other, err := e.store.Acquire(ctx, lockKey, "other-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "c1", strategy: nonTx})},
		pipeline.WithLockWait(time.Minute, 5*time.Millisecond),
		pipeline.WithLogger(slog.New(signalHandler{msg: "waiting for lock", ch: waiting, once: new(sync.Once)})))

	type outcome struct {
		res *pipeline.Result
		err error
	}
	done := make(chan outcome)
	go func() {
		res, err := r.Run(ctx)
		done <- outcome{res, err}
	}()
	var got outcome
	select {
	case <-waiting:
		if err := e.store.Release(ctx, other); err != nil {
			t.Fatal(err)
		}
		got = <-done
	case got = <-done:
		t.Fatalf("Run returned without waiting for the lock: %v", got.err)
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	if diff := cmp.Diff([]string{"s1/c1=applied"}, statuses(got.res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if l := e.lock(); l.Epoch != other.Epoch+1 || l.Held() {
		t.Errorf("lock = %+v, want epoch %d taken and released by the run", l, other.Epoch+1)
	}
}

// stalledStore is the SQLite store whose Refresh hangs once stall is set,
// as over a partitioned network.
type stalledStore struct {
	*sqlite.Store
	stall *atomic.Bool
}

func (s stalledStore) Refresh(ctx context.Context, l audit.Lease) (audit.Lease, error) {
	if s.stall.Load() {
		<-ctx.Done()
		return audit.Lease{}, ctx.Err()
	}
	return s.Store.Refresh(ctx, l)
}

func TestALostLeaseStopsTheRunAtTheNextAuditWrite(t *testing.T) {
	tests := []struct {
		strategy audit.Strategy
		wantNew  []audit.State
		wantRan  int
	}{
		// (A shared SQLite transaction cannot lose its lease: it holds the
		// write lock, so nobody can take the lock over, and the store renews
		// the lease when it records APPLIED; see
		// TestASharedTransactionChangeThatOutlastsTheLeaseIsApplied.)
		// The target committed; the marker will tell the next run.
		{separate, []audit.State{audit.StateStarted}, 1},
		// The change happened; the next run sees STARTED.
		{nonTx, []audit.State{audit.StateStarted}, 1},
	}
	for _, tt := range tests {
		t.Run("under "+string(tt.strategy)+" the refused write stops the run with ErrLockLost", func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			stall := new(atomic.Bool)
			// The change stops the refreshes and returns only once its lease
			// is gone: taken over by an intruder.
			hook := func(ctx context.Context) error {
				stall.Store(true)
				giveUp := time.Now().Add(time.Minute) // a guard: the lease expires in 150ms
				for time.Now().Before(giveUp) {
					if _, err := e.store.Acquire(ctx, lockKey, "intruder", time.Minute); err == nil {
						return nil
					} else if !errors.Is(err, audit.ErrLockHeld) {
						return err
					}
					time.Sleep(5 * time.Millisecond) // waiting for the store's clock to pass the expiry
				}
				return errors.New("the lease never expired")
			}
			r, err := pipeline.New(stalledStore{Store: e.store, stall: stall}, []pipeline.Stage{e.stage("s1",
				spec{id: "c1", order: 1, strategy: tt.strategy, hook: hook},
				spec{id: "c2", order: 2, strategy: tt.strategy},
			)}, pipeline.WithLease(150*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}

			res, err := r.Run(ctx)

			if !errors.Is(err, pipeline.ErrLockLost) || !errors.Is(err, audit.ErrFenced) {
				t.Fatalf("Run error = %v, want one matching ErrLockLost and audit.ErrFenced", err)
			}
			if diff := cmp.Diff([]string{"s1/c1=failed", "s1/c2=not run"}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNew, states(e.history("s1", "c1"))); diff != "" {
				t.Errorf("entries of c1 (-want +got):\n%s", diff)
			}
			if n := e.ran("c1"); n != tt.wantRan {
				t.Errorf("c1 left %d effects, want %d", n, tt.wantRan)
			}
			if e.ran("c2") != 0 || len(e.history("s1", "c2")) != 0 {
				t.Error("c2 ran after the lease was lost")
			}
		})
	}
}

// unreachableStore is the SQLite store whose Refresh fails once down is
// set. It holds the lock for a minute whatever the runner asks, so that
// only the failed refresh, not the clock, stops the run.
type unreachableStore struct {
	*sqlite.Store
	down   *atomic.Bool
	failed chan struct{}
	once   *sync.Once
}

func (s unreachableStore) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (audit.Lease, error) {
	l, err := s.Store.Acquire(ctx, key, owner, time.Minute)
	l.TTL = ttl
	return l, err
}

func (s unreachableStore) Refresh(ctx context.Context, l audit.Lease) (audit.Lease, error) {
	if s.down.Load() {
		s.once.Do(func() { close(s.failed) })
		return audit.Lease{}, errors.New("store unreachable")
	}
	ttl := l.TTL
	l.TTL = time.Minute
	l, err := s.Store.Refresh(ctx, l)
	l.TTL = ttl
	return l, err
}

func TestAFailedRefreshStopsTheRunBeforeTheNextChange(t *testing.T) {
	e := newEnv(t)
	store := unreachableStore{Store: e.store, down: new(atomic.Bool), failed: make(chan struct{}), once: new(sync.Once)}
	hook := func(context.Context) error {
		store.down.Store(true)
		select {
		case <-store.failed:
			return nil
		case <-time.After(time.Minute): // a guard: the lease is refreshed every 20ms
			return errors.New("the lease was never refreshed")
		}
	}
	r, err := pipeline.New(store, []pipeline.Stage{e.stage("s1",
		spec{id: "c1", order: 1, strategy: nonTx, hook: hook},
		spec{id: "c2", order: 2, strategy: nonTx},
	)}, pipeline.WithLease(60*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}

	res, err := r.Run(context.Background())

	var lle *pipeline.LockLostError
	if !errors.As(err, &lle) || !errors.Is(err, pipeline.ErrLockLost) || !strings.Contains(err.Error(), "store unreachable") {
		t.Fatalf("Run error = %v, want a *LockLostError naming the failed refresh", err)
	}
	if lle.ChangeID != "c2" {
		t.Errorf("LockLostError names change %q, want c2 (the change not started)", lle.ChangeID)
	}
	// c1 was running when the refresh failed; its lease was still valid in
	// the store, so its outcome is recorded.
	if diff := cmp.Diff([]string{"s1/c1=applied", "s1/c2=not run"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]audit.State{audit.StateStarted, audit.StateApplied}, states(e.history("s1", "c1"))); diff != "" {
		t.Errorf("entries of c1 (-want +got):\n%s", diff)
	}
	if e.ran("c2") != 0 || len(e.history("s1", "c2")) != 0 {
		t.Error("c2 started after a failed refresh")
	}
}
