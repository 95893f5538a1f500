package rollback_shape

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb rollback=DropUsers
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

func DropUsers(tx *sql.Tx) error { return nil }
