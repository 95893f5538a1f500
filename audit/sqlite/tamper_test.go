package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// tamperer is the conformance suite's Tamperer: it edits the trail of the
// store with the given table prefix in the file at path through a
// connection of its own, with plain SQL.
type tamperer struct {
	db    *sql.DB
	table string // the quoted audit table
}

func newTamperer(t *testing.T, path, prefix string) tamperer {
	return tamperer{db: rawDB(t, path, "&_pragma=busy_timeout(5000)"), table: `"` + prefix + `_audit"`}
}

// sqliteColumns maps audit.Entry fields to the audit table's columns.
var sqliteColumns = map[string]string{
	"ExecutionID": "execution_id", "Stage": "stage", "ChangeID": "change_id", "Order": "change_order",
	"Author": "author", "State": "state", "Time": "time", "Duration": "duration", "Host": "host",
	"RunnerID": "runner_id", "TargetID": "target_id", "Strategy": "strategy", "Recovery": "recovery",
	"Checksum": "checksum", "ErrorMessage": "error_message", "ErrorKind": "error_kind",
	"Operator": "operator", "Reason": "reason", "Metadata": "metadata",
}

func (tp tamperer) DeleteEntry(ctx context.Context, seq int64) error {
	return tp.exec(ctx, `DELETE FROM `+tp.table+` WHERE "seq" = ?`, seq)
}

func (tp tamperer) EditEntry(ctx context.Context, seq int64, field string, value any) error {
	col, ok := sqliteColumns[field]
	if !ok {
		return fmt.Errorf("no column for field %s", field)
	}
	if tm, ok := value.(time.Time); ok {
		value = tm.UnixMilli() // the column holds unix milliseconds
	}
	return tp.exec(ctx, `UPDATE `+tp.table+` SET "`+col+`" = ? WHERE "seq" = ?`, value, seq)
}

func (tp tamperer) exec(ctx context.Context, query string, args ...any) error {
	res, err := tp.db.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%s: %d rows affected, want 1 (%v)", query, n, err)
	}
	return nil
}
