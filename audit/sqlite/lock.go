package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// Acquire takes the lock key for owner for ttl when it is free, released or
// expired, incrementing its epoch; see audit.Store. While any unexpired
// lease holds key, owner's own included, it returns an *audit.LockHeldError.
func (s *Store) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (audit.Lease, error) {
	if err := audit.CheckAcquire(key, owner, ttl); err != nil {
		return audit.Lease{}, fmt.Errorf("sqlite: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return audit.Lease{}, fmt.Errorf("sqlite: acquire lock %q: %w", key, explain(err))
	}
	defer tx.Rollback()
	l := audit.Lease{Key: key, Owner: owner, TTL: ttl}
	var expires int64
	err = tx.QueryRowContext(ctx, s.q.acquire, key, owner, ttl.Milliseconds()).Scan(&l.Epoch, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		// The upsert took the write lock, so the holder read in the same
		// transaction is the one that refused it.
		info, err := s.lockInfo(ctx, tx, key)
		if err != nil {
			return audit.Lease{}, fmt.Errorf("sqlite: acquire lock %q: %w", key, err)
		}
		return audit.Lease{}, &audit.LockHeldError{Info: info}
	}
	if err != nil {
		return audit.Lease{}, fmt.Errorf("sqlite: acquire lock %q: %w", key, explain(err))
	}
	if err := tx.Commit(); err != nil {
		return audit.Lease{}, fmt.Errorf("sqlite: acquire lock %q: commit: %w", key, explain(err))
	}
	l.ExpiresAt = time.UnixMilli(expires).UTC()
	return l, nil
}

// Refresh extends lease by lease.TTL from the store's now; see audit.Store.
func (s *Store) Refresh(ctx context.Context, lease audit.Lease) (audit.Lease, error) {
	if lease.TTL < time.Millisecond {
		return audit.Lease{}, fmt.Errorf("sqlite: refresh lock %q: ttl %s is under a millisecond", lease.Key, lease.TTL)
	}
	var expires int64
	err := s.db.QueryRowContext(ctx, s.q.refresh, lease.TTL.Milliseconds(), lease.Key, lease.Owner, lease.Epoch).Scan(&expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return audit.Lease{}, fenced("refresh", lease)
	case err != nil:
		return audit.Lease{}, fmt.Errorf("sqlite: refresh lock %q: %w", lease.Key, explain(err))
	}
	lease.ExpiresAt = time.UnixMilli(expires).UTC()
	return lease, nil
}

// Release frees the lock if lease holds it, keeping its epoch; see
// audit.Store.
func (s *Store) Release(ctx context.Context, lease audit.Lease) error {
	res, err := s.db.ExecContext(ctx, s.q.release, lease.Key, lease.Owner, lease.Epoch)
	if err != nil {
		return fmt.Errorf("sqlite: release lock %q: %w", lease.Key, explain(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: release lock %q: %w", lease.Key, err)
	}
	if n == 0 {
		return fenced("release", lease)
	}
	return nil
}

func fenced(op string, l audit.Lease) error {
	return fmt.Errorf("sqlite: %s lock %q (owner %q, epoch %d): %w", op, l.Key, l.Owner, l.Epoch, audit.ErrFenced)
}

// Lock reports the state of the lock key, with the store's now.
func (s *Store) Lock(ctx context.Context, key string) (audit.LockInfo, error) {
	info, err := s.lockInfo(ctx, s.db, key)
	if err != nil {
		return audit.LockInfo{}, fmt.Errorf("sqlite: lock %q: %w", key, err)
	}
	return info, nil
}

func (s *Store) lockInfo(ctx context.Context, q querier, key string) (audit.LockInfo, error) {
	var (
		owner, releasedBy        sql.NullString
		epoch, expires, released sql.NullInt64
		now                      int64
	)
	if err := q.QueryRowContext(ctx, s.q.lockInfo, key).Scan(&owner, &epoch, &expires, &now, &releasedBy, &released); err != nil {
		return audit.LockInfo{}, explain(err)
	}
	info := audit.LockInfo{Key: key, Owner: owner.String, Epoch: epoch.Int64, Now: time.UnixMilli(now).UTC(), ReleasedBy: releasedBy.String}
	if expires.Valid {
		info.ExpiresAt = time.UnixMilli(expires.Int64).UTC()
	}
	if released.Valid {
		info.ReleasedAt = time.UnixMilli(released.Int64).UTC()
	}
	return info, nil
}
