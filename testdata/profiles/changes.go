// Package profiles declares changes for some environments only.
package profiles

import (
	"context"
	"database/sql"
)

//flamingock:sql target=appdb handle=database/sql dialect=sqlite

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=seed-users order=2 target=appdb profile=dev,test
func SeedUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=sample-orders order=3 target=appdb "profile=!prod"
func SampleOrders(ctx context.Context, tx *sql.Tx) error { return nil }
