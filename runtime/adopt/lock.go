package adopt

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"time"
)

// lockPoll is how often a held lock is tried again. goose's session
// locker tries every 5 seconds; an import waits for an old release to
// finish migrating, which is seconds, so it looks more often.
const lockPoll = 100 * time.Millisecond

// releaseWait bounds the unlock on the way out, when ctx may be done.
const releaseWait = 10 * time.Second

// lockAdvisory takes the session advisory locks ids on conn, in ascending
// order so that two importers taking the same pair never deadlock,
// waiting at most wait (and ctx) for all. release unlocks them; when it
// cannot, it discards the connection, which ends the session and so its
// locks, rather than return it to the pool still holding them.
func lockAdvisory(ctx context.Context, conn *sql.Conn, ids []int64, wait time.Duration) (release func() error, err error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var held []int64
	release = func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseWait)
		defer cancel()
		var errs []error
		for _, id := range held {
			var ok bool
			if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", id).Scan(&ok); err != nil {
				errs = append(errs, fmt.Errorf("unlock %d: %w", id, err))
			} else if !ok {
				errs = append(errs, fmt.Errorf("unlock %d: the session did not hold it", id))
			}
		}
		if err := errors.Join(errs...); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // closes the session
			return err
		}
		return nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for _, id := range ids {
		if err := tryLock(waitCtx, conn, id); err != nil {
			if ctx.Err() == nil && waitCtx.Err() != nil {
				err = fmt.Errorf("lock %d is held by another session (an old release migrating?) and was not released within %v: "+
					"retry once it is (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %d shows who holds it), or wait longer with adopt.WithLockWait",
					id, wait, uint32(id))
			}
			// A statement cut by ctx may have taken the lock anyway: end
			// the session, which releases every lock it holds.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			return nil, err
		}
		held = append(held, id)
	}
	return release, nil
}

// tryLock polls pg_try_advisory_lock rather than wait in
// pg_advisory_lock, so that the wait ends with ctx without cancelling a
// statement whose lock might then be granted anyway.
func tryLock(ctx context.Context, conn *sql.Conn, id int64) error {
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
