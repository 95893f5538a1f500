package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// secondHandle opens the file of e's audit store again, as another process
// of the application would, waiting at most busy for SQLite's write lock.
func (e *env) secondHandle(busy time.Duration) *sqlite.Store {
	e.t.Helper()
	s, err := sqlite.Open(context.Background(), strings.TrimPrefix(e.storeURL, "sqlite:"), sqlite.WithBusyTimeout(busy))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// holdingWriteLock starts runner-a's run of change "slow", which holds
// SQLite's write lock (it shares its transaction with the store) for hold,
// and returns once it does, with a channel that reports the run's error.
func (e *env) holdingWriteLock(hold time.Duration) <-chan error {
	e.t.Helper()
	inside := make(chan struct{})
	st := e.stage("s1", spec{id: "slow", strategy: shared, hook: func(context.Context) error {
		close(inside)
		time.Sleep(hold)
		return nil
	}})
	r := e.runner([]pipeline.Stage{st}, pipeline.WithRunnerID("runner-a"), pipeline.WithLogger(slog.New(slog.DiscardHandler)))
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background())
		done <- err
	}()
	select {
	case <-inside:
	case err := <-done:
		e.t.Fatalf("runner-a ended before its change ran: %v", err)
	}
	return done
}

// slowOn is change "slow" of holdingWriteLock declared on store b, as the
// other process declares it; it must never run there.
func (e *env) slowOn(b *sqlite.Store) pipeline.Stage {
	return pipeline.Stage{Name: "s1", Changes: []pipeline.Change{
		pipeline.NewChange(e.meta(spec{id: "slow", strategy: shared}), pipeline.Target[*sql.Tx](sqltarget.Shared(b)),
			func(context.Context, *sql.Tx) error { return errors.New("slow ran twice") }, nil),
	}}
}

// A shared-transaction change holds SQLite's write lock for as long as it
// runs. A second process starting meanwhile must wait for it, as it waits
// for the pipeline's lock, not fail once its busy timeout has passed: its
// start-up read takes the write lock too.
func TestASecondProcessWaitsWhileASharedTransactionHoldsTheWriteLock(t *testing.T) {
	const hold = 1500 * time.Millisecond // far over b's busy timeout and retries
	for _, call := range []string{"Run", "Validate"} {
		t.Run(call+" waits, saying so, and finds the change applied", func(t *testing.T) {
			e := newEnv(t)
			b := e.secondHandle(50 * time.Millisecond)
			logs := newLogBook()
			r, err := pipeline.New(b, []pipeline.Stage{e.slowOn(b)}, pipeline.WithRunnerID("runner-b"),
				// The lease outlasts a second of waiting under load: the test is about
				// the wait, not about a lease running out.
				pipeline.WithLease(5*time.Second), pipeline.WithLockWait(time.Minute, 20*time.Millisecond),
				pipeline.WithLogger(logs.logger()))
			if err != nil {
				t.Fatal(err)
			}
			a := e.holdingWriteLock(hold)

			start := time.Now()
			switch call {
			case "Run":
				var res *pipeline.Result
				res, err = r.Run(context.Background())
				if err == nil {
					if diff := cmp.Diff([]string{"s1/slow=skipped"}, statuses(res)); diff != "" {
						t.Errorf("outcomes (-want +got):\n%s", diff)
					}
				}
			case "Validate":
				err = r.Validate(context.Background())
			}
			if err != nil {
				t.Fatalf("%s after %s: %v, want it to wait for runner-a", call, time.Since(start).Round(time.Millisecond), err)
			}
			if err := <-a; err != nil {
				t.Fatalf("runner-a: %v", err)
			}
			if n := e.ran("slow"); n != 1 {
				t.Errorf("slow took effect %d times, want once", n)
			}
			warns := logs.at(slog.LevelWarn, "waiting for the audit store's write lock")
			if len(warns) != 1 || warns[0].Attrs["holder"] != "runner-a" || warns[0].Attrs["since"] == "" {
				t.Errorf("warnings %v, want one naming runner-a and since when; log:%s", warns, logs.dump())
			}
		})
	}
}

// readThenBusy is a second handle whose start-up read is followed, once,
// by another connection taking SQLite's write lock for hold: the run finds
// changes pending, then finds the write lock taken when it acquires the
// pipeline's lock.
type readThenBusy struct {
	*sqlite.Store
	once  *sync.Once
	other *sql.DB
	hold  time.Duration
	t     *testing.T
}

func (s readThenBusy) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	entries, current, err := s.Store.SnapshotUnlessCurrent(ctx, digest)
	s.once.Do(func() {
		tx, err := s.other.BeginTx(context.Background(), nil) // BEGIN IMMEDIATE: the write lock
		if err != nil {
			s.t.Errorf("take the write lock: %v", err)
			return
		}
		time.AfterFunc(s.hold, func() { tx.Rollback() })
	})
	return entries, current, err
}

func TestAcquiringTheLockWaitsWhileAnotherConnectionHoldsTheWriteLock(t *testing.T) {
	e := newEnv(t)
	b := e.secondHandle(50 * time.Millisecond)
	logs := newLogBook()
	store := readThenBusy{Store: b, once: new(sync.Once), other: e.store.DB(), hold: time.Second, t: t}
	r, err := pipeline.New(store, []pipeline.Stage{e.stage("s1", spec{id: "flag", strategy: nonTx})},
		// The lease outlasts a second of waiting under load: the test is about
		// the wait, not about a lease running out.
		pipeline.WithLease(5*time.Second), pipeline.WithLockWait(time.Minute, 20*time.Millisecond),
		pipeline.WithLogger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v, want it to wait for the write lock", err)
	}
	if diff := cmp.Diff([]string{"s1/flag=applied"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	warns := logs.at(slog.LevelWarn, "waiting for the audit store's write lock")
	if len(warns) != 1 || warns[0].Attrs["holder"] != "" {
		t.Errorf("warnings %v, want one naming no runner (none holds the pipeline's lock); log:%s", warns, logs.dump())
	}
}

// The wait for the write lock is bounded by WithLockWait, and ends as a
// wait for the pipeline's lock does.
func TestAWriteLockHeldForTheWholeWaitIsALockNotAcquired(t *testing.T) {
	e := newEnv(t)
	b := e.secondHandle(50 * time.Millisecond)
	r, err := pipeline.New(b, []pipeline.Stage{e.slowOn(b)}, pipeline.WithLease(300*time.Millisecond),
		pipeline.WithLockWait(300*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	a := e.holdingWriteLock(1500 * time.Millisecond)
	res, err := r.Run(context.Background())
	var le *pipeline.LockError
	if !errors.As(err, &le) || !errors.Is(err, pipeline.ErrLockNotAcquired) || !errors.Is(err, audit.ErrBusy) {
		t.Errorf("Run error = %v, want a *LockError matching ErrLockNotAcquired and audit.ErrBusy", err)
	} else if le.Holder.Owner != "runner-a" || !strings.Contains(err.Error(), "runner-a") {
		t.Errorf("error %q (holder %+v) does not name runner-a", err, le.Holder)
	}
	if diff := cmp.Diff([]string{"s1/slow=not run"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if err := <-a; err != nil {
		t.Fatalf("runner-a: %v", err)
	}
}
