package type_form_methods

import (
	"context"
	"database/sql"
)

//flamingock:change id=no-apply order=1 target=appdb
type NoApply struct{}

func (NoApply) Run(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=bad-apply order=2 target=appdb
type BadApply struct{}

func (BadApply) Apply(tx *sql.Tx) error { return nil }

//flamingock:change id=bad-rollback order=3 target=appdb
type BadRollback struct{}

func (BadRollback) Apply(ctx context.Context, tx *sql.Tx) error { return nil }

func (*BadRollback) Rollback(ctx context.Context, db *sql.DB) error { return nil }

//flamingock:change id=interface order=4 target=appdb
type Interface interface {
	Apply(ctx context.Context, tx *sql.Tx) error
}

//flamingock:change id=alias order=5 target=appdb
type Alias = NoApply

//flamingock:change id=generic order=6 target=appdb
type Generic[T any] struct{}
