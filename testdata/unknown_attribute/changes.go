package unknown_attribute

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users ordr=1 target=appdb colour=blue
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }
