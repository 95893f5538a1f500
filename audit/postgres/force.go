package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/jackc/pgx/v5"
)

// forceReleaseSQL frees a lock row whoever holds it, in one statement. The
// subquery locks the row and yields it as it was before the update, which
// RETURNING cannot see otherwise; the clock is read once, so the release
// time and the new expiry agree. The epoch stays.
const forceReleaseSQL = `UPDATE {lock} AS l
SET owner = '', expires_at = LEAST(l.expires_at, now.t), released_by = $2, released_at = now.t
FROM (SELECT key, owner, epoch, expires_at, released_by, released_at FROM {lock} WHERE key = $1 FOR UPDATE) AS old,
	(SELECT clock_timestamp() AS t) AS now
WHERE l.key = old.key
RETURNING old.owner, old.epoch, old.expires_at, old.released_by, old.released_at, now.t`

// ForceRelease frees the lock key whoever holds it and records operator as
// the one who did, in one statement; see audit.Store. The epoch stays; the
// expiry becomes the database's now unless the lease had expired before.
func (s *Store) ForceRelease(ctx context.Context, key, operator string) (audit.LockInfo, error) {
	switch {
	case key == "":
		return audit.LockInfo{}, errors.New("postgres: force release: empty lock key")
	case operator == "":
		return audit.LockInfo{}, fmt.Errorf("postgres: force release %q: empty operator: say who releases it", key)
	}
	if err := s.ready(ctx); err != nil {
		return audit.LockInfo{}, err
	}
	stmt := strings.ReplaceAll(forceReleaseSQL, "{lock}", s.lock.quoted)
	// A first acquisition can create the row between an update that found
	// none and the read that says so; the update is then worth another try.
	for attempt := 1; ; attempt++ {
		var (
			before                = audit.LockInfo{Key: key}
			releasedBy            *string
			releasedAt, expiresAt *time.Time
		)
		err := s.pool.QueryRow(ctx, stmt, execArgs(key, operator)...).
			Scan(&before.Owner, &before.Epoch, &expiresAt, &releasedBy, &releasedAt, &before.Now)
		if err == nil {
			before.Now, before.ExpiresAt = before.Now.UTC(), expiresAt.UTC()
			if releasedBy != nil && releasedAt != nil {
				before.ReleasedBy, before.ReleasedAt = *releasedBy, releasedAt.UTC()
			}
			return before, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return audit.LockInfo{}, s.explain(fmt.Sprintf("force release lock %q in %s", key, s.lock.quoted), needLock, err)
		}
		info, err := s.lockInfo(ctx, key)
		switch {
		case err != nil:
			return audit.LockInfo{}, err
		case info.Epoch == 0:
			return info, nil // never acquired: nothing to release
		case attempt == 2:
			return audit.LockInfo{}, fmt.Errorf("postgres: force release %q: the lock was being acquired for the first time meanwhile; try again", key)
		}
	}
}
