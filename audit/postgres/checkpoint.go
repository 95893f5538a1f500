package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flamingock/flamingock-go/audit"
)

var _ audit.Checkpointer = (*Store)(nil)

// checkpointStatements are the SQL of audit.Checkpointer.
//
// A checkpoint records, beside its seq, what the trail held at or below it
// when it was saved: the number of entries (entries) and the sum of their
// row versions (entries_digest, the sum of xmin). It is current only while
// the trail's highest seq is its seq and both still match, so that an
// entry deleted by hand changes the count, and any UPDATE of an entry,
// whichever column it touches and whatever it writes, changes the sum:
// every UPDATE writes a new row version, stamped with the id of the
// transaction that wrote it, a newer one than the version it replaces.
//
// The row version stands in for a digest of every column because it costs
// about what counting the rows does: the check reads one system column of
// each row, where hashing the columns' text costs ten times as much (both
// measured in BENCHMARKS.md). What changes xmin without an edit (a dump
// restored, a logical copy) only makes the checkpoint stale once; freezing,
// VACUUM FULL and pg_upgrade keep it.
type checkpointStatements struct {
	current string
	save    string
	upgrade string
}

func buildCheckpointStatements(auditTable, checkpointTable string) checkpointStatements {
	r := strings.NewReplacer("{audit}", auditTable, "{checkpoint}", checkpointTable)
	return checkpointStatements{
		// Small on purpose: an application's start is the first statement
		// of a new server process, which plans it with cold catalog caches.
		// Planning the snapshot as well (even in a branch that would not
		// run) costs that process more than twice as much. max(seq) is read
		// from the end of the primary key's index; the entries are counted
		// only when it is the checkpoint's seq. A checkpoint saved by a
		// release before entries existed has them NULL: never current.
		current: r.Replace(`SELECT coalesce(CASE WHEN c.seq = (SELECT max(a.seq) FROM {audit} AS a)
THEN (SELECT count(*) = c.entries AND ` + entriesDigest + ` = c.entries_digest FROM {audit} AS a WHERE a.seq <= c.seq)
END, false) FROM {checkpoint} AS c WHERE c.digest = $1`),

		// A replica that read the trail earlier must not set a newer
		// checkpoint of the same pipeline back. A checkpoint at the same
		// seq is replaced, with the entries as they now are: a start that
		// found the trail edited but every change still done makes it
		// current again. So is one above the trail's highest seq, whose
		// entries were deleted.
		save: r.Replace(`INSERT INTO {checkpoint} AS c (digest, seq, saved_at, entries, entries_digest)
SELECT $1, $2, clock_timestamp(), count(*), ` + entriesDigest + ` FROM {audit} AS a WHERE a.seq <= $2
ON CONFLICT (digest) DO UPDATE SET seq = excluded.seq, saved_at = excluded.saved_at,
	entries = excluded.entries, entries_digest = excluded.entries_digest
WHERE c.seq <= excluded.seq OR c.seq > (SELECT max(a.seq) FROM {audit} AS a)`),

		// The table of a release before entries existed gets them on the
		// first checkpoint read or save that misses them. Releases before
		// ignore them: they neither read nor write them.
		upgrade: r.Replace(`ALTER TABLE {checkpoint} ADD COLUMN IF NOT EXISTS entries bigint, ADD COLUMN IF NOT EXISTS entries_digest text`),
	}
}

// entriesDigest is the sum of the row versions of the entries a FROM
// {audit} AS a selects.
const entriesDigest = `coalesce(sum(a.xmin::text::bigint), 0)::text`

// SnapshotUnlessCurrent implements audit.Checkpointer: one round trip when
// the checkpoint is current; otherwise a second one, Snapshot's.
func (s *Store) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	var current bool
	upgraded := false
	err := s.read(ctx, func() error {
		for {
			err := s.pool.QueryRow(ctx, s.checkpointSQL.current, execArgs(digest)...).Scan(&current)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				current, err = false, nil
			case !upgraded && missingColumn(err):
				// A table of an earlier release: when it cannot be upgraded
				// here, the start reads the trail, and the save says why.
				upgraded = true
				if s.upgradeCheckpoints(ctx) == nil {
					continue
				}
				current, err = false, nil
			}
			return err
		}
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

// SaveCheckpoint implements audit.Checkpointer in one statement, which
// counts the entries at or below cp.Seq and sums their row versions.
func (s *Store) SaveCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("postgres: save checkpoint: %w", err)
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, s.checkpointSQL.save, execArgs(cp.Digest, cp.Seq)...)
	if missingColumn(err) {
		if uerr := s.upgradeCheckpoints(ctx); uerr != nil {
			return s.explain("add the columns entries and entries_digest to "+s.checkpoint.quoted+
				" (made by an earlier release; it takes the table's owner)", needCreateTables, uerr)
		}
		_, err = s.pool.Exec(ctx, s.checkpointSQL.save, execArgs(cp.Digest, cp.Seq)...)
	}
	if err != nil {
		return s.explain("save the checkpoint in "+s.checkpoint.quoted, needCheckpoint, err)
	}
	return nil
}

// upgradeCheckpoints adds the columns a checkpoint table of an earlier
// release lacks.
func (s *Store) upgradeCheckpoints(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, s.checkpointSQL.upgrade, pgx.QueryExecModeSimpleProtocol)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42701" { // duplicate_column: another process added them
		return nil
	}
	return err
}

// missingColumn reports whether err is PostgreSQL's undefined_column.
func missingColumn(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42703"
}
