package rollback_not_function

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb rollback=DropUsers
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

// DropUsers is a variable holding a function, which the generated code
// could call, but a rollback is declared as a function.
var DropUsers = func(ctx context.Context, tx *sql.Tx) error { return nil }
