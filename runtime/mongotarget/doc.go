// Package mongotarget is the MongoDB target of flamingock-go, on
// go.mongodb.org/mongo-driver/v2: changes on it receive a *mongo.Database.
//
//	//flamingock:change id=index-users order=1 target=appdb transactional=false recovery=retry
//	func IndexUsers(ctx context.Context, db *mongo.Database) error {
//		_, err := db.Collection("users").Indexes().CreateOne(ctx, mongo.IndexModel{
//			Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true)})
//		return err // creating an index that exists does nothing: safe to run again
//	}
//
//	//flamingock:change id=normalise-emails order=2 target=appdb
//	func NormaliseEmails(ctx context.Context, db *mongo.Database) error { … }
//
// wired to the application's database, here the one of its audit store:
//
//	store, err := mongo.Open(ctx, "mongodb://db1,db2,db3/app?replicaSet=rs0") // package audit/mongo
//	if err != nil { … }
//	defer store.Close()
//	appdb, err := mongotarget.Detect(ctx, store.Database()) // asks the server whether it has transactions
//	if err != nil { … }
//	r, err := pipeline.New(store, []pipeline.Stage{
//		changes.Stage(changes.Targets{Appdb: appdb}, changes.Deps{}),
//	})
//
// # Use the context you are given
//
// A change must run every operation with the ctx it receives. In a
// transaction that ctx carries the change's session (mongo-driver v2 binds
// an operation to a session through its context, as mongo.NewSessionContext
// and Session.WithTransaction do): an operation run with another context,
// context.Background() say, runs outside the transaction, commits at once
// whatever becomes of the change, and is not undone when the change fails.
// The *mongo.Database is the target's own in both cases.
//
// # Strategies
//
// The strategy (see package pipeline) is stated where the target is built,
// and by the change's declaration:
//
//   - On a target built by New (for a server with transactions), a
//     transactional change runs in a session
//     transaction (snapshot reads, majority commit), together with a
//     marker document in the target's database (audit.StrategySeparateTx):
//     STARTED is recorded; the change and its marker commit in the
//     transaction; APPLIED is recorded and the marker deleted. After a crash
//     between the commit and APPLIED, the next run finds the marker and
//     records the change as applied instead of running it again; without
//     the marker it knows the transaction did not commit and runs it again.
//   - On a target built WithoutTransactions (for a server without them),
//     and for a change declared transactional=false, the change runs
//     without one
//     (audit.StrategyNonTx): STARTED, the change, APPLIED; on failure
//     FAILED and the declared rollback. A change that was interrupted is an
//     issue for an operator unless it is declared recovery=retry.
//
// Declare transactional=false for what MongoDB refuses or limits inside a
// transaction: creating a collection or an index (before MongoDB 4.4
// neither can be done in one, and since then an index only on a collection
// the same transaction created), dropping one, and changes too large or too
// long for one (MongoDB aborts a
// transaction after 60 seconds by default, transactionLifetimeLimitSeconds).
// Since such a change can stop half-way, write it so that it can run again
// (create what is missing, skip what is done) and declare recovery=retry,
// or give it a rollback.
//
// Detect builds the target from what the server says, asked once with
// hello under the caller's context: a replica set member (setName) of
// MongoDB 4.0 or later, or a mongos (msg "isdbgrid") of 4.2 or later, with
// sessions (logicalSessionTimeoutMinutes), has transactions; a standalone
// server has none. The answer is logged (through WithLogger, at warning
// level when there are none) and returned by Transactions; every audit
// entry records the strategy its change ran with. pipeline.New asks the
// server nothing. A target built by New on a server without transactions
// fails its first transactional change before running it (the STARTED entry
// is followed by FAILED, and the next run tries again), saying to use
// Detect or WithoutTransactions: it never drops the transaction silently.
//
// # Why not share the audit store's transaction
//
// On a server with transactions, the change could in principle commit in
// one transaction with its APPLIED entry when the audit store is the
// audit/mongo store on the same client, as package sqltarget does with a
// SQL store. It would be safe: that store appends an entry by reading the
// highest seq and inserting at the next; inside a transaction both happen
// on the transaction's snapshot, and if any document reached the trail
// after the snapshot, the seq the entry wants is taken and the insert fails
// with a write conflict that aborts the transaction, change and all. So an
// entry can never commit on a stale view of the lock. But that is also why
// it is not done: every document any writer adds to the trail while a
// change runs (the runner's own lease refresh, every third of the lease;
// any other pipeline or operator using the same collection) aborts the
// change. The longer a change runs, the likelier it fails, on every run,
// through no fault of its own: with the default 60-second lease, one of 10
// seconds would fail about every other time. Besides, the store reads the
// server's clock with hello and retries a taken seq, neither of which can
// happen inside a transaction, so it would need an append made for one. The
// marker gives the same crash safety without tying the change to the
// trail, at the cost of a STARTED entry and a marker write.
//
// # The marker collection
//
// flamingock_marker (WithMarkerCollection names another), in the target's
// database, holds one document per change being applied:
// {_id: {stage, change_id}, execution_id}. It is created, outside any
// transaction, before the first transactional change runs; the target's
// user needs find, insert, update and remove on it, and createCollection
// unless it exists. Markers are read with read concern "linearizable" from
// the primary, so a marker read after a crash or a failed commit reflects
// every commit acknowledged before the read (waiting for one still being
// replicated) and never one a failover rolls back.
//
// # What the tests prove, and what they do not
//
// The tests run against FerretDB 1.24 (scripts/ferretdb-up), a standalone
// server without transactions. Against it they prove: detection (a
// standalone server gives audit.StrategyNonTx, and the reason is logged
// once); the non-transactional strategy end to end (a collection and a
// unique index created by a transactional=false change, documents
// transformed, every step recorded; a failure recorded as FAILED and undone
// by its rollback, or ROLLBACK_FAILED and then an issue; an interrupted
// change reported as an issue under recovery=manual and applied again under
// recovery=retry); markers written, found for their own execution only,
// replaced and deleted; the recovery of an interrupted transactional change
// whose marker is there (APPLIED recorded without running it again, the
// marker cleared) and the plan of one whose marker is missing or another
// execution's (applied again); and, from the commands the driver sends, that
// the context of a transactional work puts operations in its session's
// transaction while operations run with another context stay outside it.
//
// What needs a server with transactions runs only against one (a replica
// set named by FLAMINGOCK_TEST_MONGO) and skips elsewhere, printing the
// server's hello answer: the change and its marker committing together, a
// failed change rolled back by the server, and the recovery after a crash
// before and after the commit. What no test here shows: the guarantees the
// marker relies on under failover (majority commits, linearizable reads),
// and transactions through a mongos.
package mongotarget
