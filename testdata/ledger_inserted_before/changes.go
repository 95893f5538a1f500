package ledger_inserted_before

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add-phone order=3 target=appdb
func AddPhone(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add-email order=5 target=appdb
func AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add-age order=6 target=appdb
func AddAge(ctx context.Context, tx *sql.Tx) error { return nil }
