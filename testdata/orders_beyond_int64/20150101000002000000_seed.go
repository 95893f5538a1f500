package orders_beyond_int64

import (
	"context"
	"database/sql"
)

//flamingock:change id=seed target=appdb
func Seed(ctx context.Context, tx *sql.Tx) error { return nil }
