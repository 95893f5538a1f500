// Package adopt imports the history that goose or golang-migrate kept of a
// database, so that flamingock-go adopts a database one of them migrated
// instead of migrating it again. The importers are pipeline.Importer
// values: the run that adopts imports, under the runner's lock, before it
// executes anything.
//
// # Adopting
//
// Declare goose's or golang-migrate's files as the changes of a stage,
// each with its version as its order (flamingock-gen does it for SQL
// files), and add the importer to the runner, naming the database's
// dialect (it is never guessed):
//
//	r, err := pipeline.New(store, stages,
//		pipeline.WithImport(adopt.Goose(db, adopt.PostgreSQL)))
//
// or adopt.Migrate(db, adopt.SQLite, adopt.WithTable("migrations")), and so
// on. db is the database the old tool migrated, read with database/sql
// (the importers do not depend on goose or golang-migrate). Options name
// the old table when it is not the default (WithTable) and the stage the
// history belongs to when the pipeline has more than one (WithStage).
//
// The first start of the new release finds changes without entries and
// calls the importer: every change the old tool applied gets a
// MANUAL_MARKED_AS_APPLIED entry, with operator "goose import" or
// "golang-migrate import", a reason naming the table and the version, and
// metadata saying where it came from:
//
//	{"imported":{"tool":"goose","table":"goose_db_version","version":"20240101120000","applied_at":"2024-01-01T12:00:00Z"}}
//
// (applied_at is goose's tstamp, as the driver reads it, in UTC;
// golang-migrate keeps no time). The changes after the old tool's last
// version then run as usual. Later starts find every change with an
// entry and do not call the importer; one that does (a new change was
// added) imports nothing again: a change that has an entry, imported or
// run by flamingock-go, is never recorded twice, so an import cut short
// is completed by the next start.
//
// # What is imported
//
// goose: goose_db_version (id, version_id, is_applied, tstamp). The row of
// highest id of each version decides, as goose reads it: is_applied false
// is a version goose rolled back. Version 0 is the row goose writes when
// it creates the table, and is ignored.
//
// golang-migrate: schema_migrations (version, dirty), one row. Every
// change of the stage ordered at or below the version is applied, as
// golang-migrate applied every file up to it in order: a change added to
// the stage must be ordered above it. When dirty is set, the version's
// migration started and did not finish: its change gets a FAILED entry
// with recovery MANUAL, an issue that stops the run until an operator
// checks the database and resolves it with flamingock audit fix; the
// changes below it are applied. (golang-migrate also records a failed down
// migration as its target version, dirty: check the version above it
// too.) An empty table means nothing was applied.
//
// # What is refused
//
// Before anything is recorded, an import fails, naming the table, the
// version and the change, and saying what to do, when:
//
//   - the old table does not exist (ErrNoTable: if the old tool never
//     migrated this database, start without the importer), or its columns
//     are not the old tool's;
//   - a version the old tool applied is no change of the stage
//     (ErrMismatch, as every case below), or is no order (negative);
//   - a change is ordered below goose's last applied version, goose never
//     applied it, and the trail has no entry for it;
//   - an imported version's change has an entry that says otherwise, such
//     as ROLLED_BACK;
//   - the pipeline has several stages and WithStage names none, or two
//     changes of the stage share an order.
//
// All the disagreements are reported at once. The old table is only read:
// rolling back to the old release stays possible.
//
// # Locks
//
// flamingock-go's own lock is the audit store's lease, which the runner
// holds while it imports: of twenty replicas starting the new release at
// once, one imports and the others find the entries. On PostgreSQL the
// importer also holds the OLD tool's session advisory lock while it reads
// and records, so that an old release still rolling out cannot migrate
// meanwhile, and reads the table once it has the lock. It takes the lock
// on a connection of its own, trying again until the old release lets it
// go, for at most DefaultLockWait (WithLockWait) and the context, and
// releases it on every path (a connection it cannot unlock is closed,
// which releases it too):
//
//   - goose: lock 4097083626 (goose's lock.DefaultLockID), the lock of
//     goose's lock.NewPostgresSessionLocker, or the id given to it with
//     lock.WithLockID (WithLockID). goose takes it only when the
//     application configured that locker; goose's table locker
//     (goose_lock) is not taken.
//   - golang-migrate: the lock its PostgreSQL drivers derive from the
//     database's name, the table's schema and its name. The database's
//     name differs with how golang-migrate was opened (the URL's path,
//     "/shop", for its CLI and migrate.New; current_database(), "shop",
//     for a *sql.DB with an empty Config), so both locks are taken. A
//     DatabaseName set in its Config gives another id: pass it with
//     WithLockID.
//
// On SQLite neither tool takes a lock another process would see (their
// SQLite drivers lock within one process only): stop the old release
// before the new one starts.
//
// # Retiring the old table
//
// Keep the importer until every replica runs the new release: until then
// an old replica may still migrate (a release being rolled back and
// forward again), and a new one's start imports what it did. Then remove
// WithImport, and only then drop the old table, if at all: an importer
// whose table is gone fails the next start that has a new change
// (ErrNoTable). Keeping the table keeps rolling back to the old release
// possible (that release will not know what flamingock-go ran since).
package adopt
