package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/flamingock/flamingock-go/audit"
)

var _ audit.Checkpointer = (*Store)(nil)

// SnapshotUnlessCurrent implements audit.Checkpointer. The check and the
// snapshot read one state of the database: they run in one transaction.
func (s *Store) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: snapshot: %w", explain(err))
	}
	defer tx.Rollback() // it only reads
	var current bool
	err = tx.QueryRowContext(ctx, s.q.checkpointCurrent, digest).Scan(&current)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, false, fmt.Errorf("sqlite: read checkpoint: %w", explain(err))
	case current:
		return nil, true, nil
	}
	entries, err := readEntries(ctx, tx, s.q.snapshot)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: snapshot: %w", err)
	}
	return entries, false, nil
}

// SaveCheckpoint implements audit.Checkpointer.
func (s *Store) SaveCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("sqlite: save checkpoint: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q.saveCheckpoint, cp.Digest, cp.Seq); err != nil {
		return fmt.Errorf("sqlite: save checkpoint: %w", explain(err))
	}
	return nil
}
