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
// Open and New create four STRICT tables when they are missing, in one
// transaction: PREFIX_audit, the append-only trail (seq INTEGER PRIMARY KEY
// AUTOINCREMENT, change_order as decimal TEXT, time as unix milliseconds,
// duration as nanoseconds, metadata as JSON text, and a schema_version
// column), PREFIX_lock, one row per lock key (key, owner, epoch, expires_at
// in unix milliseconds, and released_by and released_at recording the latest
// ForceRelease), PREFIX_checkpoint (see audit.Checkpointer), and
// PREFIX_version, whose one row records the layout of these tables and when
// the store reached it (unix milliseconds, store clock). PREFIX is
// "flamingock" unless WithTablePrefix says otherwise. Tables that exist with
// another shape are an error, and nothing is written. Entry times are kept to
// the millisecond. WithReadOnly opens the file read-only and creates nothing:
// a file without the trail is then ErrNotStore.
//
// # Orders
//
// An order (audit.Order) has any number of digits, and SQLite has no integer
// beyond 64 bits: an INTEGER column would turn a longer one into a lossy
// REAL, or refuse it. So change_order holds the order's canonical decimal
// text, without leading zeros, and sorts as a number by its length first:
//
//	SELECT … FROM flamingock_audit ORDER BY length("change_order"), "change_order"
//
// # Layouts and upgrades
//
// The tables' layout is versioned, and Open upgrades an older one in place.
// Layout 1 is the tables of the releases before PREFIX_version, orders in an
// INTEGER column; layout 2, this release's, keeps them as text and adds
// PREFIX_version. Opening a store of layout 2 only reads. Opening one of
// layout 1 upgrades it in one immediate transaction, which holds the write
// lock, so of several processes opening it at once one upgrades and the
// others then find layout 2: the trail is copied aside, dropped, created
// again in layout 2 and filled with every entry, its seq and all its values
// unchanged but for the order's text, and gets back its AUTOINCREMENT counter
// (no seq is given twice, even after entries deleted by hand), its index and
// its triggers, including the application's. The application's other tables,
// views and triggers are left alone. A failure rolls all of it back, leaving
// layout 1 as it was; a checkpoint saved before the upgrade stays current,
// since the trail it covers has not changed. Releases before layout 2
// refuse a store of layout 2 (its change_order is not the INTEGER they
// check for): upgrade every process that opens the file.
//
// A store whose PREFIX_version records a layout above 2 was written by a
// newer flamingock-go: Open, with or without WithReadOnly, refuses it,
// saying "upgrade flamingock-go", and changes nothing. WithReadOnly reads
// layouts 1 and 2, and upgrades nothing.
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
// exist in this release's layout only reads. A process that holds a write transaction longer than
// the busy timeout makes the others' writes fail with an error saying so.
package sqlite
