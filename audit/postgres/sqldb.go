package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
)

// DB returns a database/sql handle on the store's pool (pgx's stdlib
// driver), made once and closed by Close. It keeps no idle connection of
// its own: each operation borrows one from the pool. A database/sql target
// built by sqltarget.Shared(store) runs its changes in transactions of DB
// shared with their APPLIED entries, through AppendSQLTx.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect implements sqltarget.SharedStore: DB is a PostgreSQL database.
func (s *Store) Dialect() string { return "postgres" }

// AppendSQLTx is AppendTx inside tx, a database/sql transaction begun on
// DB: the same statement, fence check included, so the entry commits or
// rolls back with tx. Call it last, just before Commit; on an error,
// including audit.ErrFenced, roll tx back. It implements
// sqltarget.SharedStore.
func (s *Store) AppendSQLTx(ctx context.Context, tx *sql.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	if tx == nil {
		return audit.Entry{}, errors.New("postgres: AppendSQLTx: nil transaction")
	}
	return s.appendEntry(ctx, sqlTx{tx}, lease, e)
}

// sqlTx runs the store's statements in a database/sql transaction. pgx's
// driver hands the arguments to pgx as they are, and pgx runs the statement
// in the connection's default exec mode, as it does for AppendTx.
type sqlTx struct{ tx *sql.Tx }

func (q sqlTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return q.tx.QueryRowContext(ctx, sql, args...)
}
