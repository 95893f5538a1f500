package sqlite

import (
	"errors"
	"fmt"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flamingock/flamingock-go/audit"
)

// explain prefixes a driver error an operator can act on with what it means
// and what to do, keeping the driver's *sqlite.Error in the chain.
func explain(err error) error {
	var hint string
	switch primaryCode(err) {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		// The statement did nothing: safe to send again once the lock is
		// free, which the runtime waits for (audit.ErrBusy).
		return &busyError{fmt.Errorf("the database is locked by another process or connection holding a write transaction; "+
			"wait for it to finish or stop it, then retry: %w", err)}
	case sqlite3.SQLITE_NOTADB:
		hint = "the file is not a SQLite database; check the path, or move the file aside to start a new audit trail"
	case sqlite3.SQLITE_CORRUPT:
		hint = "the database file is corrupt; restore it from a backup"
	case sqlite3.SQLITE_CANTOPEN:
		hint = "cannot open the database file; check that its directory exists and that the file and directory are readable and writable"
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		hint = "the database is read-only; the audit store needs write access to the file and its directory"
	default:
		return err
	}
	return fmt.Errorf("%s: %w", hint, err)
}

// busyError is an error of a statement that SQLite refused because
// another connection held the lock it needed for longer than the busy
// timeout. It matches audit.ErrBusy.
type busyError struct{ err error }

func (e *busyError) Error() string   { return e.err.Error() }
func (e *busyError) Unwrap() []error { return []error{audit.ErrBusy, e.err} }

// primaryCode returns the primary SQLite result code err carries, or -1.
func primaryCode(err error) int {
	var se *sqlitedriver.Error
	if !errors.As(err, &se) {
		return -1
	}
	return se.Code() & 0xff // an extended code keeps the primary one in its low byte
}
