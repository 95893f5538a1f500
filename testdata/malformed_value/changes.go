package malformed_value

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb author="Alice Smith"
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add_email! order=-2 target=app/db recovery=sometimes
func AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=add-phone order=3 target=appdb transactional=no author= id=again
func AddPhone(ctx context.Context, tx *sql.Tx) error { return nil }
