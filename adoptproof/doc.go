// Package adoptproof proves, with the real tools, that flamingock-go adopts
// a database that goose or golang-migrate migrated (issue 14): a database
// migrated by goose v3.30 or golang-migrate v4.20 with N SQL files, then an
// application built by flamingock-gen from the same files plus two new
// ones, importing the old history, applies exactly the two new ones,
// leaves the old table as it was and ends with the schema the old tool
// gives applying all N+2; a second start applies nothing. The same on
// SQLite, and: after a down, the reverted version is applied again; a
// version the files lack (a hotfix), or a goose version never applied
// below the last one (a gap), is refused before anything is written; a
// dirty golang-migrate version is an issue resolved through the flamingock
// CLI; on PostgreSQL, twenty processes adopting one database at once import
// it exactly once, and a start while an old release still migrates under
// its tool's lock waits for it.
//
// It is a nested module, as bench/ is, so that users of flamingock-go never
// download goose or golang-migrate. Everything is in its tests:
//
//	cd adoptproof && go test ./...
//
// The PostgreSQL tests need FLAMINGOCK_TEST_POSTGRES (see internal/testenv)
// and psql's pg_dump; they skip without them, and fail instead when
// FLAMINGOCK_REQUIRE_SERVICES=1.
package adoptproof
