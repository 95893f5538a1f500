package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/flamingock/flamingock-go/audit"
)

var _ audit.Checkpointer = (*Store)(nil)

// A checkpoint must not outlive an edit of the entries it took into
// account: deleting the APPLIED entry of a change, or editing any field of
// any entry, by hand, must send the next start back to the trail. On
// SQLite, triggers on the audit table see to it: an UPDATE or a DELETE of
// an entry deletes every checkpoint, in the same transaction as the edit,
// whichever connection or program makes it. A checkpoint is current only
// while its seq is the trail's highest and both triggers exist: the first
// SaveCheckpoint creates them, and deletes the checkpoints saved before,
// which nothing guarded.
//
// They keep the check at two lookups, whatever the length of the trail,
// where a digest of every entry would cost what reading the trail does
// (SQLite has no hash function, so it would be computed here, over every
// column of every entry: BENCHMARKS.md has the figures). They change
// nothing in the tables' shape, which releases before this one check
// strictly: those releases open the file as before, and during a rolling
// deploy their checkpoints are guarded too. The store itself never
// updates or deletes an entry, so the triggers never run but on an edit;
// an INSERT has none, because SQLite compiles an INSERT's triggers into
// every append, which would then fail while the checkpoint table is
// missing. What they do not see: an edit made with the triggers dropped,
// an entry inserted by hand below the highest seq (into the gap a delete
// left, after a checkpoint was saved again), a file replaced by an older
// copy of itself. An edit while the checkpoint table is missing fails
// until the next Open creates it again.

// checkpointTriggers are the names of the triggers, and their statements.
func (q *queries) checkpointTriggers() (names [2]string, create string) {
	audit, checkpoint := quote(q.auditName), quote(q.checkpointName)
	names = [2]string{q.auditName + "_update_voids_checkpoints", q.auditName + "_delete_voids_checkpoints"}
	void := " BEGIN DELETE FROM " + checkpoint + "; END;\n"
	create = "CREATE TRIGGER IF NOT EXISTS " + quote(names[0]) + " AFTER UPDATE ON " + audit + void +
		"CREATE TRIGGER IF NOT EXISTS " + quote(names[1]) + " AFTER DELETE ON " + audit + void
	return names, create
}

// checkpointSQL is the SQL of audit.Checkpointer for one table prefix,
// built once with the other queries.
type checkpointSQL struct {
	current, triggers, create, void, save string
}

func (q *queries) checkpointSQL() checkpointSQL {
	audit, checkpoint := quote(q.auditName), quote(q.checkpointName)
	names, create := q.checkpointTriggers()
	triggers := fmt.Sprintf(`SELECT count(*) FROM sqlite_schema WHERE "type" = 'trigger' AND "tbl_name" = %s AND "name" IN (%s, %s)`,
		literal(q.auditName), literal(names[0]), literal(names[1]))
	return checkpointSQL{
		current:  fmt.Sprintf(`SELECT "seq" = (SELECT max("seq") FROM %s) AND (%s) = 2 FROM %s WHERE "digest" = ?`, audit, triggers, checkpoint),
		triggers: triggers,
		create:   create,
		void:     "DELETE FROM " + checkpoint,
		// An older checkpoint of the same pipeline does not replace a newer
		// one, unless the newer one is above the trail's highest seq (its
		// entries were deleted).
		save: fmt.Sprintf(`INSERT INTO %s ("digest", "seq", "saved_at") VALUES (?, ?, %s)
ON CONFLICT ("digest") DO UPDATE SET "seq" = excluded."seq", "saved_at" = excluded."saved_at"
WHERE "seq" < excluded."seq" OR "seq" > (SELECT coalesce(max("seq"), 0) FROM %s)`, checkpoint, nowMillis, audit),
	}
}

// literal makes s an SQL string literal whatever it holds.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// SnapshotUnlessCurrent implements audit.Checkpointer. The check and the
// snapshot read one state of the database: they run in one transaction.
func (s *Store) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	q := &s.q.checkpoint
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: snapshot: %w", explain(err))
	}
	defer tx.Rollback() // it only reads
	var current bool
	err = tx.QueryRowContext(ctx, q.current, digest).Scan(&current)
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

// SaveCheckpoint implements audit.Checkpointer. When the triggers are
// missing it creates them first, and deletes the checkpoints saved without
// them, in the same transaction.
func (s *Store) SaveCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("sqlite: save checkpoint: %w", err)
	}
	if err := s.saveCheckpoint(ctx, &s.q.checkpoint, cp); err != nil {
		return fmt.Errorf("sqlite: save checkpoint: %w", err)
	}
	return nil
}

func (s *Store) saveCheckpoint(ctx context.Context, q *checkpointSQL, cp audit.Checkpoint) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return explain(err)
	}
	defer tx.Rollback()
	var triggers int
	if err := tx.QueryRowContext(ctx, q.triggers).Scan(&triggers); err != nil {
		return explain(err)
	}
	if triggers != 2 {
		if _, err := tx.ExecContext(ctx, q.create); err != nil {
			return fmt.Errorf("create the triggers that void checkpoints: %w", explain(err))
		}
		if _, err := tx.ExecContext(ctx, q.void); err != nil {
			return explain(err)
		}
	}
	if _, err := tx.ExecContext(ctx, q.save, cp.Digest, cp.Seq); err != nil {
		return explain(err)
	}
	return explain(tx.Commit())
}
