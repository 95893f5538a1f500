package generated_name_declared

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

// Stage is a name flamingock_gen.go declares.
func Stage() {}

type Deps struct{}
