package postgres_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// tamperer is the conformance suite's Tamperer: it edits the audit table of
// one schema and prefix as the admin, with plain SQL.
type tamperer struct {
	admin *pgxpool.Pool
	table string // the quoted audit table
}

func newTamperer(srv *server, schema, prefix string) tamperer {
	return tamperer{admin: srv.admin, table: pgx.Identifier{schema, prefix + "_audit"}.Sanitize()}
}

// postgresColumns maps audit.Entry fields to the audit table's columns.
var postgresColumns = map[string]string{
	"ExecutionID": "execution_id", "Stage": "stage", "ChangeID": "change_id", "Order": "change_order",
	"Author": "author", "State": "state", "Time": "occurred_at", "Duration": "duration_ns", "Host": "host",
	"RunnerID": "runner_id", "TargetID": "target_id", "Strategy": "strategy", "Recovery": "recovery",
	"Checksum": "checksum", "ErrorMessage": "error_message", "ErrorKind": "error_kind",
	"Operator": "operator", "Reason": "reason", "Metadata": "metadata",
}

func (tp tamperer) DeleteEntry(ctx context.Context, seq int64) error {
	return tp.exec(ctx, `DELETE FROM `+tp.table+` WHERE seq = $1`, seq)
}

func (tp tamperer) EditEntry(ctx context.Context, seq int64, field string, value any) error {
	col, ok := postgresColumns[field]
	if !ok {
		return fmt.Errorf("no column for field %s", field)
	}
	return tp.exec(ctx, `UPDATE `+tp.table+` SET `+col+` = $1 WHERE seq = $2`, value, seq)
}

func (tp tamperer) exec(ctx context.Context, sql string, args ...any) error {
	tag, err := tp.admin.Exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("%s: %d rows affected, want 1", sql, tag.RowsAffected())
	}
	return nil
}
