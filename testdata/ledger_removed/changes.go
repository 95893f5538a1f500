package ledger_removed

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

// add-phone (order 2) was deleted, although it may have been applied.

//flamingock:change id=add-email order=3 target=appdb
func AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }
