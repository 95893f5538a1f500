package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
)

var _ audit.Checkpointer = (*Store)(nil)

// checkpointStatements are the SQL of audit.Checkpointer.
type checkpointStatements struct {
	current string
	save    string
}

func buildCheckpointStatements(auditTable, checkpointTable string) checkpointStatements {
	r := strings.NewReplacer("{audit}", auditTable, "{checkpoint}", checkpointTable)
	return checkpointStatements{
		// Small on purpose: an application's start is the first statement
		// of a new server process, which plans it with cold catalog caches.
		// Planning the snapshot as well (even in a branch that would not
		// run) costs that process more than twice as much. max(seq) is read
		// from the end of the primary key's index.
		current: r.Replace(`SELECT c.seq = (SELECT max(a.seq) FROM {audit} AS a) FROM {checkpoint} AS c WHERE c.digest = $1`),

		// A replica that read the trail earlier must not set a newer
		// checkpoint of the same pipeline back.
		save: r.Replace(`INSERT INTO {checkpoint} AS c (digest, seq, saved_at)
VALUES ($1, $2, clock_timestamp())
ON CONFLICT (digest) DO UPDATE SET seq = excluded.seq, saved_at = excluded.saved_at
WHERE c.seq < excluded.seq`),
	}
}

// SnapshotUnlessCurrent implements audit.Checkpointer: one round trip when
// the checkpoint is current; otherwise a second one, Snapshot's.
func (s *Store) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	var current bool
	err := s.read(ctx, func() error {
		err := s.pool.QueryRow(ctx, s.checkpointSQL.current, execArgs(digest)...).Scan(&current)
		if errors.Is(err, pgx.ErrNoRows) {
			current, err = false, nil
		}
		return err
	}, func(err error) error {
		return s.explain("read the checkpoint in "+s.checkpoint.quoted, needCheckpoint, err)
	})
	switch {
	case err != nil:
		return nil, false, err
	case current:
		return nil, true, nil
	}
	entries, err := s.Snapshot(ctx)
	return entries, false, err
}

// SaveCheckpoint implements audit.Checkpointer in one statement.
func (s *Store) SaveCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("postgres: save checkpoint: %w", err)
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.checkpointSQL.save, execArgs(cp.Digest, cp.Seq)...); err != nil {
		return s.explain("save the checkpoint in "+s.checkpoint.quoted, needCheckpoint, err)
	}
	return nil
}
