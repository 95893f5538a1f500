package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flamingock/flamingock-go/audit"
)

// CommitTx appends e inside tx, as AppendTx does, and commits tx, in one
// round trip: the append and COMMIT go out as one pgx batch, in the
// connection's default query exec mode. tx must be a transaction on the
// store's database (see Pool), not a savepoint (a pgx.Tx begun on another
// one): the COMMIT ends the whole transaction.
//
// It returns the entry as stored once tx has committed. On an error:
//
//   - matching audit.ErrFenced (saying why): the lease no longer holds the
//     lock, the append was refused and PostgreSQL skipped the COMMIT:
//     nothing of tx was committed;
//   - any other: whether tx committed may be unknown, as when the
//     connection is lost after the COMMIT was sent. The entry is part of
//     tx, so the trail tells: tx committed if and only if it holds the
//     entry.
//
// In every error case the caller must still end tx, with Rollback, which is
// harmless whatever happened. After a success the transaction is over on
// the server, but a pgxpool.Tx keeps its connection until Commit or
// Rollback, which then costs a round trip that does nothing: to spare it,
// begin tx on a connection acquired from the pool (pgxpool.Conn's
// Conn().BeginTx) and Release that connection afterwards.
func (s *Store) CommitTx(ctx context.Context, tx pgx.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	if tx == nil {
		return audit.Entry{}, errors.New("postgres: CommitTx: nil transaction")
	}
	a, err := s.newAppend(ctx, lease, e)
	if err != nil {
		return audit.Entry{}, err
	}
	// PostgreSQL skips the rest of a pipeline after an error, so a refused
	// append leaves the COMMIT unrun and the transaction aborted.
	appended := false
	var b pgx.Batch
	b.Queue(s.sql.append, a.args...).QueryRow(func(row pgx.Row) error {
		if err := a.scan(row); err != nil {
			return err
		}
		appended = true
		return nil
	})
	b.Queue("commit").Exec(func(tag pgconn.CommandTag) error {
		// COMMIT of a transaction that failed earlier rolls it back and
		// says so in its tag only. An append cannot succeed in such a
		// transaction, but the tag is what PostgreSQL promises.
		if tag.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	err = tx.SendBatch(ctx, &b).Close()
	switch {
	case err == nil:
		return a.e, nil
	case !appended:
		return audit.Entry{}, s.appendError(ctx, a, err)
	}
	return audit.Entry{}, s.explain(fmt.Sprintf("commit the transaction holding %s of %s/%s", e.State, e.Stage, e.ChangeID), needAppend, err)
}
