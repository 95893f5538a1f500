//go:build postgres

package unbuilt_directives

import (
	"context"
	"database/sql"
)

//flamingock:change id=add-index order=3 target=appdb
func AddIndex(ctx context.Context, tx *sql.Tx) error { return nil }
