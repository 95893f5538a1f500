package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crash"
)

// lease is the lock a run holds. A goroutine refreshes it every ttl/3;
// valid tells whether a change may start.
type lease struct {
	store  audit.Store
	logger *slog.Logger
	margin time.Duration
	// backoff retries a failed refresh, within the margin.
	backoff backoff

	// refreshing holds a token while a call to Refresh is in flight: it
	// serializes them, and valid can wait for one with a bound.
	refreshing chan struct{}

	mu sync.Mutex
	// cur is the latest lease the store granted.
	cur audit.Lease
	// deadline is the local monotonic time, minus the margin, until which
	// cur is certainly valid: the store computed its expiry from a now that
	// is no earlier than the moment the request was sent.
	deadline time.Time
	// err is the error of the latest refresh, nil once one succeeds.
	err error
	// lost is set when the store refused a refresh: the lease moved on and
	// can never be valid again.
	lost error

	stop context.CancelFunc
	done chan struct{}
}

// acquire takes the pipeline's lock, polling while another runner holds it
// (or, on a store such as SQLite, while another transaction holds the
// write lock the acquisition needs) for up to the configured wait, and
// starts refreshing it.
func (r *Runner) acquire(ctx context.Context) (*lease, error) {
	start := time.Now()
	ttl := r.cfg.leaseTTL
	var (
		w      waitLog
		holder audit.LockInfo // as the store last reported it
	)
	for {
		var sent time.Time
		l, err := retry(ctx, r.backoff(), "acquire lock", exceptBusy(unreached), func(ctx context.Context) (audit.Lease, error) {
			sent = time.Now()
			return r.store.Acquire(ctx, r.cfg.lockKey, r.cfg.runnerID, ttl)
		})
		if err == nil {
			k := &lease{store: r.store, logger: r.cfg.logger, margin: ttl / 3, cur: l, deadline: sent.Add(ttl - ttl/3),
				refreshing: make(chan struct{}, 1), backoff: r.backoff()}
			k.start(ctx, ttl/3)
			r.cfg.logger.Debug("lock acquired", "key", l.Key, "epoch", l.Epoch, "expires", l.ExpiresAt)
			return k, nil
		}
		var held *audit.LockHeldError
		switch {
		case errors.As(err, &held):
			holder = held.Info
		case ctx.Err() != nil:
			return nil, r.waitEnded(ctx, holder)
		case errors.Is(err, audit.ErrBusy):
			holder = r.lockHolder(ctx)
		default:
			return nil, &StoreError{Op: opAcquire, Err: fmt.Errorf("lock %q: %w", r.cfg.lockKey, err)}
		}
		waited := time.Since(start)
		if waited >= r.cfg.lockWait {
			le := &LockError{Holder: holder, Waited: waited}
			if held == nil {
				le.Err = err
			}
			return nil, le
		}
		if held != nil {
			r.cfg.logger.Log(ctx, w.level(), "waiting for lock", "key", r.cfg.lockKey, "holder", holder.Owner,
				"epoch", holder.Epoch, "until", holder.ExpiresAt, "waited", waited.Round(time.Millisecond),
				"gives_up_after", r.cfg.lockWait)
		} else {
			r.logBusy(ctx, &w, "acquire lock", holder, start)
		}
		if !sleep(ctx, min(r.cfg.lockPoll, r.cfg.lockWait-waited)) {
			return nil, r.waitEnded(ctx, holder)
		}
	}
}

// waitBusy calls f, a call of a start (the start-up read), again every
// poll while it fails because the store is busy (audit.ErrBusy: on SQLite,
// another connection holds the database's write lock, as a change sharing
// its transaction with the store does while it runs), for up to the lock
// wait: a start waits for a busy store as it waits for the pipeline's
// lock, saying so in the log. Once the wait is over it returns a
// *LockError.
func waitBusy[T any](ctx context.Context, r *Runner, call string, f func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	var w waitLog
	for {
		v, err := f(ctx)
		if err == nil || !errors.Is(err, audit.ErrBusy) || ctx.Err() != nil {
			return v, err
		}
		holder := r.lockHolder(ctx)
		waited := time.Since(start)
		if waited >= r.cfg.lockWait {
			return v, &LockError{Holder: holder, Waited: waited, Err: err}
		}
		r.logBusy(ctx, &w, call, holder, start)
		if !sleep(ctx, min(r.cfg.lockPoll, r.cfg.lockWait-waited)) {
			return v, fmt.Errorf("wait for the audit store's write lock: %w", ctx.Err())
		}
	}
}

// lockHolder returns the pipeline's lock as the store reports it, for
// saying who is likely to hold a busy store's write lock; the zero
// LockInfo when it cannot be read.
func (r *Runner) lockHolder(ctx context.Context) audit.LockInfo {
	info, err := r.store.Lock(ctx, r.cfg.lockKey)
	if err != nil {
		return audit.LockInfo{}
	}
	return info
}

// logBusy says that call waits for a busy store since since: who holds the
// pipeline's lock, when one does (its lease may have run out by the clock:
// a change holding the write lock keeps its runner from refreshing it),
// is the likely holder of the store's write lock.
func (r *Runner) logBusy(ctx context.Context, w *waitLog, call string, holder audit.LockInfo, since time.Time) {
	args := []any{"call", call, "since", since, "waited", time.Since(since).Round(time.Millisecond),
		"gives_up_after", r.cfg.lockWait}
	if holder.Owner != "" {
		args = append(args, "holder", holder.Owner, "key", holder.Key, "lease_until", holder.ExpiresAt)
	}
	r.cfg.logger.Log(ctx, w.level(), "waiting for the audit store's write lock, held by another transaction", args...)
}

// waitEnded is the error of a wait for the lock that ctx ended.
func (r *Runner) waitEnded(ctx context.Context, holder audit.LockInfo) error {
	if holder.Owner == "" {
		return fmt.Errorf("acquire lock %q: %w", r.cfg.lockKey, ctx.Err())
	}
	return fmt.Errorf("wait for lock %q held by runner %s: %w", r.cfg.lockKey, holder.Owner, ctx.Err())
}

// sleep waits for d, or for ctx to end: it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// lockLogEvery is how often a wait is said at warning level after the
// first time.
const lockLogEvery = 10 * time.Second

// waitLog paces the log lines of a wait: a warning the first time and then
// every lockLogEvery, a debug line at every other poll, so that a wait of
// minutes is neither silent nor a line a second.
type waitLog struct{ next time.Time }

func (w *waitLog) level() slog.Level {
	now := time.Now()
	if now.Before(w.next) {
		return slog.LevelDebug
	}
	w.next = now.Add(lockLogEvery)
	return slog.LevelWarn
}

// start refreshes the lease every period until release. A cancelled run
// context does not stop it: the change in progress still has to record its
// outcome under a valid lease.
func (k *lease) start(ctx context.Context, every time.Duration) {
	ctx, k.stop = context.WithCancel(context.WithoutCancel(ctx))
	k.done = make(chan struct{})
	go func() {
		defer close(k.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if k.refresh(ctx) != nil && k.isLost() {
				return
			}
		}
	}()
}

// refresh extends the lease, retrying a failed attempt (see backoff).
func (k *lease) refresh(ctx context.Context) error {
	k.refreshing <- struct{}{}
	defer func() { <-k.refreshing }()
	return k.refreshLocked(ctx)
}

func (k *lease) refreshLocked(ctx context.Context) error {
	cur := k.current()
	crash.Hit(ctx, crash.DuringRefresh)
	var sent time.Time
	l, err := retry(ctx, k.backoff, "refresh lease", idempotent, func(ctx context.Context) (audit.Lease, error) {
		sent = time.Now()
		l, err := k.store.Refresh(ctx, cur)
		if err != nil && ctx.Err() == nil {
			// No change may start until an attempt succeeds (see valid).
			k.mu.Lock()
			k.err = fmt.Errorf("refresh lease of lock %q (epoch %d): %w", cur.Key, cur.Epoch, err)
			k.mu.Unlock()
		}
		return l, err
	})
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err // the run is over or the caller gave up; not the store's verdict
		}
		k.err = fmt.Errorf("refresh lease of lock %q (epoch %d): %w", cur.Key, cur.Epoch, err)
		if errors.Is(err, audit.ErrFenced) {
			k.lost = k.err
			k.logger.Error("lease lost: no further change will start", "key", cur.Key, "epoch", cur.Epoch, "error", err)
		} else {
			k.logger.Warn("lease refresh failed", "key", cur.Key, "epoch", cur.Epoch, "error", err)
		}
		return k.err
	}
	k.cur, k.err = l, nil
	k.deadline = sent.Add(l.TTL - k.margin)
	return nil
}

func (k *lease) isLost() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lost != nil
}

// valid returns the lease when a change may start under it: its latest
// refresh succeeded and it stays valid for at least the margin. Otherwise
// it waits for the refresh in flight, if any, and when that did not make
// the lease valid it refreshes right away (retrying as backoff says), all
// bounded by the margin; when that does not succeed the run must stop before the next
// change.
func (k *lease) valid(ctx context.Context) (audit.Lease, error) {
	cur, ok, err := k.check()
	if ok || err != nil {
		return cur, err
	}
	ctx, cancel := context.WithTimeout(ctx, k.margin)
	defer cancel()
	select {
	case k.refreshing <- struct{}{}:
	default:
		// A slow refresh (a busy store, a loaded machine) is no reason to
		// stop the run while it may still renew the lease.
		k.logger.Debug("waiting for the lease refresh in flight", "key", cur.Key, "epoch", cur.Epoch)
		select {
		case k.refreshing <- struct{}{}:
		case <-ctx.Done():
			k.mu.Lock()
			last := k.err
			k.mu.Unlock()
			if last != nil {
				return audit.Lease{}, last
			}
			return audit.Lease{}, fmt.Errorf("lease of lock %q (epoch %d) was not refreshed in time", cur.Key, cur.Epoch)
		}
	}
	defer func() { <-k.refreshing }()
	if cur, ok, err := k.check(); ok || err != nil {
		return cur, err // the refresh waited for decided
	}
	if err := k.refreshLocked(ctx); err != nil {
		return audit.Lease{}, fmt.Errorf("no valid lease to start the next change: %w", err)
	}
	return k.current(), nil
}

// check reports whether the lease is valid with margin, or lost.
func (k *lease) check() (audit.Lease, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.lost != nil:
		return audit.Lease{}, false, k.lost
	case k.err == nil && time.Now().Before(k.deadline):
		return k.cur, true, nil
	}
	return k.cur, false, nil
}

// current returns the latest lease for writes: the store fences them, so a
// write under a lease that moved on is refused rather than recorded.
func (k *lease) current() audit.Lease {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur
}

// release stops refreshing and frees the lock, even when ctx is cancelled.
func (k *lease) release(ctx context.Context) {
	k.stop()
	<-k.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cur := k.current()
	if err := k.store.Release(ctx, cur); err != nil {
		// The lease expires on its own; only a report is due.
		k.logger.Warn("release lock", "key", cur.Key, "epoch", cur.Epoch, "error", err)
		return
	}
	k.logger.Debug("lock released", "key", cur.Key, "epoch", cur.Epoch)
}
