package postgres

import "strings"

// entryColumns are the audit table's columns in the order scanEntry reads
// them.
const entryColumns = `seq, schema_version, execution_id, stage, change_id, change_order, author, state,
	occurred_at, duration_ns, host, runner_id, target_id, strategy, recovery, checksum,
	error_message, error_kind, operator, reason, metadata`

// latestSQL selects the latest entry of each change, in no particular
// order. DISTINCT ON keeps the first row of each (stage, change_id) group,
// which the ORDER BY makes the highest seq. The grouping keys are sorted
// with COLLATE "C", byte by byte: the groups are the same as under the
// database's (deterministic) collation, and the sort is several times
// cheaper than one with strcoll.
const latestSQL = `(
	SELECT DISTINCT ON (stage COLLATE "C", change_id COLLATE "C") {columns} FROM {audit}
	ORDER BY stage COLLATE "C", change_id COLLATE "C", seq DESC
)`

// statements are the store's SQL with its quoted table names filled in once.
type statements struct {
	snapshot string
	history  string // followed by optional conditions and the ORDER BY
	append   string
	acquire  string
	refresh  string
	release  string
	lockInfo string
}

func buildStatements(auditTable, lockTable string) statements {
	r := strings.NewReplacer("{audit}", auditTable, "{lock}", lockTable, "{columns}", entryColumns)
	return statements{
		snapshot: r.Replace(`SELECT {columns} FROM ` + latestSQL + ` AS latest ORDER BY seq`),

		history: r.Replace(`SELECT {columns} FROM {audit} WHERE true`),

		// The fence check and the insert are one statement. The inserted row
		// comes from the lease row itself (the lease CTE), so nothing is
		// inserted unless the lease is current. FOR SHARE is what makes this
		// safe against a concurrent takeover under READ COMMITTED:
		//   - a takeover committed before this statement started is seen by
		//     its snapshot: owner/epoch no longer match, nothing is inserted;
		//   - a takeover in progress holds the row lock (ON CONFLICT DO UPDATE
		//     and UPDATE take FOR NO KEY UPDATE), which conflicts with FOR
		//     SHARE: the lease CTE waits for it to commit, then re-evaluates
		//     its WHERE clause on the new row version (EvalPlanQual, in the
		//     CTE's LockRows node as in a plain SELECT … FOR SHARE) and finds
		//     it no longer matches;
		//   - a takeover that starts after this statement locked the row
		//     waits until this transaction commits, so the new owner's next
		//     read includes this entry.
		// FOR KEY SHARE would not do: it does not conflict with FOR NO KEY
		// UPDATE, so the takeover would not wait. Without a row lock the
		// insert could commit after the takeover, unseen by the new owner.
		// clock_timestamp() rather than now(): inside a caller's transaction
		// (AppendTx, CommitTx) now() is the transaction's start time, which
		// would accept a lease that expired while the transaction ran.
		//
		// A refused append raises division_by_zero (22012) rather than
		// inserting nothing: the fence row always exists (an aggregate over
		// the inserted rows) and its condition divides by their count. An
		// error is what makes CommitTx safe, since PostgreSQL then skips the
		// COMMIT sent behind the append in the same round trip, and it aborts
		// a caller's transaction, which can then no longer commit the change
		// without its entry. The check is a WHERE condition, which the planner
		// keeps (EXPLAIN shows it as the aggregate's Filter) and cannot fold,
		// count(*) being known only once the insert ran; as an unreferenced
		// output column it could be dropped. Nothing else in the statement
		// divides, so 22012 from it means refused (see appendError).
		append: r.Replace(`WITH lease AS (
	SELECT FROM {lock}
	WHERE key = $21 AND owner = $22 AND owner <> '' AND epoch = $23 AND expires_at > clock_timestamp()
		AND pg_catalog.set_config('` + appendingSetting + `', 'on', true) = 'on'
	FOR SHARE
), entry AS (
	INSERT INTO {audit} (schema_version, execution_id, stage, change_id, change_order,
		author, state, occurred_at, duration_ns, host, runner_id, target_id, strategy, recovery, checksum,
		error_message, error_kind, operator, reason, metadata)
	SELECT $1::integer, $2::text, $3::text, $4::text, $5::numeric, $6::text, $7::text, $8::timestamptz,
		$9::bigint, $10::text, $11::text, $12::text, $13::text, $14::text, $15::text, $16::text,
		$17::text, $18::text, $19::text, $20::jsonb
	FROM lease
	RETURNING seq, occurred_at, metadata
)
SELECT entry.seq, entry.occurred_at, entry.metadata
FROM (SELECT count(*) AS inserted FROM entry) AS fence LEFT JOIN entry ON true
WHERE 1 / fence.inserted = 1`),

		// One statement whatever the state of the key: a new row at epoch 1,
		// or a free (released or expired) row taken over at epoch+1. A held
		// row is left alone and nothing is returned.
		acquire: r.Replace(`INSERT INTO {lock} AS l (key, owner, epoch, expires_at)
VALUES ($1, $2, 1, clock_timestamp() + $3::bigint * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE
SET owner = excluded.owner, epoch = l.epoch + 1, expires_at = excluded.expires_at
WHERE l.owner = '' OR l.expires_at <= clock_timestamp()
RETURNING epoch, expires_at`),

		refresh: r.Replace(`UPDATE {lock}
SET expires_at = clock_timestamp() + $4::bigint * interval '1 microsecond'
WHERE key = $1 AND owner = $2 AND owner <> '' AND epoch = $3 AND expires_at > clock_timestamp()
RETURNING expires_at`),

		// The epoch stays, so the next acquisition still gets a higher one.
		release: r.Replace(`UPDATE {lock}
SET owner = '', expires_at = clock_timestamp()
WHERE key = $1 AND owner = $2 AND owner <> '' AND epoch = $3 AND expires_at > clock_timestamp()`),

		// The outer row always exists, so the database's clock is read even
		// for a key that was never acquired.
		lockInfo: r.Replace(`SELECT l.owner, l.epoch, l.expires_at, clock_timestamp(), l.released_by, l.released_at
FROM (SELECT 1) AS one LEFT JOIN {lock} AS l ON l.key = $1`),
	}
}
