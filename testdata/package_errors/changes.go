package package_errors

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb ordr=2
func CreateUsers(ctx context.Context, tx *sql.Tx) error {
	return undefinedHelper(ctx, tx)
}
