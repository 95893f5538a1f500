package pgxtarget

import (
	"context"

	"github.com/flamingock/flamingock-go/runtime/sqlscript"
	"github.com/jackc/pgx/v5"
)

// Exec returns a function that runs one statement on tx with pgx's simple
// protocol (pgx.QueryExecModeSimpleProtocol) and no arguments: the exec of
// package sqlscript's Script.Exec, for a change whose handle is a pgx.Tx,
// including the autocommit handle of a change declared transactional=false.
//
//	return up.Exec(ctx, pgxtarget.Exec(tx))
//
// The simple protocol sends the statement's text as it is, as psql does:
// one statement of a script may hold several commands (a goose
// StatementBegin/StatementEnd block, a DO block followed by a COMMENT …),
// which the extended protocol refuses ("cannot insert multiple commands
// into a prepared statement"), and nothing is prepared or cached per
// connection, so a script that alters a table and then reads it never
// meets "cached plan must not change result type". A script has no
// parameters, so the simple protocol loses nothing. pgx's Conn already
// sends an Exec without arguments this way; the mode is passed anyway so
// that Exec does not depend on that rule of pgx, nor on the pool's
// DefaultQueryExecMode, nor on the pgx.Tx implementation behind tx. As
// under psql, PostgreSQL runs a statement of several commands as one
// implicit transaction when no transaction is open (a change declared
// transactional=false), unless the statement itself commits.
func Exec(tx pgx.Tx) func(ctx context.Context, sql string) error {
	return func(ctx context.Context, sql string) error {
		_, err := tx.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		return err
	}
}

// ScriptFunc returns the change function that runs s with Exec: what
// flamingock-gen registers for a section of a SQL file.
func ScriptFunc(s sqlscript.Script) func(ctx context.Context, tx pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error { return s.Exec(ctx, Exec(tx)) }
}
