// Package sql_mixed has Go and SQL changes on one target.
package sql_mixed

//go:generate go tool flamingock-gen

//flamingock:sql target=appdb handle=database/sql dialect=sqlite

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `CREATE TABLE users (id INTEGER PRIMARY KEY)`)
	return err
}

//flamingock:change id=backfill order=3 target=appdb
func Backfill(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE users SET email = 'x'`)
	return err
}

//flamingock:change id=notify order=4 target=events
func Notify(ctx context.Context, c *Client) error { return nil }

// Client is a non-transactional target's handle.
type Client struct{}

// sqlscript, sqltarget and sql0002AddEmail are names the generated code
// must not take.
var sqlscript, sqltarget, sql0002AddEmail = 1, 2, 3
