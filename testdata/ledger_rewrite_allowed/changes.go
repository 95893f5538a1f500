// Package ledger_rewrite_allowed is generated with AllowLedgerRewrite: the
// ledger is rewritten although add-phone is new and ordered before add-email,
// and add-age was removed.
package ledger_rewrite_allowed

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
