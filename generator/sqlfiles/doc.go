// Package sqlfiles reads the SQL files of a package of changes and turns
// each into a change: validated, split into statements and checksummed, so
// that the generator can embed them and the runtime can run them statement
// by statement. It reads one directory (not its subdirectories) through an
// [fs.FS]:
//
//	changes, notices, errs := sqlfiles.Load(os.DirFS(dir), sqlfiles.Options{Dialect: "postgres"})
//
// Every file whose name ends in ".sql" is a change file, in one of three
// forms. Errors name the file, line and column; Load reports all of them
// and then returns no change.
//
// # File names
//
//	<version>_<name>[.<dialect>].sql          goose or flamingock form
//	<version>_<name>[.<dialect>].up.sql       golang-migrate form: the up file
//	<version>_<name>[.<dialect>].down.sql     golang-migrate form: its optional down file
//
// <version> is a non-negative decimal integer of any length, compared as a
// number (9_a.sql comes before 10_b.sql; 20150101000001000000 is a
// version): it is the change's order, written without leading zeros. The
// change's id is "<version>_<name>" as written (0007_add_email).
//
// <dialect>, when present, is one of these suffixes (any case), the
// canonical name first:
//
//	postgres     postgres, postgresql, pgx
//	sqlite       sqlite, sqlite3
//	mysql        mysql
//	mariadb      mariadb
//	cockroach    cockroach, cockroachdb, crdb
//	sqlserver    sqlserver, mssql
//	spanner, clickhouse, redshift, tidb, oracle, snowflake, vertica, ydb,
//	starrocks    each its own name
//	turso        turso, libsql
//
// (those of pop/fizz, as in ory/hydra, goose's dialects and the usual
// driver names). Options.Dialect (postgres, sqlite or mysql) picks the
// files of its dialect and the files without one; a file of another
// dialect, mariadb and cockroach included, is skipped, with a notice. Any
// other suffix is part of the name: 5_e.autocommit.up.sql is the up file of
// the change 5_e.autocommit, for every dialect.
//
// Files pair per dialect, as in pop: the change's up file is the chosen
// dialect's (<version>_<name>.postgres.up.sql) when there is one, the one
// for all dialects beside it (<version>_<name>.up.sql) then skipped with a
// notice, else the one for all dialects. Likewise the change's down file
// is the chosen dialect's (<version>_<name>.postgres.down.sql) when
// there is one, else the one for all dialects (<version>_<name>.down.sql),
// whichever up file the change has. So a generic down file serves every
// dialect's up file that has no down file of its own; beside the chosen
// dialect's down file it is skipped, with a notice. A generic down file of
// a version whose up files are all other dialects' is skipped, with a
// notice (the version is no change for this dialect); a down file with no
// up file to pair with is an error.
//
// # goose form
//
// The form of github.com/pressly/goose: a file holding "-- +goose Up" is a
// goose file. Annotations are lines "-- +goose <name>" starting at column
// 1, the name matched case-insensitively:
//
//	-- +goose Up               starts the up section; nothing but comments before it
//	-- +goose Down             starts the optional down section (the change's undo)
//	-- +goose StatementBegin   the lines up to StatementEnd are one statement,
//	-- +goose StatementEnd     sent as written (its final ';' included), not split
//	-- +goose NO TRANSACTION   the change runs without a transaction
//
// Outside StatementBegin/StatementEnd, a section is split by the dialect's
// rules (package internal/sqlsplit), and as goose does every statement
// must end with ';'. ENVSUB ON/OFF is refused: the files are embedded at
// generate time, and substituting the environment at run time would run
// SQL that no checksum covers.
//
// # golang-migrate form
//
// The form of github.com/golang-migrate/migrate: the up file is the up
// section, the down file the down section, each split by the dialect's
// rules (the last statement needs no ';'). golang-migrate has no way to say
// "no transaction": a change whose files hold a statement that cannot run
// in a transaction (CREATE INDEX CONCURRENTLY, VACUUM, …) runs without
// one, and Load says so in a notice (on MySQL, data definition also makes a
// change run without one, with no notice: see below).
//
// # flamingock form
//
// A file whose first directive is "-- flamingock:change" carries the
// attributes of the Go directive //flamingock:change:
//
//	-- flamingock:change [id=ID] [order=N] [author=NAME] [recovery=manual|retry] [transactional=true|false] [profile=NAME,…]
//	<up section: statements>
//	-- flamingock:undo
//	<optional undo section: statements>
//
// The header line comes before any statement (comment and blank lines may
// precede it); "--" may be followed by blanks, "flamingock:" may not (a line
// "-- flamingock: …", with a blank after the colon, is a comment). The
// attributes are written as in the Go directive (parsed by
// [go/ast.Directive.ParseArgs]): name=value separated by blanks, an
// attribute holding blanks quoted whole as a Go string
// ("author=Alice Smith"). All are optional:
//
//	id=ID                      default: the file's <version>_<name>; the rules of
//	                           annotations.ValidID, at most audit.MaxIDLen bytes
//	order=N                    default: the file's <version>; when both are written
//	                           they must be equal as numbers. A file named
//	                           <name>.sql, with no version, must set it
//	author=NAME                at most audit.MaxAuthorLen bytes
//	recovery=manual|retry      manual by default
//	transactional=true|false   true by default; on MySQL, a change with data definition
//	                           runs without a transaction whatever it says (below)
//	profile=NAME[,NAME…]       the environments the change belongs to, '!' excluding one:
//	                           the rules and meaning of profile= in //flamingock:change
//	                           (package annotations); goose and golang-migrate files
//	                           have no way to say it, and run on every runner
//
// target= is not an attribute of a SQL file (the package directive names
// the target of every SQL file), nor are rollback= (the undo is the
// "-- flamingock:undo" section) and compensate= (the undo is run by
// RollbackTo only, never after a failure). "-- flamingock:undo" takes no
// attribute and appears at most once. Both sections are split by the
// dialect's rules; the last statement of each needs no ';'.
//
// # MySQL: data definition runs without a transaction
//
// MySQL and MariaDB commit the open transaction before and after most data
// definition (CREATE, ALTER, DROP, RENAME, TRUNCATE…), account management,
// LOCK TABLES and the other statements that cause an implicit commit (see
// sqlsplit.ImplicitCommit for the list and what it approximates). A change
// holding one cannot be atomic there, and flamingock never trusts one to a
// transaction: with Options.Dialect mysql, a change of any form whose up
// or down section holds such a statement is not transactional, as if it
// were marked so. It runs guarded like any change without a transaction
// (STARTED, then its statements with each one's progress recorded, then
// APPLIED), and its undo with the same strategy, whichever of the two
// sections holds the statement. Load says nothing about it: most MySQL
// changes define data, and a notice on each would be noise. A change of
// data only (INSERT, UPDATE, DELETE, CREATE and DROP TEMPORARY TABLE…)
// stays transactional. PostgreSQL and SQLite run data definition in a
// transaction, and their changes are not affected.
//
// # Checks
//
// Beyond the syntax of each form, Load refuses: an unreadable file; bytes
// that are not UTF-8 (at the first bad byte); a down file without its up
// file; two files with one version, or files of two forms; a statement that cannot run inside a transaction in a
// transactional change (mark it "-- +goose NO TRANSACTION" or
// "transactional=false"); two changes with one id. ALTER TYPE … ADD VALUE
// cannot run in a transaction before PostgreSQL 12: with
// Options.MinPostgresVersion below 12 it is refused in a transactional
// change, with 0 (unknown) it is a notice.
//
// An up section without statements (a zero-byte or comments-only up file,
// "-- +goose Up" followed by nothing, a "-- flamingock:change" header
// followed by nothing) is a change that does nothing: as goose and
// golang-migrate do, running it records it as applied. Projects use such
// files as the no-op of one dialect. Load says so in a notice at the start
// of the up section. A file with neither statements nor a form ("" named
// <version>_<name>.sql), a down file without an up file, SQL before
// "-- +goose Up" and an empty StatementBegin block stay errors.
//
// # Checksum
//
// A change's checksum is the hex sha256 of its file's bytes; for a
// golang-migrate change with a down file, the hex sha256 of the two
// files' sha256 digests, up then down, so that moving a line from one file
// to the other changes it. An empty file has the checksum of the empty
// content, so an empty change, or an empty down file, is never taken for a
// missing one.
package sqlfiles
