package rollback_missing

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb rollback=DropUsers
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

// dropUsers is not DropUsers: names are case sensitive.
func dropUsers(ctx context.Context, tx *sql.Tx) error { return nil }
