package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// ForceRelease frees the lock key whoever holds it and records operator as
// the one who did; see audit.Store. The lock row keeps its epoch; its
// expiry becomes the store's now unless the lease had expired before.
func (s *Store) ForceRelease(ctx context.Context, key, operator string) (audit.LockInfo, error) {
	switch {
	case key == "":
		return audit.LockInfo{}, errors.New("sqlite: force release lock: empty key")
	case operator == "":
		return audit.LockInfo{}, fmt.Errorf("sqlite: force release lock %q: empty operator: say who releases it", key)
	}
	// The transaction takes the write lock when it begins (immediate), so
	// the lock read first is the one the update changes.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return audit.LockInfo{}, fmt.Errorf("sqlite: force release lock %q: %w", key, explain(err))
	}
	defer tx.Rollback()
	before, err := s.lockInfo(ctx, tx, key)
	if err != nil {
		return audit.LockInfo{}, fmt.Errorf("sqlite: force release lock %q: %w", key, err)
	}
	forceRelease := fmt.Sprintf(`UPDATE %s SET "owner" = '', "expires_at" = min("expires_at", %s), "released_by" = ?, "released_at" = %[2]s
WHERE "key" = ? RETURNING "released_at"`, quote(s.q.lockName), nowMillis)
	var released int64
	err = tx.QueryRowContext(ctx, forceRelease, operator, key).Scan(&released)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return before, nil // never acquired: nothing to release
	case err != nil:
		return audit.LockInfo{}, fmt.Errorf("sqlite: force release lock %q: %w", key, explain(err))
	}
	if err := tx.Commit(); err != nil {
		return audit.LockInfo{}, fmt.Errorf("sqlite: force release lock %q: commit: %w", key, explain(err))
	}
	before.Now = time.UnixMilli(released).UTC()
	return before, nil
}
