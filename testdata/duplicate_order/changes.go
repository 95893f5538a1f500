package duplicate_order

import (
	"context"
	"database/sql"
)

//flamingock:change id=add-email order=01 target=appdb
func AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add-phone order=2 target=appdb
func AddPhone(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add-age order=2 target=appdb
func AddAge(ctx context.Context, tx *sql.Tx) error { return nil }
