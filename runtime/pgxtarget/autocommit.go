package pgxtarget

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// autocommitTx is the handle of a change declared transactional=false: a
// pgx.Tx whose statements run in autocommit mode on one connection. See
// "Changes without a transaction" in the package documentation.
type autocommitTx struct{ conn *pgx.Conn }

var _ pgx.Tx = (*autocommitTx)(nil)

// Begin starts a real transaction on the connection.
func (a *autocommitTx) Begin(ctx context.Context) (pgx.Tx, error) { return a.conn.Begin(ctx) }

// Commit does nothing: every statement committed when it ran.
func (a *autocommitTx) Commit(context.Context) error { return nil }

// Rollback does nothing: every statement committed when it ran, so there is
// nothing left to undo.
func (a *autocommitTx) Rollback(context.Context) error { return nil }

func (a *autocommitTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return a.conn.CopyFrom(ctx, table, columns, src)
}

func (a *autocommitTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return a.conn.SendBatch(ctx, b)
}

// LargeObjects returns large objects whose every call fails with
// pgx.ErrTxClosed: large object descriptors live only as long as the
// transaction that opened them. pgx offers no other way to build a
// pgx.LargeObjects than from a transaction, and the closed transaction of a
// batch that never went out is one.
func (a *autocommitTx) LargeObjects() pgx.LargeObjects {
	var b pgx.Batch
	b.BeginTx(pgx.TxOptions{})
	return pgx.FailedBatchResults(&b, pgx.ErrTxClosed).Tx().LargeObjects()
}

func (a *autocommitTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return a.conn.Prepare(ctx, name, sql)
}

func (a *autocommitTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return a.conn.Exec(ctx, sql, args...)
}

func (a *autocommitTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return a.conn.Query(ctx, sql, args...)
}

func (a *autocommitTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return a.conn.QueryRow(ctx, sql, args...)
}

func (a *autocommitTx) Conn() *pgx.Conn { return a.conn }

// autocommitWork holds the change's connection until the change ends.
type autocommitWork struct {
	conn *pgxpool.Conn
	h    *autocommitTx
}

func (w *autocommitWork) Handle() pgx.Tx                              { return w.h }
func (w *autocommitWork) Context(ctx context.Context) context.Context { return ctx }

// Commit returns the connection to the pool. A transaction the change began
// and left open is rolled back and fails the change: its work was not
// committed, whatever the change meant.
func (w *autocommitWork) Commit(ctx context.Context) error {
	defer w.conn.Release()
	if w.conn.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	err := errors.New("pgxtarget: the change returned with a transaction it began still open; it was rolled back")
	if _, rerr := w.conn.Exec(ctx, "ROLLBACK"); rerr != nil {
		// Release closes a connection left in a transaction, which ends it.
		err = errors.Join(err, rerr)
	}
	return err
}

// Abort returns the connection to the pool. One left in a transaction is
// closed by pgxpool, which ends the transaction.
func (w *autocommitWork) Abort(context.Context) error {
	w.conn.Release()
	return nil
}
