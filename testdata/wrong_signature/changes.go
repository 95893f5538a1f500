package wrong_signature

import (
	"context"
	"database/sql"
)

//flamingock:change id=no-context order=1 target=appdb
func NoContext(tx *sql.Tx) error { return nil }

//flamingock:change id=no-handle order=2 target=appdb
func NoHandle(ctx context.Context) error { return nil }

//flamingock:change id=no-error order=3 target=appdb
func NoError(ctx context.Context, tx *sql.Tx) {}

//flamingock:change id=two-results order=4 target=appdb
func TwoResults(ctx context.Context, tx *sql.Tx) (int, error) { return 0, nil }

//flamingock:change id=variadic order=5 target=appdb
func Variadic(ctx context.Context, tx *sql.Tx, names ...string) error { return nil }

//flamingock:change id=generic order=6 target=appdb
func Generic[T any](ctx context.Context, tx T) error { return nil }

//flamingock:change id=init order=7 target=appdb
func init() {}
