package target_name_collision

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=app-db
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=create-accounts order=2 target=app_db
func CreateAccounts(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=create-orders order=3 target=app.db
func CreateOrders(ctx context.Context, tx *sql.Tx) error { return nil }
