// Package changes is the quickstart's stage: two SQL changes on the
// application's SQLite database (the same database that holds the audit
// trail, so each commits atomically with its audit entry) and one change to a
// feature-flag file, which has no transactions.
package changes

//go:generate go tool flamingock-gen

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
)

//flamingock:change id=create-users order=1 target=appdb author=quickstart rollback=DropUsers
func CreateUsers(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `CREATE TABLE users (
		id    INTEGER PRIMARY KEY,
		email TEXT NOT NULL UNIQUE,
		admin INTEGER NOT NULL DEFAULT 0
	)`)
	return err
}

// DropUsers undoes CreateUsers.
func DropUsers(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DROP TABLE users`)
	return err
}

//flamingock:change id=seed-admin order=2 target=appdb author=quickstart
func SeedAdmin(ctx context.Context, tx *sql.Tx, log *slog.Logger) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO users (email, admin) VALUES (?, 1)`, "admin@example.com")
	if err != nil {
		return fmt.Errorf("insert admin: %w", err)
	}
	n, _ := res.RowsAffected()
	log.InfoContext(ctx, "seeded admin user", "rows", n)
	return nil
}
