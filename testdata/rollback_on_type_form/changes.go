package rollback_on_type_form

import (
	"context"
	"database/sql"
)

//flamingock:change id=add-index order=1 target=appdb rollback=DropIndex
type AddIndex struct{}

func (AddIndex) Apply(ctx context.Context, tx *sql.Tx) error { return nil }

func DropIndex(ctx context.Context, tx *sql.Tx) error { return nil }
