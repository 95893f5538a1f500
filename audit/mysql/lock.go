package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/flamingock/flamingock-go/audit"
)

// Lock operations run in short READ COMMITTED transactions that lock the
// key's row (SELECT … FOR UPDATE) before deciding, so that two acquirers
// are serialised on it; every expiry is computed by the server
// (UTC_TIMESTAMP(6) + INTERVAL ttl MICROSECOND). Two first acquisitions of
// a key both find no row and insert: one fails on the primary key (or as a
// deadlock victim) and the operation runs again, finding the winner's row.

func (s *Store) lockTx(ctx context.Context, what string, p privilege, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
		if err != nil {
			return s.explain(what, p, err)
		}
		err = fn(tx)
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil && attempt < 5 && isRace(err) {
			continue
		}
		var st stop
		if errors.As(err, &st) {
			return st.err
		}
		return s.explainErr(what, p, err)
	}
}

// stop carries an error of the store's own (held, fenced, corrupt) out of
// lockTx without explaining it again.
type stop struct{ err error }

func (s stop) Error() string { return s.err.Error() }

// isRace reports the errors of two transactions racing on a lock row.
func isRace(err error) bool {
	var me *driver.MySQLError
	return errors.As(err, &me) && (me.Number == 1062 || me.Number == 1213) // duplicate key, deadlock
}

func checkKey(op, key string) error {
	if len(key) > maxLockKeyLen {
		return fmt.Errorf("mysql: %s: lock key of %d bytes is longer than the %d a MySQL store takes", op, len(key), maxLockKeyLen)
	}
	return nil
}

// Acquire takes the lock key for owner for ttl when it is free, released or
// expired, incrementing its epoch; see audit.Store.
func (s *Store) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (audit.Lease, error) {
	if err := audit.CheckAcquire(key, owner, ttl); err != nil {
		return audit.Lease{}, fmt.Errorf("mysql: %w", err)
	}
	if err := checkKey("acquire", key); err != nil {
		return audit.Lease{}, err
	}
	if len(owner) > maxOwnerLen {
		return audit.Lease{}, fmt.Errorf("mysql: acquire lock %q: owner of %d bytes is longer than the %d a MySQL store takes", key, len(owner), maxOwnerLen)
	}
	if err := s.writable(fmt.Sprintf("acquire lock %q", key)); err != nil {
		return audit.Lease{}, err
	}
	if err := s.ready(ctx); err != nil {
		return audit.Lease{}, err
	}
	l := audit.Lease{Key: key, Owner: owner, TTL: ttl}
	err := s.lockTx(ctx, fmt.Sprintf("acquire lock %q in %s", key, s.lock.quoted), needLock, func(tx *sql.Tx) error {
		info, found, err := s.scanLock(tx.QueryRowContext(ctx, s.sql.lockRow, key), key)
		switch {
		case err != nil:
			return err
		case !found:
			if _, err := tx.ExecContext(ctx, s.sql.insertLock, key, owner, ttl.Microseconds()); err != nil {
				return err
			}
		case info.Held():
			return stop{&audit.LockHeldError{Info: info}}
		default:
			if _, err := tx.ExecContext(ctx, s.sql.takeLock, owner, ttl.Microseconds(), key); err != nil {
				return err
			}
		}
		var expires utcTime
		if err := tx.QueryRowContext(ctx, s.sql.lockLease, key, owner).Scan(&l.Epoch, &expires); err != nil {
			return err
		}
		l.ExpiresAt = expires.t
		return nil
	})
	if err != nil {
		return audit.Lease{}, err
	}
	return l, nil
}

// Refresh extends lease by its TTL from the server's now; see audit.Store.
func (s *Store) Refresh(ctx context.Context, lease audit.Lease) (audit.Lease, error) {
	if lease.TTL < time.Millisecond {
		return audit.Lease{}, fmt.Errorf("mysql: refresh lock %q: ttl %s is under a millisecond", lease.Key, lease.TTL)
	}
	if err := s.writable(fmt.Sprintf("refresh lock %q", lease.Key)); err != nil {
		return audit.Lease{}, err
	}
	if err := s.ready(ctx); err != nil {
		return audit.Lease{}, err
	}
	err := s.lockTx(ctx, fmt.Sprintf("refresh lock %q in %s", lease.Key, s.lock.quoted), needLock, func(tx *sql.Tx) error {
		var expires utcTime
		err := tx.QueryRowContext(ctx, s.sql.validLease, lease.Key, lease.Owner, lease.Epoch).Scan(&expires)
		if errors.Is(err, sql.ErrNoRows) {
			return stop{fenced("refresh", lease)}
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.sql.extend, lease.TTL.Microseconds(), lease.Key); err != nil {
			return err
		}
		var epoch int64
		if err := tx.QueryRowContext(ctx, s.sql.lockLease, lease.Key, lease.Owner).Scan(&epoch, &expires); err != nil {
			return err
		}
		lease.ExpiresAt = expires.t
		return nil
	})
	if err != nil {
		return audit.Lease{}, err
	}
	return lease, nil
}

// Release frees the lock if lease holds it, keeping its epoch; see
// audit.Store. One statement.
func (s *Store) Release(ctx context.Context, lease audit.Lease) error {
	if err := s.writable(fmt.Sprintf("release lock %q", lease.Key)); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.sql.release, lease.Key, lease.Owner, lease.Epoch)
	if err != nil {
		return s.explain(fmt.Sprintf("release lock %q in %s", lease.Key, s.lock.quoted), needLock, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.explain(fmt.Sprintf("release lock %q in %s", lease.Key, s.lock.quoted), needLock, err)
	}
	if n == 0 {
		return fenced("release", lease)
	}
	return nil
}

// Lock reports the state of the lock key, with the server's now.
func (s *Store) Lock(ctx context.Context, key string) (audit.LockInfo, error) {
	var info audit.LockInfo
	err := s.read(ctx, fmt.Sprintf("read lock %q in %s", key, s.lock.quoted), func() (err error) {
		info, _, err = s.scanLock(s.db.QueryRowContext(ctx, s.sql.lockInfo, key), key)
		return err
	})
	if err != nil {
		var st stop
		if errors.As(err, &st) {
			return audit.LockInfo{}, st.err
		}
		return audit.LockInfo{}, err
	}
	return info, nil
}

// scanLock reads a row of lockRow or lockInfo. found is false for a key
// never acquired. A row edited by hand into something no store writes is
// an *audit.CorruptError, wrapped in stop.
func (s *Store) scanLock(row *sql.Row, key string) (info audit.LockInfo, found bool, err error) {
	var (
		owner, releasedBy        sql.NullString
		epoch                    sql.NullInt64
		expires, now, releasedAt utcTime
	)
	err = row.Scan(&owner, &epoch, &expires, &now, &releasedBy, &releasedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return audit.LockInfo{Key: key}, false, nil
	case err != nil:
		return audit.LockInfo{}, false, err
	}
	info = audit.LockInfo{Key: key, Owner: owner.String, Epoch: epoch.Int64, ExpiresAt: expires.t, Now: now.t, ReleasedBy: releasedBy.String}
	if releasedBy.Valid && releasedAt.valid {
		info.ReleasedAt = releasedAt.t
	}
	if !epoch.Valid {
		return info, false, nil
	}
	where := fmt.Sprintf("lock %q in %s", key, s.lock.quoted)
	switch {
	case epoch.Int64 < 1:
		return audit.LockInfo{}, false, stop{&audit.CorruptError{Where: where, Err: fmt.Errorf(
			"epoch %d: every acquisition sets 1 or more; was the row edited by hand? Release it with the flamingock CLI "+
				"(or delete the row once no runner holds it), never lower its epoch", epoch.Int64)}}
	case releasedBy.Valid != releasedAt.valid:
		return audit.LockInfo{}, false, stop{&audit.CorruptError{Where: where, Err: errors.New(
			"released_by and released_at must be both set or both NULL; was the row edited by hand?")}}
	}
	return info, true, nil
}

// ForceRelease frees the lock key whoever holds it and records operator as
// the one who did; see audit.Store. The epoch stays; the expiry becomes the
// server's now unless the lease had expired before.
func (s *Store) ForceRelease(ctx context.Context, key, operator string) (audit.LockInfo, error) {
	switch {
	case key == "":
		return audit.LockInfo{}, errors.New("mysql: force release: empty lock key")
	case operator == "":
		return audit.LockInfo{}, fmt.Errorf("mysql: force release %q: empty operator: say who releases it", key)
	case len(operator) > maxOwnerLen:
		return audit.LockInfo{}, fmt.Errorf("mysql: force release %q: operator of %d bytes is longer than the %d a MySQL store takes", key, len(operator), maxOwnerLen)
	}
	if err := checkKey("force release", key); err != nil {
		return audit.LockInfo{}, err
	}
	if err := s.writable(fmt.Sprintf("force release lock %q", key)); err != nil {
		return audit.LockInfo{}, err
	}
	if err := s.ready(ctx); err != nil {
		return audit.LockInfo{}, err
	}
	var before audit.LockInfo
	err := s.lockTx(ctx, fmt.Sprintf("force release lock %q in %s", key, s.lock.quoted), needLock, func(tx *sql.Tx) error {
		info, found, err := s.scanLock(tx.QueryRowContext(ctx, s.sql.lockRow, key), key)
		if err != nil {
			return err
		}
		if !found {
			var now utcTime
			if err := tx.QueryRowContext(ctx, s.sql.now).Scan(&now); err != nil {
				return err
			}
			before = audit.LockInfo{Key: key, Now: now.t}
			return nil
		}
		now := sqlTime(info.Now)
		if _, err := tx.ExecContext(ctx, s.sql.forceRelease, now, operator, now, key); err != nil {
			return err
		}
		before = info
		return nil
	})
	if err != nil {
		return audit.LockInfo{}, err
	}
	return before, nil
}
