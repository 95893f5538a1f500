package ledger_renumbered

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add-email order=5 target=appdb
func AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }
