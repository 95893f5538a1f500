package malformed_directive

import (
	"context"
	"database/sql"
)

// flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:chnage id=add-email order=2 target=appdb
func AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add-phone order=3 target=appdb "author=Bob
func AddPhone(ctx context.Context, tx *sql.Tx) error { return nil }
