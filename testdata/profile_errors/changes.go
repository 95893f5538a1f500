package profile_errors

import (
	"context"
	"database/sql"
)

//flamingock:sql target=appdb handle=database/sql dialect=sqlite

//flamingock:change id=a order=1 target=appdb profile=dev,,test,dev
func A(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=b order=2 target=appdb profile=prod,!prod,eu.west
func B(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=c order=3 target=appdb profile=Dev profile=test
func C(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=d order=4 target=appdb profile=
func D(ctx context.Context, tx *sql.Tx) error { return nil }
