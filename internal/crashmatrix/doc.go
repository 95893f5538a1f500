// Package crashmatrix proves the guarantee of DESIGN §1 by killing runs.
//
// It holds tests only. TestCrashMatrix runs, for every crash point of
// package internal/crash × execution strategy × target × recovery strategy
// × audit store, a child process (the test binary itself) that applies a
// pipeline of three changes and dies by SIGKILL at that point of the second
// one. The test then restarts the pipeline and checks against DESIGN §6
// that every side effect happened exactly once, or that the change is
// reported as an issue when its state is uncertain and its recovery is
// manual. The changes count their effects outside the audit trail: rows in
// the target's database, or, without a transaction, lines in a file or
// rows written in autocommit mode. An issue is resolved as an operator
// would: after looking at the effects, with the command the issue prints,
// run by the real flamingock CLI; the next run must then complete.
//
// RollbackTo is in the matrix too, at every point of package crash where
// undoing a change of each strategy passes (RollbackTo runs the strategies
// Run does, the direction passed as data). In an undo case the child
// applies the whole pipeline, rolls it back to the first change and dies
// at the point inside the undo of the second, the third rolled back
// already. The restart is a Run, by the same two replicas, checked against
// the same table: DESIGN §6 decides the next run from each change's latest
// state whichever operation wrote it, and RollbackTo refuses to decide a
// change whose undo's outcome is open (a marker to read, an uncertain state
// under recovery retry) until a run has (see its documentation). So a
// crashed undo leaves every change applied exactly once after the restart:
// one whose undo did not commit is still applied (APPLIED, or recovered
// from the marker the undo held), one whose undo committed is applied
// again, and one caught mid-undo without a transaction is an issue under
// recovery manual (resolved with the CLI as above) and applied again
// under recovery retry. Then the case rolls back to the first change once
// more, which must take each later change's effect back exactly once. It
// prints one line:
//
//	crash matrix: 510 cases (232 of them undo), 0 lost, 0 doubled, 0 silent
//
// lost counts changes that never took effect and were not reported (and
// rollbacks that did not take), doubled side effects beyond what the
// change allows (once, or twice for a change without a transaction whose
// recovery is retry: the declaration that it is safe to run again; a
// rollback, once), silent uncertain states that a run went past without an
// issue under manual recovery. Any of them fails the test.
//
// The cases of a store are those of its targets: on SQLite, sqltarget
// (shared and separate transactions) and a file without transactions; on
// PostgreSQL, sqltarget and pgxtarget (shared and separate transactions),
// pgxtarget in autocommit mode and the file; on MongoDB, mongotarget with
// changes declared transactional=false, counted in a collection without a
// unique index, and the file; on MySQL (or MariaDB), sqltarget as the MySQL
// target: sharing the store's transaction (Shared, counted in a table of the
// store's database), in a separate transaction with markers (New with
// WithMySQL, on a second database created for the case), changes declared
// transactional=false (rows written in autocommit mode), and the file.
// Sharing and markers each run twice: with a change of DML alone, atomic,
// and with a Go change that inserts its effect, runs DDL (CREATE TABLE),
// which MySQL commits implicitly with the transaction so far, and then
// writes more; its crash points inside apply and undo come after the DDL. In
// a shared transaction the MySQL target writes STARTED first, so the points
// before and after it are cases too. For the change with DDL, exactly once
// means: its effect, committed by the DDL, is counted on the server; a crash
// past the implicit commit leaves STARTED alone (shared) or the begun marker
// without the marker (separate), an issue under recovery manual, resolved
// with the CLI, and applied again under recovery retry, its effect then
// allowed twice as for a change without a transaction; each case checks that
// the change the child applied first is recorded APPLIED NON_TX, so that a
// matrix where the DDL committed nothing fails. Combinations that do not
// exist, such as a marker's crash point without markers, are not cases.
// PostgreSQL, MongoDB and MySQL cases run when FLAMINGOCK_TEST_POSTGRES,
// FLAMINGOCK_TEST_MONGO and FLAMINGOCK_TEST_MYSQL are set (see
// internal/testenv); each case has a schema or database of its own (on
// MySQL, a database created on the server for it, and a second one for the
// target with markers), dropped at its end. The MongoDB transaction strategy
// is not in the matrix: the server the tests have, FerretDB, has no
// transactions. Cases run six at a time unless -parallel says otherwise:
// most of a case is waiting for its dead child's lease to expire.
//
// The other tests resolve issues with the CLI, feed the runtime corrupt
// and hostile audit records and locks, and keep the bugs the matrix found
// fixed.
package crashmatrix
