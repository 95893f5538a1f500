package sql_checks

//flamingock:sql target=appdb handle=database/sql dialect=postgres

import (
	"context"
	"database/sql"
)

//flamingock:change id=0001_create_users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=uses-conn order=2 target=appdb
func UsesConn(ctx context.Context, c *sql.Conn) error { return nil }
