package sql_without_directive

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }
