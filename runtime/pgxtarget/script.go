package pgxtarget

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Exec returns a function that runs one statement on tx with pgx's simple
// protocol (pgx.QueryExecModeSimpleProtocol) and no arguments: the exec of
// package sqlscript's Script.Exec, for a change whose handle is a pgx.Tx,
// including the autocommit handle of a change declared transactional=false.
//
//	return up.Exec(ctx, pgxtarget.Exec(tx))
//
// The simple protocol sends the text as psql does. pgx's default, the
// extended protocol, prepares the statement first, and a prepared statement
// holds exactly one command: a statement the splitter kept whole because it
// carries several (a DO block is one, but "BEGIN ATOMIC … END" bodies and
// a "-- flamingock:statementbegin" block may hold more) would be refused
// with "cannot insert multiple commands into a prepared statement". The
// extended protocol also caches a statement description per connection,
// which a script that alters the tables it later reads can invalidate
// ("cached plan must not change result type"). A script has no parameters,
// so the simple protocol loses nothing. Under it, PostgreSQL runs a text of
// several commands as one implicit transaction unless the text itself
// commits, as psql -c does.
func Exec(tx pgx.Tx) func(ctx context.Context, sql string) error {
	return func(ctx context.Context, sql string) error {
		_, err := tx.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		return err
	}
}
