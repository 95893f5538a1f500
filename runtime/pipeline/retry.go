package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// backoff says how the runtime retries a store call that failed with an
// error worth another try: it waits first, then twice as long each time up
// to max, each wait drawn between half of it and all of it (so that runners
// failing together do not retry together), and gives up once the next wait
// would end after budget since the first call.
//
// What is worth another try depends on the call:
//   - reading the trail (Snapshot) and refreshing the lease change nothing
//     or the same thing again (same owner, same epoch), so any error is,
//     except the store's verdicts: a corrupt record, a fenced lease;
//   - acquiring the lock and appending an entry only on
//     audit.ErrUnavailable, the store's word that the request never reached
//     it, or audit.ErrBusy, its word that the request did nothing because
//     another transaction held the lock it needed. An append whose outcome
//     is unknown (the connection lost after it was sent) is never retried:
//     it may have been stored, and a retry would record the transition
//     twice. An acquisition retried after it was taken would find its own
//     lease held;
//   - reading a change's marker in its target, like the trail.
//
// A start waits for a busy store longer than backoff would, for up to the
// lock wait (waitBusy), as it waits for the pipeline's lock: the start-up
// read and the acquisition leave busy errors to it (exceptBusy).
type backoff struct {
	first, max, budget time.Duration
	logger             *slog.Logger
}

// backoff returns the runner's policy. Its budget stays within the lease
// margin, so that retrying never outlasts the time a lease is known valid
// for, and within 10s, so that an error retrying cannot cure (a missing
// privilege) is reported soon.
func (r *Runner) backoff() backoff {
	return backoff{first: 50 * time.Millisecond, max: 2 * time.Second,
		budget: min(r.cfg.leaseTTL/3, 10*time.Second), logger: r.cfg.logger}
}

// retry calls f until it succeeds, fails with an error retryable rejects,
// ctx ends or b's budget is spent, and returns its last result. what names
// the call in logs and in the error of a call that was retried.
func retry[T any](ctx context.Context, b backoff, what string, retryable func(error) bool,
	f func(context.Context) (T, error)) (T, error) {
	giveUp := time.Now().Add(b.budget)
	wait := b.first
	for attempt := 1; ; attempt++ {
		v, err := f(ctx)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return v, tried(err, attempt)
		}
		d := wait/2 + rand.N(wait/2+1)
		if time.Now().Add(d).After(giveUp) {
			return v, tried(err, attempt)
		}
		b.logger.Warn("store call failed; retrying", "call", what, "attempt", attempt, "in", d, "error", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, tried(err, attempt)
		case <-t.C:
		}
		wait = min(2*wait, b.max)
	}
}

// tried says how many calls err ended, when more than one.
func tried(err error, attempts int) error {
	if err == nil || attempts == 1 {
		return err
	}
	return fmt.Errorf("%w (after %d attempts)", err, attempts)
}

// idempotent accepts the errors of a call that may run twice.
func idempotent(err error) bool {
	return !errors.Is(err, audit.ErrCorrupt) && !errors.Is(err, audit.ErrFenced)
}

// unreached accepts only the errors of a request that had no effect: it
// never reached the store, or the store did nothing because it was busy.
// They are the only errors after which a write may be sent again.
func unreached(err error) bool {
	return errors.Is(err, audit.ErrUnavailable) || errors.Is(err, audit.ErrBusy)
}

// exceptBusy accepts what retryable accepts but a busy store, which the
// caller waits for itself.
func exceptBusy(retryable func(error) bool) func(error) bool {
	return func(err error) bool { return !errors.Is(err, audit.ErrBusy) && retryable(err) }
}
