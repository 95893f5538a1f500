package unnamed_dependency

import (
	"context"
	"database/sql"
)

//flamingock:change id=seed order=1 target=appdb
func Seed(ctx context.Context, tx *sql.Tx, names []string, byID map[int]string, dsn string, opts struct{ Verbose bool }) error {
	return nil
}

//flamingock:change id=handle order=2 target=scratch
func Handle(ctx context.Context, h struct{ N int }) error { return nil }
