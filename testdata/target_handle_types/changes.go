package target_handle_types

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=vacuum order=2 target=appdb
func Vacuum(ctx context.Context, db *sql.DB) error { return nil }
