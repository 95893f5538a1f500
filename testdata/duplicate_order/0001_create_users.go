package duplicate_order

import (
	"context"
	"database/sql"
)

// CreateUsers takes its order from the file name.
//
//flamingock:change id=create-users target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }
