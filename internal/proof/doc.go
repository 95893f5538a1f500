// Package proof holds the tests that prove flamingock-go's guarantee with
// real processes against real PostgreSQL and MySQL (or MariaDB) servers:
// what one process can only claim, several processes racing, paused and
// resumed, demonstrate.
//
// The package has no API; its tests are the product. Each test re-executes
// its own test binary as child processes (TestMain turns the binary into a
// runner of a generated pipeline when FLAMINGOCK_PROOF_CHILD holds the
// child's configuration), so no other binary has to be built:
//
//   - TestConcurrentProcesses starts 20 processes at once on one database,
//     each running the same pipeline of 100 changes that increment a counter
//     row (in a table without a unique constraint, so a change run twice
//     shows). Every counter must end at exactly 1, every process exit 0, and
//     the audit trail hold exactly one APPLIED entry per change. It runs
//     once with changes without a transaction (pipeline.NonTransactional
//     over the pool: only the lock protects them) and once with changes on
//     runtime/pgxtarget sharing their transaction with the APPLIED entry.
//     On MySQL it runs with changes without a transaction (over the
//     store's *sql.DB), and with Go changes on the MySQL target sharing
//     the store's transactions (sqltarget.Shared), every tenth of which
//     creates a table before its increment: MySQL commits that change's
//     transaction implicitly at the DDL, so its trail is STARTED
//     (SHARED_TX), APPLIED (NON_TX), and that of the others, of DML
//     alone, STARTED and APPLIED both SHARED_TX. Every table must exist
//     at the end. In every case the trail is written by one process at a
//     time: in seq order, the entries of one process are never
//     interleaved with another's.
//   - TestTakeoverOfAStoppedLockHolder stops the lock holder with SIGSTOP
//     (between two changes, or inside a change without a transaction), waits
//     until its lease has expired by the database's clock, lets a second
//     process take over, then resumes the first with SIGCONT: the store
//     refuses its next write, it exits with an error naming the change, and
//     no change ran twice. When the holder is stopped inside a
//     transaction, the server ends that transaction once it has been idle
//     for the lease (pgxtarget, and sqltarget with WithPostgreSQL, set
//     idle_in_transaction_session_timeout), so the next runner is not
//     blocked by its locks; both targets are stopped inside a change and
//     before its commit. The cases without a transaction (stopped between
//     two changes, or inside one) run on MySQL too.
//
// Processes synchronise through pipes, never through sleeps: a child says
// where it is on stdout and waits there for a line on stdin, and the test
// waits for a stopped holder's lease to expire by reading the lock's
// expiry and the database's clock.
//
// The tests need FLAMINGOCK_TEST_POSTGRES and FLAMINGOCK_TEST_MYSQL (see
// internal/testenv); each uses a schema of its own (on MySQL, a database
// created on the server), dropped at the end. Every child gets a pool of two
// connections (four on MySQL), so 20 of them stay well under PostgreSQL's
// default max_connections of 100 (MariaDB's 151).
//
//	FLAMINGOCK_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/flamingock_test?sslmode=disable' \
//		go test -race ./internal/proof/
package proof
