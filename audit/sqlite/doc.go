// Package sqlite is the embedded audit store of flamingock-go: the audit
// trail and the lock live in one SQLite file, accessed through
// modernc.org/sqlite (pure Go, no cgo; driver name "sqlite"). It needs no
// server, which makes it the store of examples, tests and applications whose
// own data already lives in SQLite.
//
//	store, err := sqlite.Open(ctx, "app.db")
//	if err != nil {
//		return err // names the file and what to do
//	}
//	defer store.Close()
//	lease, err := store.Acquire(ctx, "default", runnerID, time.Minute)
//	if err != nil {
//		return err // *audit.LockHeldError when another runner holds it
//	}
//	defer store.Release(ctx, lease)
//	_, err = store.Append(ctx, lease, entry)
//
// # Tables
//
// Open and New create two STRICT tables when they are missing, in one
// transaction: PREFIX_audit, the append-only trail (seq INTEGER PRIMARY KEY
// AUTOINCREMENT, time as unix milliseconds, duration as nanoseconds,
// metadata as JSON text, and a schema_version column), and PREFIX_lock, one
// row per lock key (key, owner, epoch, expires_at in unix milliseconds, and
// released_by and released_at recording the latest ForceRelease).
// PREFIX is "flamingock" unless WithTablePrefix says otherwise. Tables that
// exist with another shape are an error, and nothing is written. Entry times
// are kept to the millisecond. WithReadOnly opens the file read-only and
// creates nothing: a file without the trail is then ErrNotStore.
//
// # Clock and fencing
//
// Lease expiry is computed by SQLite ('now'), never taken from the caller.
// Acquire, Refresh, Release and the fence check of Append are each one SQL
// statement, so they are atomic even on a *sql.DB the caller configured.
// Release and ForceRelease clear the owner and keep the epoch, so the epoch
// grows on every acquisition of a key.
//
// # Shared transactions
//
// A change applied to the same database can commit together with its APPLIED
// entry: begin a transaction on DB, apply the change in it, call AppendTx with
// it, and commit. If the lease was lost meanwhile, AppendTx returns
// audit.ErrFenced and the caller rolls everything back.
//
// # Concurrency
//
// Open configures WAL journaling, a busy timeout (5s unless WithBusyTimeout
// says otherwise) and immediate transactions, so several processes can share
// the file. Reads never wait for a writer, and opening a file whose tables
// exist only reads. A process that holds a write transaction longer than
// the busy timeout makes the others' writes fail with an error saying so.
package sqlite
