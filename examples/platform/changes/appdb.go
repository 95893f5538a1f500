package changes

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// CreateOrdersTable runs in the audit store's transaction (the appdb target
// is pgxtarget.Shared), so it commits with its APPLIED entry or not at all:
// it needs no recovery.
//
//flamingock:change id=create-orders-table order=1 target=appdb author=platform rollback=DropOrdersTable
func CreateOrdersTable(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `CREATE TABLE orders (
		id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		tenant     text NOT NULL,
		total      numeric(12, 2) NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now()
	)`)
	return err
}

// DropOrdersTable undoes CreateOrdersTable.
func DropOrdersTable(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `DROP TABLE orders`)
	return err
}
