// Package pgxtarget is the PostgreSQL target of flamingock-go on pgx
// (github.com/jackc/pgx/v5): changes on it receive a pgx.Tx.
//
//	store, err := postgres.Open(ctx, dsn)
//	if err != nil { … }
//	defer store.Close()
//	appdb := pgxtarget.Shared(store) // the audit store's database: shared transactions
//	r, err := pipeline.New(store, []pipeline.Stage{
//		schema.Stage(schema.Targets{Appdb: appdb}, schema.Deps{}),
//	})
//
// # Strategies
//
// The strategy (see package pipeline) is stated where the target is built,
// and by the change's declaration:
//
//   - Shared(store) runs changes on the pool of store, the PostgreSQL store
//     of package audit/postgres, and the change and its APPLIED entry commit
//     in one transaction (audit.StrategySharedTx): a crash leaves nothing
//     behind. The entry is appended last, just before COMMIT, because its
//     fence check share-locks the lease row until the transaction ends.
//     pipeline.New refuses it in a pipeline on another store.
//   - New(pool) runs changes on pool (another database, or any pool), each
//     committed together with a marker row in the target
//     (audit.StrategySeparateTx). After a crash between that commit and the
//     APPLIED entry, the next run finds the marker and records the change as
//     applied instead of running it twice.
//   - A change declared transactional=false runs outside any transaction
//     (audit.StrategyNonTx, STARTED then APPLIED), for statements that cannot
//     run in one such as CREATE INDEX CONCURRENTLY. Its handle is a pgx.Tx in
//     name only; see "Changes without a transaction".
//
// # The marker table
//
// flamingock_marker (resolved through the search_path) unless
// WithMarkerTable names another, with one row per change being applied:
// stage, change_id, execution_id. It is created on first use when missing,
// safely when several processes start at once, and its privileges are
// checked before any change runs: the target's user needs SELECT, INSERT,
// UPDATE and DELETE on it (and CREATE on its schema to create it). A missing
// privilege is reported with the GRANT that supplies it.
//
// # Changes without a transaction
//
// A change declared transactional=false receives a pgx.Tx whose statements
// run in autocommit mode, each committing on its own, on one connection
// that the change holds until it returns (so SET and temporary tables carry
// from one statement to the next):
//
//   - Exec, Query, QueryRow, CopyFrom and Prepare go straight to the
//     connection. SendBatch too, and PostgreSQL runs a batch as one
//     implicit transaction, as it does for pgx.Conn.
//   - Begin starts a real transaction on the connection; commit or roll it
//     back before the change returns. A change that leaves one open fails,
//     and the transaction is rolled back.
//   - Commit and Rollback do nothing and return nil: every statement has
//     committed already, so there is nothing to commit and nothing to roll
//     back. They exist so that code written for a transactional handle runs
//     unchanged; do not count on Rollback to undo anything (declare a
//     rollback function for that).
//   - LargeObjects needs a transaction: it returns large objects whose
//     every call fails with pgx.ErrTxClosed; use the LargeObjects of a
//     transaction from Begin.
//   - Conn returns the connection.
//
// While such a change runs, the runner holds no transaction open anywhere:
// its lock is a lease row updated by single statements, not a session
// advisory lock or a transaction, so CREATE INDEX CONCURRENTLY, which waits
// for every transaction older than itself, does not wait for the runner.
//
// # Connections
//
// A change holds one connection of the pool while it runs, and the runner
// refreshes its lease meanwhile through the audit store: when the store
// shares the pool, the pool needs at least two connections (pgxpool's
// default is four or more).
package pgxtarget
