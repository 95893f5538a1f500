package crashmatrix_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crashtest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// gatedRefresh is a store whose first lease refresh, once sent, waits for
// gate: a refresh slowed by a busy store or a loaded machine.
type gatedRefresh struct {
	audit.Store
	once    sync.Once
	entered chan struct{} // closed when the first refresh is in flight
	gate    chan struct{}
}

func (s *gatedRefresh) Refresh(ctx context.Context, l audit.Lease) (audit.Lease, error) {
	first := false
	s.once.Do(func() { first = true; close(s.entered) })
	if first {
		select {
		case <-s.gate:
		case <-ctx.Done(): // the run is over
			return audit.Lease{}, ctx.Err()
		}
	}
	return s.Store.Refresh(ctx, l)
}

// onMessage is a log handler calling fn, once, for the first record with
// message msg.
type onMessage struct {
	msg  string
	once *sync.Once
	fn   func()
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h onMessage) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h onMessage) WithGroup(string) slog.Handler            { return h }
func (h onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(h.fn)
	}
	return nil
}

// Found by the crash matrix under the race detector: a child stopped with
// "lease … was not refreshed in time" because, when its lease needed
// renewing before a rollback, a refresh was already in flight and the
// runner gave up at once instead of waiting for it.
func TestANextChangeWaitsForALeaseRefreshInFlightInsteadOfStoppingTheRun(t *testing.T) {
	t.Parallel()
	const ttl = 4500 * time.Millisecond // refreshed every 1.5s, the margin
	w := newWorld(t, storeSQLite)
	store := &gatedRefresh{Store: w.store, entered: make(chan struct{}), gate: make(chan struct{})}
	log := effectLog{filepath.Join(w.spec.Dir, "effects.log")}
	m := &logMedium{path: log.path}

	// The first change holds the run until the first refresh is in flight
	// and the lease, by the store's clock, has less than its margin left:
	// the next change then needs the refresh to start.
	hold := pipeline.NewChange(meta("first", 1, audit.StrategyNonTx, audit.RecoveryManual), pipeline.NonTransactional(log),
		func(ctx context.Context, l effectLog) error {
			<-store.entered
			for {
				info, err := w.store.Lock(ctx, lockKey)
				if err != nil {
					return err
				}
				if info.ExpiresAt.Sub(info.Now) < ttl/3-200*time.Millisecond {
					return l.add("apply", "first")
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
		}, nil)
	next := m.change(meta("second", 2, audit.StrategyNonTx, audit.RecoveryManual), false)
	waited := false
	logger := slog.New(onMessage{msg: "waiting for the lease refresh in flight", once: new(sync.Once), fn: func() {
		waited = true
		close(store.gate)
	}})
	r, err := pipeline.New(store, []pipeline.Stage{{Name: stageName, Changes: []pipeline.Change{hold, next}}},
		pipeline.WithLease(ttl), pipeline.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}

	res, err := r.Run(t.Context())

	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if diff := cmp.Diff([]string{"first=applied", "second=applied"}, crashtest.Statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if !waited {
		t.Error("the run did not wait for the refresh in flight")
	}
	if n := effects(t, m, "second"); n != 1 {
		t.Errorf("the second change has %d effects, want 1", n)
	}
}
