package missing_order

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }
