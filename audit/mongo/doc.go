// Package mongo is the MongoDB audit store of flamingock-go, built on
// go.mongodb.org/mongo-driver/v2.
//
//	store, err := mongo.Open(ctx, "mongodb://app:secret@db1,db2/app?replicaSet=rs0")
//	if err != nil {
//		return err // names the server, never the password
//	}
//	defer store.Close()
//	lease, err := store.Acquire(ctx, "default", runnerID, time.Minute)
//	if err != nil {
//		return err // *audit.LockHeldError when another runner holds it
//	}
//	defer store.Release(ctx, lease)
//	_, err = store.Append(ctx, lease, entry)
//
// Open connects with a client of its own, which Close disconnects; New uses
// a *mongo.Database of the caller's client, which Close leaves connected.
// The database is WithDatabase's, else the URI's path, else "flamingock".
// String names the store by its URI without the password or secret options.
//
// # The trail: one collection, append-only
//
// The store keeps the trail and the lock in one collection, PREFIX_audit
// ("flamingock" unless WithCollectionPrefix says otherwise), a chain of
// documents whose _id is the seq, 1, 2, 3 and so on. A document is either
// an entry (kind "entry": one field per audit.Entry field, time as a BSON
// date at millisecond precision, duration_ns in nanoseconds, metadata as
// JSON text, and the lease it was written under) or a lock event (kind
// "lease": an acquire, refresh, release or force_release of a key, with
// its epoch, owner and expiry). Every document carries a schema_version
// (see Orders). The store never updates or deletes a document of the trail, and neither
// may anyone else: the proof below rests on it. Do not shard the
// collection, nor put a TTL index on it. (Checkpoints, which only spare
// reads, are kept in a collection of their own: see below.)
//
// Every write is the same step, extend: read the tip (the server's clock,
// the highest seq, the key's latest lock event at or below it), decide on
// it, and insert the document at highest seq + 1. When another writer took
// that seq first, the insert fails on the unique index of _id, and the
// writer reads the new tip and decides again. So the chain is gapless, a
// document's predecessors are exactly the tip its writer decided on, and
// the lock state a writer acted on is the state just before its document.
//
// # Orders
//
// An entry's order is stored in the form the releases before layout 2
// wrote whenever it can be: an order that fits int64 is an int64 in field
// order, in a document of schema_version 1. A larger order (a 20-digit
// version such as 20150101000001000000) is stored as its decimal digits,
// without leading zeros, a string in field order, and their number, an
// int64 in field order_digits, in a document of schema_version 2. So every
// order keeps all its digits, and a release before layout 2 that reads
// such an entry refuses it as written by a newer flamingock-go ("upgrade
// flamingock-go") instead of misreading it.
//
// To sort entries by order on the server, sort by order_digits, then
// order:
//
//	db.flamingock_audit.find({kind: "entry"}).sort({order_digits: 1, order: 1, _id: 1})
//
// Documents of schema_version 1 lack order_digits, which sorts them first
// (a missing field sorts as null, before numbers), by their int64 order;
// the others come after them, as every order beyond int64 is larger, by
// their number of digits, then by their digits, which compare bytewise as
// the numbers do when there are as many of them. A sort by order alone
// would be wrong: numbers sort before strings, but strings bytewise, so
// "9300000000000000000" would follow "20150101000001000000". Decimal128
// was not chosen: it keeps only 34 digits, and FerretDB 1.24 drops the
// connection on one.
//
// # Layout and upgrade
//
// The layout of the store's collections has a version, recorded in
// PREFIX_version as one document, {_id: "layout", version: 2, upgraded_at:
// the server's time it was recorded}. Layout 1, written by the releases
// before orders of any length, has no record. Layout 2 adds orders beyond
// int64 and the record.
//
// Open and New read the record (one round trip for an up-to-date store).
// Without one (layout 1, or no store yet), they create the indexes that
// are missing (see Names), run the upgrade steps of each layout after the
// store's, and insert the record, in that order, so that a record means
// the store is complete; another opener's record inserted first counts as
// done, once read back. Any number of processes may open a store of layout
// 1 at once: each step is idempotent, and there is no lock to take (MongoDB
// has no transactional DDL, FerretDB no transactions). The upgrade from
// layout 1 to 2 changes no document of the trail, nor of PREFIX_checkpoint:
// there is nothing to rewrite, as every order of layout 1 fits int64 and
// keeps its stored form. So every seq and every value stays as it was, a
// checkpoint saved before the upgrade stays current (its digest is of the
// documents as stored), and releases of layout 1 still running keep
// working on the trail until they meet an entry of schema_version 2.
//
// A record of a layout above 2 is refused, by Open and by a read-only
// Open, before anything is written: the store was written by a newer
// flamingock-go, and must be opened by one ("upgrade flamingock-go"). A
// read-only Open writes nothing: it reads layout 1 as it is, and layout 2.
// Because an up-to-date open does not create indexes, an index dropped by
// hand stays dropped: delete the version record, and the next Open creates
// it again with the record.
//
// # Lock and fencing
//
//   - Acquire inserts an acquire event of epoch N+1 when the key's latest
//     event is a release, or has expired by the server's clock. Of any
//     number of concurrent acquirers, exactly one inserts at the seq they
//     all read; the others read its event and get an *audit.LockHeldError
//     naming it. A unique index on the acquire event's "key/epoch" refuses
//     a second acquisition of one epoch as well.
//   - Refresh and Release insert a refresh or release event of the lease's
//     epoch, only when the lease is the key's latest event and unexpired.
//   - Append inserts the entry only when the lease is the key's latest
//     event and unexpired, on the same tip. If a new owner takes the lock
//     over between that check and the insert, the new owner's acquire
//     event holds the seq the entry wanted (or one below, which the retry
//     reads), so the insert fails, the retry sees the new epoch, and the
//     entry is refused with audit.ErrFenced. No document written under an
//     epoch can follow the acquisition of the next one.
//   - ForceRelease inserts a force_release event, which frees the key like
//     a release and records the operator; lock events carry that record
//     forward, so Lock reports it until the next forced release.
//
// Mutual exclusion and fencing therefore rely on unique-key inserts only:
// no step updates a document, so none relies on single-document update
// atomicity, and none needs a multi-document transaction. A check and the
// insert that follows it are not atomic, and need not be: the insert lands
// exactly after the state that was checked, or not at all. What a write
// that passed its check may still do is land after its lease expired, when
// nobody has taken the key over (a takeover would hold the seq): it is then
// ordered before any later acquisition, as if it had been on time.
//
// The rest it relies on: reads go to the primary (so a reader that sees a
// seq sees every seq below it, and sees the document its insert collided
// with), and writes are acknowledged by a majority (so that no acknowledged
// document is rolled back by a failover). The store sets both on its
// collections, whatever the client's defaults.
//
// # Checkpoints
//
// PREFIX_checkpoint holds one document per pipeline (see
// audit.Checkpointer): _id is the pipeline's digest, seq the trail's
// highest entry seq when a run last found every change of it done,
// entries and entries_digest the number of the trail's documents other
// than lock events at or below seq and a SHA-256 digest of them as stored,
// and saved_at the server's time that seq was saved. The trail's highest
// seq a checkpoint is compared with is that of an entry: lock events take
// seqs too, and a run releases its lock after saving its checkpoint.
// Saving is an upsert that only raises seq (or saves it again, on the
// documents as they now are), so a replica that read the trail earlier
// cannot set a newer checkpoint back. (FerretDB can lose one of two
// concurrent updates of a document, so there a checkpoint may end lower
// than the higher of two racing saves: the next start then reads the trail
// and saves it again.)
//
// A pipeline whose checkpoint is current starts with two reads: its
// checkpoint, by _id, then the trail's documents, digested but not
// decoded, so that a document deleted or edited by hand since the
// checkpoint was saved makes it stale. FerretDB implements no aggregation
// operator that could digest them on the server. When the checkpoint is
// stale, the trail is read again, as Snapshot does. A checkpoint saved by
// a release before entries were recorded has no entries: it is never
// current.
//
// Checkpoints are the one thing the store updates, and they are no part of
// the proofs above: the lock, the fencing and the order of the trail are
// decided by reads and inserts of PREFIX_audit alone: no write of the
// trail reads a checkpoint. A checkpoint only claims that every change was done in the
// trail up to its seq, a prefix the store never changes, so whatever seq it
// holds (older, or set back by FerretDB) its claim stays true until an
// operator edits that prefix, which its digest tells; a current one merely
// spares a start the decoding of the trail. Deleting checkpoints,
// or the whole collection, is harmless: the next start reads the trail and
// saves them again. A document there without a seq that is a positive
// 64-bit integer was not written by the store and is reported as corrupt.
//
// # Clock
//
// Lease expiry is computed and judged by the server's clock, never the
// client's: the localTime that hello reports (the primary's clock; a
// mongos's own on a sharded cluster), read at the start of every tip, so a
// lease never ends later than its TTL after that moment. A new expiry is
// that time plus the TTL, at millisecond precision. $$NOW, which would
// take the clock inside the write, is not used: FerretDB implements no
// aggregation variables, and its $currentDate would need an update.
//
// # Snapshot and history
//
// Snapshot is one find of the trail in seq order (up to 10,000 documents,
// and 16 MiB, a round trip); the latest entry of each change is picked
// here. The server cannot pick it with $group: FerretDB 1.24 implements
// only $count and $sum as accumulators ($last, $first, $max are missing).
// Every document of the trail but lock events is decoded strictly: a
// missing or extra field, a field of another type, an unknown state, a
// newer schema_version, or a document another program put there fails the
// whole call with an *audit.CorruptError naming the document. So does a
// lock event that cannot be trusted, for the operations on its key; and a
// document at the top of the chain whose _id is not a seq (an ObjectId,
// say) stops every write, since no seq can follow it.
//
// # Names
//
// Database names follow MongoDB's rules: 1 to 63 bytes, none of
// /\. "$*<>:| ? or NUL (FerretDB allows only letters, digits, "_" and "-",
// and says so). The prefix follows the rules for collection names: not
// empty, valid UTF-8, no "$" or NUL, not starting with "." or "system.".
// The namespaces, database.prefix_audit, database.prefix_checkpoint and
// database.prefix_version, are at most 255 bytes.
//
// Open and New create four secondary indexes of PREFIX_audit when missing
// (the latest lock event of a key; the highest entry seq; the history of a
// change; the unique acquisition) on a store without a version record, one
// at a time, since FerretDB 1.24 drops the connection on a createIndexes of
// several indexes that all exist. An index of one of these names with
// another definition is an error. PREFIX_checkpoint needs no index but
// _id's, and is created by its first save; PREFIX_version by its record.
//
// # Tested against FerretDB
//
// The tests run against FerretDB 1.24 (scripts/ferretdb-up): the
// conformance suite, concurrent acquirers on many clients, takeovers under
// load, the upgrade of a trail written by the release before layout 2
// (testdata/layout1) by twenty clients at once, the sort by order, and
// the exact interleaving a check-then-insert design gets wrong
// (a write overtaken by a takeover between its check and its insert),
// replayed deterministically. FerretDB enforces unique indexes (of
// concurrent inserts of one _id, exactly one succeeds), so these tests
// prove mutual exclusion and fencing as MongoDB runs them. FerretDB loses
// concurrent updates of one document; the store makes none. What FerretDB
// cannot show, being a single server without replication: the behaviour
// under failover (majority writes, primary reads), the sparse option of the
// acquisition index (FerretDB ignores it; its SQLite backend lets many
// documents lack a unique field anyway, as a sparse index does on MongoDB),
// and a mongos's clock.
//
// # Growth
//
// Every lock event is a document: a run adds its acquisition, its release
// and a refresh every third of its lease (three a minute with the default
// 60 s lease), besides its entries. PREFIX_checkpoint holds a document
// per pipeline ever found done: one per release of an application.
package mongo
