package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// upgrades[i] takes the store's tables from layout i+1 to i+2, inside
// initSchema's transaction, which then creates what is missing and records
// layoutVersion. A step never rewrites an entry's values, only how they are
// kept.
var upgrades = [layoutVersion - 1]func(context.Context, *sql.Tx, *queries) error{
	ordersAsText,
}

// ordersAsText (layout 1 to 2) rebuilds the trail with change_order as
// decimal TEXT, since SQLite cannot change a column's type: every row is
// copied aside to a TEMP table, the trail is dropped, created again in
// layout 2 and filled from the copy, seqs included. Then come the indexes
// and triggers the trail had, its own and the application's, from their
// recorded SQL, and its AUTOINCREMENT counter, so that a seq taken before
// is never given again, even when its entries were deleted by hand.
//
// The trail is not built under another name and renamed: RENAME TABLE
// checks every view and trigger of the database and fails on any that
// names a missing table, as an application's view of the trail does while
// the old trail is dropped (legacy_alter_table would lift that, but it is
// a connection's setting that outlives a cancelled transaction).
func ordersAsText(ctx context.Context, tx *sql.Tx, q *queries) error {
	trail := quote(q.auditName)
	aside := "temp." + quote(q.auditName+"_layout1")
	names := make([]string, len(auditTable.columns))
	values := make([]string, len(auditTable.columns))
	for i, c := range auditTable.columns {
		names[i], values[i] = quote(c.name), quote(c.name)
		if c.name == "change_order" {
			// An INTEGER's text is its canonical decimal: no sign, since
			// orders are not negative, and no leading zeros.
			values[i] = `CAST("change_order" AS TEXT) AS "change_order"`
		}
	}
	var counter sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT "seq" FROM sqlite_sequence WHERE "name" = ?`, q.auditName).Scan(&counter)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the seq counter of table %s: %w", trail, explain(err))
	}
	recreate, err := dependents(ctx, tx, q.auditName)
	if err != nil {
		return err
	}
	stmts := []string{
		fmt.Sprintf(`CREATE TEMP TABLE %s AS SELECT %s FROM main.%s`, aside, strings.Join(values, ", "), trail),
		"DROP TABLE main." + trail,
		auditTable.create(trail),
	}
	if counter.Valid {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO sqlite_sequence ("name", "seq") VALUES (%s, %d)`, literal(q.auditName), counter.Int64))
	}
	stmts = append(stmts,
		fmt.Sprintf(`INSERT INTO %s (%s) SELECT %[2]s FROM %s ORDER BY "seq"`, trail, strings.Join(names, ", "), aside),
		"DROP TABLE "+aside)
	for _, stmt := range append(stmts, recreate...) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("rebuild table %s with orders as text: %w", trail, explain(err))
		}
	}
	return nil
}

// dependents returns the statements that created the indexes and triggers
// of table, which dropping it drops. Automatic indexes have none: the
// table's definition makes them again.
func dependents(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT "sql" FROM sqlite_schema WHERE "tbl_name" = ? AND "type" IN ('index', 'trigger') AND "sql" IS NOT NULL ORDER BY "rowid"`, table)
	if err != nil {
		return nil, fmt.Errorf("read the indexes and triggers of table %s: %w", quote(table), explain(err))
	}
	defer rows.Close()
	var stmts []string
	for rows.Next() {
		var stmt string
		if err := rows.Scan(&stmt); err != nil {
			return nil, fmt.Errorf("read the indexes and triggers of table %s: %w", quote(table), err)
		}
		stmts = append(stmts, stmt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the indexes and triggers of table %s: %w", quote(table), explain(err))
	}
	return stmts, nil
}
