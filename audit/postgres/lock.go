package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/jackc/pgx/v5"
)

// Acquire takes key for owner for ttl when it is free, released or expired,
// in one statement; the epoch grows by one. When another lease holds it, it
// returns a *audit.LockHeldError describing the holder.
func (s *Store) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (audit.Lease, error) {
	if err := audit.CheckAcquire(key, owner, ttl); err != nil {
		return audit.Lease{}, fmt.Errorf("postgres: %w", err)
	}
	if err := s.ready(ctx); err != nil {
		return audit.Lease{}, err
	}
	// The holder can release between a refused acquisition and the read of
	// who holds it; then the key is free and worth another try.
	for attempt := 1; ; attempt++ {
		lease := audit.Lease{Key: key, Owner: owner, TTL: ttl}
		err := s.pool.QueryRow(ctx, s.sql.acquire, execArgs(key, owner, ttl.Microseconds())...).
			Scan(&lease.Epoch, &lease.ExpiresAt)
		if err == nil {
			lease.ExpiresAt = lease.ExpiresAt.UTC()
			return lease, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return audit.Lease{}, s.explain(fmt.Sprintf("acquire lock %q in %s", key, s.lock.quoted), needLock, err)
		}
		info, err := s.lockInfo(ctx, key)
		if err != nil {
			return audit.Lease{}, err
		}
		if info.Held() || attempt == 3 {
			return audit.Lease{}, &audit.LockHeldError{Info: info}
		}
	}
}

// Refresh extends lease by its TTL from the database's now, in one
// statement. It fails with an error matching audit.ErrFenced, saying why, when
// the lease expired or the lock moved on.
func (s *Store) Refresh(ctx context.Context, lease audit.Lease) (audit.Lease, error) {
	if lease.TTL < time.Millisecond {
		return audit.Lease{}, fmt.Errorf("postgres: refresh %q: lease duration %s is under a millisecond", lease.Key, lease.TTL)
	}
	if err := s.ready(ctx); err != nil {
		return audit.Lease{}, err
	}
	err := s.pool.QueryRow(ctx, s.sql.refresh, execArgs(lease.Key, lease.Owner, lease.Epoch, lease.TTL.Microseconds())...).
		Scan(&lease.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Lease{}, s.fenced(ctx, "refresh", lease)
	}
	if err != nil {
		return audit.Lease{}, s.explain(fmt.Sprintf("refresh lock %q in %s", lease.Key, s.lock.quoted), needLock, err)
	}
	lease.ExpiresAt = lease.ExpiresAt.UTC()
	return lease, nil
}

// Release frees the lock if lease still holds it, keeping the epoch, in one
// statement. When the lease expired or the lock moved on it fails with an
// error matching audit.ErrFenced and changes nothing.
func (s *Store) Release(ctx context.Context, lease audit.Lease) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, s.sql.release, execArgs(lease.Key, lease.Owner, lease.Epoch)...)
	if err != nil {
		return s.explain(fmt.Sprintf("release lock %q in %s", lease.Key, s.lock.quoted), needLock, err)
	}
	if tag.RowsAffected() == 0 {
		return s.fenced(ctx, "release", lease)
	}
	return nil
}

// Lock reports the state of key, with the database's current time.
func (s *Store) Lock(ctx context.Context, key string) (audit.LockInfo, error) {
	var info audit.LockInfo
	err := s.read(ctx, func() (err error) {
		info, err = s.lockInfo(ctx, key)
		return err
	}, func(err error) error { return err }) // lockInfo explains its errors
	if err != nil {
		return audit.LockInfo{}, err
	}
	return info, nil
}

func (s *Store) lockInfo(ctx context.Context, key string) (audit.LockInfo, error) {
	var (
		owner, releasedBy     *string
		epoch                 *int64
		expiresAt, releasedAt *time.Time
		info                  = audit.LockInfo{Key: key}
	)
	err := s.pool.QueryRow(ctx, s.sql.lockInfo, execArgs(key)...).Scan(&owner, &epoch, &expiresAt, &info.Now, &releasedBy, &releasedAt)
	if err != nil {
		return audit.LockInfo{}, s.explain(fmt.Sprintf("read lock %q in %s", key, s.lock.quoted), needLock, err)
	}
	info.Now = info.Now.UTC()
	if owner != nil {
		info.Owner, info.Epoch, info.ExpiresAt = *owner, *epoch, expiresAt.UTC()
	}
	if releasedBy != nil && releasedAt != nil {
		info.ReleasedBy, info.ReleasedAt = *releasedBy, releasedAt.UTC()
	}
	return info, nil
}

// fenced builds the ErrFenced error for a write that lease was refused,
// saying why from the lock as it is now. It reads the lock through the
// pool even when the refused write ran in a caller's transaction: a refused
// append has aborted that transaction, which can run nothing more.
func (s *Store) fenced(ctx context.Context, op string, lease audit.Lease) error {
	why := "the lock changed while the write was checked"
	info, err := s.lockInfo(ctx, lease.Key)
	switch {
	case err != nil:
		why = fmt.Sprintf("could not read the lock to say why: %v", err)
	case info.Epoch == 0 && info.Owner == "":
		why = "the lock row does not exist (never acquired, or deleted by hand)"
	case info.Epoch != lease.Epoch && info.Owner == "":
		why = fmt.Sprintf("it was acquired again since (epoch %d) and released", info.Epoch)
	case info.Epoch != lease.Epoch:
		why = fmt.Sprintf("it was taken over by %q at epoch %d", info.Owner, info.Epoch)
	case info.Owner == "":
		why = "it was released"
	case info.Owner != lease.Owner:
		why = fmt.Sprintf("its owner is now %q at the same epoch (was the lock row edited by hand?)", info.Owner)
	case !info.Now.Before(info.ExpiresAt):
		why = fmt.Sprintf("the lease expired at %s (database time now %s)",
			info.ExpiresAt.Format(time.RFC3339Nano), info.Now.Format(time.RFC3339Nano))
	}
	return fmt.Errorf("postgres: %s refused for lock %q (owner %q, epoch %d): %w: %s",
		op, lease.Key, lease.Owner, lease.Epoch, audit.ErrFenced, why)
}
