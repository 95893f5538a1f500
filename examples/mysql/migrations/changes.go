// Package migrations is the MySQL example's stage: an accounts table and its
// first rows from SQL files, then two Go changes.
//
// On MySQL (and MariaDB) every DDL statement commits the open transaction
// implicitly, so no transaction can make a change with DDL atomic. The
// changes here show the two kinds the engine runs:
//
//   - data only (0002_seed_accounts.sql, NormaliseEmails): one transaction
//     shared with the audit store, committed together with the change's
//     APPLIED entry; a crash leaves nothing to recover;
//   - data definition (0001_create_accounts.sql, decided by flamingock-gen
//     from its statements, and AddSignupColumn, declared
//     transactional=false): run without a transaction, between a STARTED
//     and an APPLIED entry, each statement committing on its own. A crash or
//     failure part-way is an issue for an operator, unless the change is
//     written to be run again safely and says so with recovery=retry, as
//     AddSignupColumn is.
package migrations

//go:generate go tool flamingock-gen

//flamingock:sql target=appdb handle=database/sql dialect=mysql

import (
	"context"
	"database/sql"
	"fmt"
)

//flamingock:change id=normalise-emails order=3 target=appdb author=example
func NormaliseEmails(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE accounts SET email = LOWER(email)`)
	return err
}

// AddSignupColumn adds accounts.signed_up_at unless it is there: MySQL 8
// has no ADD COLUMN IF NOT EXISTS, so it looks first, which makes it safe to
// run again after an interruption (recovery=retry).
//
//flamingock:change id=add-signup-column order=4 target=appdb author=example transactional=false recovery=retry
func AddSignupColumn(ctx context.Context, tx *sql.Tx) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'accounts' AND COLUMN_NAME = 'signed_up_at'`).Scan(&n)
	if err != nil {
		return fmt.Errorf("look for accounts.signed_up_at: %w", err)
	}
	if n > 0 {
		return nil
	}
	_, err = tx.ExecContext(ctx, `ALTER TABLE accounts ADD COLUMN signed_up_at DATETIME(6) NULL`)
	return err
}
