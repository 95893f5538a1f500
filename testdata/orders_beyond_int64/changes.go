// Package orders_beyond_int64 has orders of 20 digits and more, as
// timestamped migrations directories use, in SQL files, in a directive and
// in a Go file name.
package orders_beyond_int64

//go:generate go tool flamingock-gen

//flamingock:sql target=appdb handle=database/sql dialect=sqlite

import (
	"context"
	"database/sql"
)

//flamingock:change id=backfill order=20150101000001000001 target=appdb
func Backfill(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE networks SET name = 'x'`)
	return err
}
