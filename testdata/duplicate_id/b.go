package duplicate_id

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=2 target=appdb
func CreateAccounts(ctx context.Context, tx *sql.Tx) error { return nil }
