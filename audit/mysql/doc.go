// Package mysql is the MySQL and MariaDB audit store of flamingock-go, built
// on database/sql and github.com/go-sql-driver/mysql. It runs on MariaDB
// 10.11 (what its tests run against) and is written for MySQL 8 too; see
// "MySQL 8 and MariaDB" below for what differs.
//
//	store, err := mysql.Open(ctx, "mysql://app:secret@db:3306/app")
//	// or a go-sql-driver DSN: "app:secret@tcp(db:3306)/app?tls=true"
//	if err != nil { … }
//	defer store.Close()
//
// Open makes a *sql.DB of its own from a store URL (mysql://user:pass@host:port/db,
// the form of audit/storeurl and the flamingock CLI) or a go-sql-driver DSN,
// and sets the session it needs whatever the DSN says (parseTime, loc=UTC,
// time_zone '+00:00', a strict sql_mode, interpolateParams,
// maxAllowedPacket=0: see Open). New uses a *sql.DB the caller owns and
// depends on none of those settings but a strict sql_mode, which it checks.
// Neither sends anything to the server (unless WithReadOnly): the first
// operation connects.
//
// The store looks at its tables when it first needs them: before its first
// write, it reads their shape from information_schema.COLUMNS and their
// layout, and creates the missing ones (CREATE TABLE IF NOT EXISTS). MySQL's
// DDL commits implicitly, so creation cannot be a transaction: creators are
// serialised by a named lock (GET_LOCK on one connection, released in a
// defer on it, and by the server when the connection dies) and read the
// catalog again under it, so any number of processes may start at once.
// Tables of another shape (another column type, no primary key, a view, a
// MyISAM table) or of a newer layout are refused, saying what is wrong, and
// nothing is written to them. A read before the first write goes straight to
// the tables; when they are missing, they are created as the first write
// would and the read runs again. Once the store has checked its tables it
// never creates them again: a table dropped behind its back is reported,
// not replaced by an empty trail that would have every change applied
// again.
//
// # Tables
//
// With the default prefix "flamingock" (WithTablePrefix), all InnoDB:
//
//   - flamingock_audit: the append-only trail. seq (BIGINT AUTO_INCREMENT,
//     the store's order), schema_version (of the row; rows of a newer
//     release are refused as corrupt), then one column per audit.Entry
//     field. Stage, change id, target id and author are VARBINARY of their
//     bounds (audit.MaxIDLen, audit.MaxAuthorLen): compared byte for byte,
//     without the trailing-space padding of MySQL's PAD SPACE collations and
//     under no collation, whose names differ between MySQL 8 and MariaDB.
//     change_order is DECIMAL(65,0), MySQL's widest exact number, kept
//     non-negative by a CHECK: ORDER BY change_order sorts orders as numbers
//     (9 < 10 < 20150101000001000000), and Append refuses an order of more
//     than 65 digits with an error saying so. Times are DATETIME(6) in UTC:
//     Append truncates Entry.Time to the microsecond and returns the entry
//     as stored. duration_ns is BIGINT nanoseconds. metadata is LONGTEXT
//     (NULL when empty), kept as given, byte for byte: the JSON type of
//     MySQL 8 would reorder it and MariaDB's would not, so the store uses
//     neither. Other text is LONGTEXT in utf8mb4 with its binary collation.
//   - flamingock_version: one row, the layout of the tables and when they
//     were created in it (the server's clock).
//   - flamingock_lock: one lease row per key: lock_key, owner (empty when
//     released), epoch (grows on every acquisition, kept on release),
//     expires_at, and released_by and released_at (the latest ForceRelease).
//   - flamingock_checkpoint: one row per pipeline digest: the trail's highest
//     seq when it was found wholly applied, the count of the entries at or
//     below it and the XOR of their hashes (see "Starting with nothing to
//     do"). Deleting rows is harmless: the next start reads the whole trail.
//
// # Layouts
//
// The tables are versioned as a whole by the layout in flamingock_version,
// from the first release: this release's is layout 1. (The PostgreSQL and
// SQLite stores are at layout 2, because their first layout kept orders in
// a bigint; a layout number counts the shapes of one store's tables, and
// these tables never had another.) A later release adds its upgrade to the
// store's list of upgrades, run in place at the first write under the
// creation lock. A store whose version table records a newer layout is
// refused, by Open with WithReadOnly and by the first write, with an error
// saying to upgrade flamingock-go, and nothing is written to it.
//
// # Lock and fencing
//
// Every expiry is computed by the server, UTC_TIMESTAMP(6) + INTERVAL ttl
// MICROSECOND, never by the client, and compared with UTC_TIMESTAMP(6),
// which the session's time_zone does not change. Acquire, Refresh and
// ForceRelease are short READ COMMITTED transactions that lock the key's
// row (SELECT … FOR UPDATE) before deciding; two first acquisitions of a key
// race on its primary key and the loser runs again. Release is one
// statement. Every audit write is one statement, INSERT … SELECT … FROM the
// lock table WHERE the lease (key, owner, epoch, expiry by the server's
// clock) still holds the lock, LOCK IN SHARE MODE: nothing is inserted
// unless the lease holds, a takeover in progress is waited for and then
// seen, and a takeover that starts later waits for the entry to commit. No
// row inserted: the write fails with an error matching audit.ErrFenced.
// The store takes no session lock for the lease (GET_LOCK is used only
// while creating the tables).
//
// # Starting with nothing to do
//
// A pipeline whose checkpoint is current starts with one statement, one
// round trip: it compares the checkpoint's seq, count and XOR with the
// trail's highest seq, count and XOR of a 64-bit hash of every column of
// every entry. So deleting an entry, editing any field of one (a value of
// the same length included), truncating the trail or inserting by hand makes
// the checkpoint stale. The PostgreSQL and SQLite stores have triggers do
// it; this one does not use triggers, because on MySQL 8 with binary logging
// (the default) creating one takes SUPER or log_bin_trust_function_creators,
// and TRUNCATE fires none. The cost: the server reads and hashes the whole
// trail on every up-to-date start (no entry is sent, but the time is linear
// in the trail's length: about 3 µs an entry on MariaDB 10.11 on a laptop-class
// machine, so 3 ms for 1 000 entries and 0.3 s for 100 000, of which the
// MD5 is half), where PostgreSQL reads a few index entries. Not detected: an edit crafted to
// keep the 64-bit XOR, or an edit of the checkpoint table itself.
//
// # Errors and bad input
//
// Errors name the table and the fix and wrap the driver's error (%w), with
// the password scrubbed. A refused login, a missing database, a missing
// GRANT (which one is said), a refused connection ("is MySQL or MariaDB
// running at host:port?", matching audit.ErrUnavailable since nothing was
// sent), a connection lost mid-call (whether a write was stored is then
// unknown: the trail tells), a statement larger than max_allowed_packet
// (refused by the driver before it is sent, or by the server: nothing is
// recorded either way), a value that does not fit its column (strict
// sql_mode: refused, never truncated) are each reported so. A row edited by
// hand into something no store writes (an unknown state, an invalid time, a
// lock epoch under 1) is an *audit.CorruptError naming it.
//
// # MySQL 8 and MariaDB
//
// The store's SQL is the subset both parse: LOCK IN SHARE MODE rather than
// MySQL 8's FOR SHARE (MariaDB 10.11 has no FOR SHARE); VALUES(col) in ON
// DUPLICATE KEY UPDATE, which MySQL 8.0.20 deprecates (a warning, still
// supported in 8.4) in favour of row aliases MariaDB lacks; no JSON type (a
// binary, normalising type on MySQL 8, a LONGTEXT alias on MariaDB); no
// collation names (utf8mb4_0900_* exist on MySQL 8 only). CHECK
// constraints are enforced from MySQL 8.0.16 and MariaDB 10.2. The shape
// check reads DATA_TYPE and precisions rather than COLUMN_TYPE, which
// prints display widths (bigint(20)) on MariaDB and not on MySQL 8.0.19+.
// MySQL 8 defaults to innodb_autoinc_lock_mode=2, so concurrent appends
// may leave gaps in seq, as a rolled-back one does on either server: seq
// orders the trail, it does not count it. Table names are case-sensitive on
// Linux (lower_case_table_names=0) and not on Windows or macOS servers:
// keep prefixes in lower case to be portable.
//
// # Privileges
//
// Creating the tables needs CREATE on the database; once they exist, the
// store's user needs SELECT and INSERT on the audit table, SELECT, INSERT
// and UPDATE on the lock and checkpoint tables, and SELECT on the version
// table.
package mysql
