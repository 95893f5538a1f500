package second_directive

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
//flamingock:change id=create-accounts order=2 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }
