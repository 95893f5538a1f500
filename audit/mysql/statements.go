package mysql

import "strings"

// entryColumns are the audit table's columns in the order scanEntry reads
// them.
const entryColumns = `seq, schema_version, execution_id, stage, change_id, change_order, author, state,
	occurred_at, duration_ns, host, runner_id, target_id, strategy, recovery, checksum,
	error_message, error_kind, operator, reason, metadata`

// rowHash is a 64-bit digest of one entry, every column included: the
// first 16 hex digits of the MD5 of its columns joined by a unit
// separator, metadata marked NULL or present. Checkpoints XOR it over the
// trail (see checkpoint.go).
const rowHash = `CAST(CONV(LEFT(MD5(CONCAT_WS(0x1f, a.seq, a.schema_version, a.execution_id, a.stage, a.change_id,
	a.change_order, a.author, a.state, a.occurred_at, a.duration_ns, a.host, a.runner_id, a.target_id, a.strategy,
	a.recovery, a.checksum, a.error_message, a.error_kind, a.operator, a.reason,
	IF(a.metadata IS NULL, 'n', CONCAT('j', a.metadata)))), 16), 16, 10) AS UNSIGNED)`

// insertInto starts the statements that append an entry.
const insertInto = `INSERT INTO {audit} (schema_version, execution_id, stage, change_id, change_order,
	author, state, occurred_at, duration_ns, host, runner_id, target_id, strategy, recovery, checksum,
	error_message, error_kind, operator, reason, metadata)
`

// statements are the store's SQL with its quoted table names filled in once.
type statements struct {
	snapshot, history, append, insert, leaseHolds      string
	lockRow, lockInfo, insertLock, takeLock, lockLease string
	validLease, extend, release, forceRelease, now     string
	current, saveCheckpoint                            string
}

func buildStatements(auditTable, lockTable, checkpointTable string) statements {
	r := strings.NewReplacer("{audit}", auditTable, "{lock}", lockTable, "{checkpoint}", checkpointTable,
		"{columns}", entryColumns, "{hash}", rowHash)
	// lease is the condition of a lease row that still holds the lock, by
	// the server's clock: UTC_TIMESTAMP(6) is the time the statement
	// started, independent of the session's time_zone.
	const lease = `lock_key = ? AND owner = ? AND owner <> '' AND epoch = ? AND expires_at > UTC_TIMESTAMP(6)`
	return statements{
		// The latest entry of each change: the index (stage, change_id,
		// seq) gives each group's highest seq without reading the rows.
		snapshot: r.Replace(`SELECT {columns} FROM {audit}
JOIN (SELECT MAX(seq) AS latest FROM {audit} GROUP BY stage, change_id) AS l ON seq = l.latest ORDER BY seq`),

		history: r.Replace(`SELECT {columns} FROM {audit} WHERE 1 = 1`),

		// The fence check and the insert are one statement: the row is
		// selected from the lease row, so nothing is inserted unless the
		// lease holds the lock at the server's now, and LOCK IN SHARE MODE
		// (FOR SHARE in MySQL 8, which MariaDB 10.11 does not parse) makes a
		// takeover in progress (which locks the row for update) finish
		// first, after which the condition no longer holds, and makes a
		// takeover that starts later wait until this entry is committed, so
		// that the new owner reads it. No row inserted: refused.
		append: r.Replace(insertInto + `SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
FROM {lock} WHERE ` + lease + ` LOCK IN SHARE MODE`),
		// AppendStartedSQLTx's: a consistent read of the lease, then a
		// plain insert, so that nothing is locked for the transaction's life.
		leaseHolds: r.Replace(`SELECT 1 FROM {lock} WHERE ` + lease),
		insert:     r.Replace(insertInto + `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),

		lockRow: r.Replace(`SELECT owner, epoch, expires_at, UTC_TIMESTAMP(6), released_by, released_at
FROM {lock} WHERE lock_key = ? FOR UPDATE`),
		lockInfo: r.Replace(`SELECT l.owner, l.epoch, l.expires_at, UTC_TIMESTAMP(6), l.released_by, l.released_at
FROM (SELECT 1) AS one LEFT JOIN {lock} AS l ON l.lock_key = ?`),
		insertLock: r.Replace(`INSERT INTO {lock} (lock_key, owner, epoch, expires_at)
VALUES (?, ?, 1, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)`),
		takeLock: r.Replace(`UPDATE {lock} SET owner = ?, epoch = epoch + 1, expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND
WHERE lock_key = ? AND (owner = '' OR expires_at <= UTC_TIMESTAMP(6))`),
		lockLease:  r.Replace(`SELECT epoch, expires_at FROM {lock} WHERE lock_key = ? AND owner = ?`),
		validLease: r.Replace(`SELECT expires_at FROM {lock} WHERE ` + lease + ` FOR UPDATE`),
		extend:     r.Replace(`UPDATE {lock} SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE lock_key = ?`),
		// The epoch stays, so the next acquisition still gets a higher one.
		// The owner changes from a non-empty one, so a matching row always
		// counts as affected.
		release: r.Replace(`UPDATE {lock} SET owner = '', expires_at = UTC_TIMESTAMP(6) WHERE ` + lease),
		forceRelease: r.Replace(`UPDATE {lock} SET owner = '', expires_at = LEAST(expires_at, ?), released_by = ?, released_at = ?
WHERE lock_key = ?`),
		now: `SELECT UTC_TIMESTAMP(6)`,

		// One statement, one scan of the trail (see checkpoint.go).
		current: r.Replace(`SELECT c.seq = t.top AND c.entries = t.n AND c.trail_xor = t.x
FROM {checkpoint} AS c
JOIN (SELECT MAX(a.seq) AS top, COUNT(*) AS n, BIT_XOR({hash}) AS x FROM {audit} AS a) AS t
WHERE c.digest = ?`),

		// A checkpoint of the digest with a higher seq that is not above
		// the trail's highest stays; the assignments read the old seq, since
		// MySQL assigns left to right and seq comes last.
		saveCheckpoint: r.Replace(`INSERT INTO {checkpoint} (digest, seq, saved_at, entries, trail_xor)
VALUES (?, ?, UTC_TIMESTAMP(6),
	(SELECT COUNT(*) FROM {audit} AS a WHERE a.seq <= ?),
	(SELECT BIT_XOR({hash}) FROM {audit} AS a WHERE a.seq <= ?))
ON DUPLICATE KEY UPDATE
	entries = IF(seq <= VALUES(seq) OR seq > (SELECT MAX(b.seq) FROM {audit} AS b), VALUES(entries), entries),
	trail_xor = IF(seq <= VALUES(seq) OR seq > (SELECT MAX(b.seq) FROM {audit} AS b), VALUES(trail_xor), trail_xor),
	saved_at = IF(seq <= VALUES(seq) OR seq > (SELECT MAX(b.seq) FROM {audit} AS b), VALUES(saved_at), saved_at),
	seq = IF(seq <= VALUES(seq) OR seq > (SELECT MAX(b.seq) FROM {audit} AS b), VALUES(seq), seq)`),
	}
}
