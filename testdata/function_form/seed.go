package function_form

import (
	"context"
	"database/sql"
	"log/slog"
)

// Config is injected by type into the changes that take it.
type Config struct {
	Admin string
}

//flamingock:change id=seed-users order=2 target=appdb "author=Alice Smith" recovery=retry
func SeedUsers(ctx context.Context, tx *sql.Tx, log *slog.Logger, cfg Config) error {
	log.InfoContext(ctx, "seeding users", "admin", cfg.Admin)
	_, err := tx.ExecContext(ctx, `INSERT INTO users (name) VALUES (?)`, cfg.Admin)
	return err
}
