// Package function_form declares changes as functions: a rollback, injected
// dependencies, an order from the file name, and a non-transactional target.
package function_form

import (
	"context"
	"database/sql"
)

// CreateUsers creates the users table. Its order comes from the file name.
//
//flamingock:change id=create-users target=appdb author=alice rollback=DropUsers
func CreateUsers(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
	return err
}

// DropUsers undoes CreateUsers.
func DropUsers(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DROP TABLE users`)
	return err
}
