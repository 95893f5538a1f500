package rollback_handle_type

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb rollback=DropUsers
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

func DropUsers(ctx context.Context, db *sql.DB) error { return nil }
