package not_function_or_type

import (
	"context"
	"database/sql"
)

//flamingock:change id=a order=1 target=appdb
var A = func(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=b order=2 target=appdb
const B = 2

//flamingock:change id=c order=3 target=appdb

// Floating: the directive above documents nothing.
func C(ctx context.Context, tx *sql.Tx) error {
	//flamingock:change id=d order=4 target=appdb
	return nil
}

// T is a type with a method.
type T struct{}

//flamingock:change id=e order=5 target=appdb
func (T) Apply(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=f order=6 target=appdb
type (
	U struct{}
	V struct{}
)
