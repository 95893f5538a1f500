package order_file_name

import (
	"context"
	"database/sql"
)

//flamingock:change id=add-email order=3 target=appdb
func AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }
