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
// A checkpoint must not outlive an edit of the entries it took into
// account. Triggers on the audit table see to it, as on SQLite: an UPDATE,
// a DELETE or a TRUNCATE of the trail, and an entry inserted by hand below
// its highest seq (INSERT … OVERRIDING SYSTEM VALUE, COPY), delete every
// checkpoint, in the same transaction as the edit. The store creates them
// with its tables, ENABLE ALWAYS, so that session_replication_role =
// replica does not skip them; the store itself never updates or deletes an
// entry, and its appends are above the highest seq, so they fire only on an
// edit.
//
// Deleting the checkpoints, rather than bumping a generation that a
// checkpoint records, needs no other table or row and keeps the check to
// the checkpoint's row; it voids the checkpoints of every release, earlier
// ones included. What it lets through, an edit committed while a
// SaveCheckpoint that read the trail before it is under way, a generation
// would let through too: the runtime reads the trail before it saves.
//
// A trigger can be disabled, dropped or replaced, so a checkpoint is
// current only while the triggers are as they were when it was saved: its
// guard column records the checkpoint's seq and the row versions (xmin) of
// the three pg_trigger rows and of their function's pg_proc row, and the
// check recomputes it from the catalog. ALTER TABLE … DISABLE TRIGGER,
// ENABLE TRIGGER, DROP and CREATE TRIGGER and CREATE OR REPLACE FUNCTION
// all write a new row version; a trigger that is not ENABLE ALWAYS gives no
// guard at all. So the check is two index lookups and three catalog ones,
// whatever the length of the trail. A checkpoint saved by an earlier
// release has no guard: never current.
//
// Not detected: a superuser editing the catalogs (pg_trigger, pg_proc) or
// the guard column by hand, or a file-level copy of an older database.
// What changes the row versions without an edit (pg_upgrade, a dump
// restored) only makes the checkpoint stale once.
//
// entries and entries_digest, the count and the xmin sum of the entries
// that earlier releases compared, are still written, so that an earlier
// release running beside this one (a rolling deploy) keeps its checks; this
// release no longer reads them.
type checkpointStatements struct {
	current string
	save    string
	upgrade string
	install string
}

// Trigger and function names: the function is in the store's schema, the
// triggers on its audit table. The suffixes are no longer than the index's.
const (
	voidFuncSuffix     = "_void_checkpoints"
	voidEditSuffix     = "_void_edit"
	voidTruncateSuffix = "_void_truncate"
	voidInsertSuffix   = "_void_insert"
)

func buildCheckpointStatements(schema, prefix, auditTable, checkpointTable string) checkpointStatements {
	fn := pgx.Identifier{schema, prefix + voidFuncSuffix}.Sanitize()
	edit, truncate, insert := prefix+voidEditSuffix, prefix+voidTruncateSuffix, prefix+voidInsertSuffix
	// Every name is a validated plain identifier: quoted, it holds no
	// single quote and can stand in a literal.
	r := strings.NewReplacer("{audit}", auditTable, "{checkpoint}", checkpointTable, "{fn}", fn,
		"{edit}", pgx.Identifier{edit}.Sanitize(), "{truncate}", pgx.Identifier{truncate}.Sanitize(),
		"{insert}", pgx.Identifier{insert}.Sanitize(),
		"{edit_name}", edit, "{truncate_name}", truncate, "{insert_name}", insert)
	// guard is the checkpoint's guard at the seq {seq}: NULL unless the
	// three triggers are on the audit table, ENABLE ALWAYS, of their type
	// (tgtype: ROW 1, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32; AFTER
	// has no bit), on every column, and call the store's function.
	guard := r.Replace(`(SELECT {seq}::text || '/' || string_agg(t.xmin::text, '/' ORDER BY t.tgname) || '/' || min(p.xmin::text)
FROM pg_catalog.pg_trigger AS t JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
WHERE t.tgrelid = pg_catalog.to_regclass('{audit}') AND p.oid = pg_catalog.to_regprocedure('{fn}()')
	AND t.tgenabled = 'A' AND pg_catalog.cardinality(t.tgattr::int2[]) = 0
	AND (t.tgname, t.tgtype) IN (('{edit_name}', 24), ('{truncate_name}', 32), ('{insert_name}', 5))
HAVING count(*) = 3)`)
	return checkpointStatements{
		// Small on purpose: an application's start is the first statement
		// of a new server process, which plans it with cold catalog caches.
		// max(seq) is read from the end of the primary key's index.
		current: r.Replace(`SELECT coalesce(c.seq = (SELECT max(a.seq) FROM {audit} AS a) AND c.guard = ` +
			strings.ReplaceAll(guard, "{seq}", "c.seq") + `, false) FROM {checkpoint} AS c WHERE c.digest = $1`),

		// A replica that read the trail earlier must not set a newer
		// checkpoint of the same pipeline back. A checkpoint at the same
		// seq is replaced, with the guard as it now is: a start that found
		// the trail edited but every change still done makes it current
		// again. So is one above the trail's highest seq, whose entries
		// were deleted. The statement returns whether the triggers are in
		// place, so that SaveCheckpoint can install them.
		save: r.Replace(`WITH g AS (SELECT ` + strings.ReplaceAll(guard, "{seq}", "$2::bigint") + ` AS guard),
s AS (INSERT INTO {checkpoint} AS c (digest, seq, saved_at, entries, entries_digest, guard)
SELECT $1, $2, clock_timestamp(), count(*), ` + entriesDigest + `, (SELECT guard FROM g) FROM {audit} AS a WHERE a.seq <= $2
ON CONFLICT (digest) DO UPDATE SET seq = excluded.seq, saved_at = excluded.saved_at,
	entries = excluded.entries, entries_digest = excluded.entries_digest, guard = excluded.guard
WHERE c.seq <= excluded.seq OR c.seq > (SELECT max(a.seq) FROM {audit} AS a))
SELECT guard IS NOT NULL FROM g`),

		// The table of an earlier release gets the columns on the first
		// checkpoint read or save that misses them. Earlier releases
		// ignore guard.
		upgrade: r.Replace(`ALTER TABLE {checkpoint} ADD COLUMN IF NOT EXISTS entries bigint, ADD COLUMN IF NOT EXISTS entries_digest text, ADD COLUMN IF NOT EXISTS guard text`),

		// install creates the function and the triggers unless they are in
		// place, so that concurrent installers (serialised by the creation
		// lock) leave the guard of the first alone. It runs inside the
		// creation transaction, or alone under the same lock. SECURITY
		// DEFINER: whoever may edit the trail voids the checkpoints, even
		// without DELETE on their table. An inserted entry voids them only
		// below the highest seq, and the store's own appends do not even
		// call the function (appendingSetting).
		install: r.Replace(`DO $install$ BEGIN IF ` + strings.ReplaceAll(guard, "{seq}", "0") + ` IS NULL THEN
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $void$
BEGIN
	IF TG_OP = 'INSERT' THEN
		-- max(seq) is read from the end of the primary key's index, whatever
		-- the table's statistics: an EXISTS (seq > NEW.seq) planned while the
		-- table was small scans it, and every append would read the trail.
		IF NEW.seq >= (SELECT max(seq) FROM {audit}) THEN
			RETURN NULL;
		END IF;
	END IF;
	DELETE FROM {checkpoint};
	RETURN NULL;
END
$void$;
COMMENT ON FUNCTION {fn}() IS 'flamingock-go: an edit of the audit trail voids its checkpoints; do not drop';
DROP TRIGGER IF EXISTS {edit} ON {audit};
DROP TRIGGER IF EXISTS {truncate} ON {audit};
DROP TRIGGER IF EXISTS {insert} ON {audit};
CREATE TRIGGER {edit} AFTER UPDATE OR DELETE ON {audit} FOR EACH STATEMENT EXECUTE FUNCTION {fn}();
CREATE TRIGGER {truncate} AFTER TRUNCATE ON {audit} FOR EACH STATEMENT EXECUTE FUNCTION {fn}();
CREATE TRIGGER {insert} AFTER INSERT ON {audit} FOR EACH ROW
	WHEN (pg_catalog.current_setting('` + appendingSetting + `', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION {fn}();
ALTER TABLE {audit} ENABLE ALWAYS TRIGGER {edit}, ENABLE ALWAYS TRIGGER {truncate}, ENABLE ALWAYS TRIGGER {insert};
END IF; END $install$;
`),
	}
}

// appendingSetting marks, for the rest of its transaction, a transaction
// in which the store's append statement inserted an entry (set_config in
// the statement, before its insert): the insert trigger then does not call
// its function, so an append costs no trigger call (a plpgsql call per
// append cost about as much as the rest of the statement on the server).
// Any other insert (by hand, COPY) calls it, and an entry below the
// trail's highest seq voids the checkpoints.
const appendingSetting = "flamingock.appending"

// entriesDigest is the sum of the row versions of the entries a FROM
// {audit} AS a selects, which earlier releases compare.
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
// records the guard of the triggers as they are. When they are not in
// place (the tables of an earlier release, a trigger dropped or disabled),
// a store that may create tables installs them and saves again; when it
// cannot, the checkpoint is saved without a guard, never current, and the
// error says why.
func (s *Store) SaveCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("postgres: save checkpoint: %w", err)
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	guarded, err := s.saveCheckpoint(ctx, cp)
	if missingColumn(err) {
		if uerr := s.upgradeCheckpoints(ctx); uerr != nil {
			return s.explain("add the columns entries, entries_digest and guard to "+s.checkpoint.quoted+
				" (made by an earlier release; it takes the table's owner)", needCreateTables, uerr)
		}
		guarded, err = s.saveCheckpoint(ctx, cp)
	}
	if err != nil {
		return s.explain("save the checkpoint in "+s.checkpoint.quoted, needCheckpoint, err)
	}
	if guarded {
		return nil
	}
	if s.readOnly {
		return fmt.Errorf("postgres: checkpoint saved in %s is never current: the triggers guarding it are missing "+
			"from %s, and a read-only store creates nothing", s.checkpoint.quoted, s.audit.quoted)
	}
	if err := s.installGuard(ctx); err != nil {
		return s.explain("create the triggers on "+s.audit.quoted+" that void checkpoints on an edit"+
			" (it takes the table's owner; until then no checkpoint is current)", needCreateTables, err)
	}
	if guarded, err = s.saveCheckpoint(ctx, cp); err != nil {
		return s.explain("save the checkpoint in "+s.checkpoint.quoted, needCheckpoint, err)
	}
	if !guarded {
		return fmt.Errorf("postgres: the triggers on %s that void checkpoints are still not in place after creating them", s.audit.quoted)
	}
	return nil
}

func (s *Store) saveCheckpoint(ctx context.Context, cp audit.Checkpoint) (guarded bool, err error) {
	err = s.pool.QueryRow(ctx, s.checkpointSQL.save, execArgs(cp.Digest, cp.Seq)...).Scan(&guarded)
	return guarded, err
}

// installGuard creates the triggers under the creation lock, unless
// another process did meanwhile.
func (s *Store) installGuard(ctx context.Context) error {
	sql := fmt.Sprintf("SELECT pg_advisory_xact_lock(%d);\n", s.creationLockKey()) + s.checkpointSQL.install
	_, err := s.pool.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return err
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
