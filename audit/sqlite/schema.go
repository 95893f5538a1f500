package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// schemaVersion is written into every entry; a row with a newer version was
// written by a newer flamingock-go and is not decoded.
const schemaVersion = 1

// layoutVersion is the layout of the store's tables this release creates,
// reads and writes, recorded in the version table (see the package doc).
// Layout 1 is the tables of the releases before the version table; Open
// upgrades them in place with the steps of upgrades.
const layoutVersion = 2

// column is one column of a store table. The same description creates the
// table and checks the shape of an existing one.
type column struct {
	name    string
	typ     string // INTEGER or TEXT
	pk      bool
	notNull bool
}

// decl renders the column's definition. An INTEGER primary key is
// AUTOINCREMENT so that seqs are never reused, even after the last entry
// is deleted by hand.
func (c column) decl() string {
	d := quote(c.name) + " " + c.typ
	if c.pk {
		d += " PRIMARY KEY"
		if c.typ == "INTEGER" {
			d += " AUTOINCREMENT"
		}
	}
	if c.notNull {
		d += " NOT NULL"
	}
	return d
}

type table struct {
	suffix  string
	columns []column
}

// The column order of auditTable is the order of entryColumns, entryArgs
// and scanEntry.
var (
	auditTable = table{suffix: "_audit", columns: []column{
		{name: "seq", typ: "INTEGER", pk: true},
		{name: "schema_version", typ: "INTEGER", notNull: true},
		{name: "execution_id", typ: "TEXT", notNull: true},
		{name: "stage", typ: "TEXT", notNull: true},
		{name: "change_id", typ: "TEXT", notNull: true},
		{name: "change_order", typ: "TEXT", notNull: true}, // decimal, no leading zeros
		{name: "author", typ: "TEXT", notNull: true},
		{name: "state", typ: "TEXT", notNull: true},
		{name: "time", typ: "INTEGER", notNull: true},     // unix milliseconds
		{name: "duration", typ: "INTEGER", notNull: true}, // nanoseconds
		{name: "host", typ: "TEXT", notNull: true},
		{name: "runner_id", typ: "TEXT", notNull: true},
		{name: "target_id", typ: "TEXT", notNull: true},
		{name: "strategy", typ: "TEXT", notNull: true},
		{name: "recovery", typ: "TEXT", notNull: true},
		{name: "checksum", typ: "TEXT", notNull: true},
		{name: "error_message", typ: "TEXT", notNull: true},
		{name: "error_kind", typ: "TEXT", notNull: true},
		{name: "operator", typ: "TEXT", notNull: true},
		{name: "reason", typ: "TEXT", notNull: true},
		{name: "metadata", typ: "TEXT"}, // a JSON object, or NULL
	}}
	lockTable = table{suffix: "_lock", columns: []column{
		{name: "key", typ: "TEXT", pk: true, notNull: true},
		{name: "owner", typ: "TEXT", notNull: true}, // empty once released
		{name: "epoch", typ: "INTEGER", notNull: true},
		{name: "expires_at", typ: "INTEGER", notNull: true}, // unix milliseconds, store clock
		// The latest forced release (ForceRelease): operator and unix
		// milliseconds by the store clock; NULL when none happened.
		{name: "released_by", typ: "TEXT"},
		{name: "released_at", typ: "INTEGER"},
	}}
	// auditTableLayout1 is the trail as layout 1 made it: orders in a
	// 64-bit INTEGER column.
	auditTableLayout1 = auditTable.with(column{name: "change_order", typ: "INTEGER", notNull: true})
	// One row: the layout of the store's tables, and when the store reached
	// it (created or upgraded) in unix milliseconds by the store clock.
	versionTable = table{suffix: "_version", columns: []column{
		{name: "layout", typ: "INTEGER", notNull: true},
		{name: "upgraded_at", typ: "INTEGER", notNull: true},
	}}
	// One checkpoint per pipeline digest (audit.Checkpointer). Deleting
	// rows is harmless: the next start reads the whole trail and saves
	// them again.
	checkpointTable = table{suffix: "_checkpoint", columns: []column{
		{name: "digest", typ: "TEXT", pk: true, notNull: true},
		{name: "seq", typ: "INTEGER", notNull: true},
		{name: "saved_at", typ: "INTEGER", notNull: true}, // unix milliseconds, store clock
	}}
)

// with returns t with c in place of its column of c's name.
func (t table) with(c column) table {
	t.columns = slices.Clone(t.columns)
	for i := range t.columns {
		if t.columns[i].name == c.name {
			t.columns[i] = c
		}
	}
	return t
}

// create is the statement that creates t as the table name (quoted).
func (t table) create(name string) string {
	decls := make([]string, len(t.columns))
	for i, c := range t.columns {
		decls[i] = c.decl()
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n\t%s\n) STRICT", name, strings.Join(decls, ",\n\t"))
}

// quote makes name an SQL identifier whatever it holds.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// nowMillis is the store's clock in unix milliseconds. SQLite fixes 'now'
// for the duration of a statement, so every use in one statement agrees.
const nowMillis = `CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)`

// queries holds the SQL of one table prefix, built once.
type queries struct {
	auditName, lockName, checkpointName, versionName, indexName string
	createTables                                                []string
	createIndex                                                 string
	layout, setLayout                                           string

	insert, snapshot, history string
	acquire, refresh, release string
	renew                     string
	lockInfo                  string
	checkpoint                checkpointSQL // see checkpoint.go
}

func newQueries(prefix string) queries {
	q := queries{
		auditName: prefix + auditTable.suffix,
		lockName:  prefix + lockTable.suffix,

		checkpointName: prefix + checkpointTable.suffix,
		versionName:    prefix + versionTable.suffix,
		indexName:      prefix + auditTable.suffix + "_by_change",
	}
	audit, lock, checkpoint, version := quote(q.auditName), quote(q.lockName), quote(q.checkpointName), quote(q.versionName)
	q.createTables = []string{auditTable.create(audit), lockTable.create(lock), checkpointTable.create(checkpoint), versionTable.create(version)}
	q.createIndex = fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s ("stage", "change_id", "seq")`, quote(q.indexName), audit)
	q.layout = fmt.Sprintf(`SELECT max("layout"), count(*) FROM %s`, version)
	q.setLayout = fmt.Sprintf(`DELETE FROM %s; INSERT INTO %[1]s ("layout", "upgraded_at") VALUES (%d, %s)`, version, layoutVersion, nowMillis)

	names := make([]string, len(auditTable.columns))
	for i, c := range auditTable.columns {
		names[i] = quote(c.name)
	}
	all := strings.Join(names, ", ")
	// A lease holds the lock while its row has its owner and epoch and has
	// not expired by the store's clock.
	holds := `"key" = ? AND "owner" = ? AND "epoch" = ? AND "expires_at" > ` + nowMillis
	q.insert = fmt.Sprintf(`INSERT INTO %s (%s) SELECT %d, %s WHERE EXISTS (SELECT 1 FROM %s WHERE %s) RETURNING "seq"`,
		audit, strings.Join(names[1:], ", "), schemaVersion, strings.Repeat("?, ", len(names)-3)+"?", lock, holds)
	q.snapshot = fmt.Sprintf(`SELECT %s FROM %s WHERE "seq" IN (SELECT max("seq") FROM %[2]s GROUP BY "stage", "change_id") ORDER BY "seq"`, all, audit)
	q.history = fmt.Sprintf(`SELECT %s FROM %s WHERE "stage" = coalesce(?, "stage") AND "change_id" = coalesce(?, "change_id") AND "time" >= coalesce(?, "time") ORDER BY "seq"`, all, audit)

	q.acquire = fmt.Sprintf(`INSERT INTO %s ("key", "owner", "epoch", "expires_at") VALUES (?, ?, 1, %s + ?)
ON CONFLICT ("key") DO UPDATE SET "owner" = excluded."owner", "epoch" = "epoch" + 1, "expires_at" = excluded."expires_at"
WHERE "owner" = '' OR "expires_at" <= %[2]s
RETURNING "epoch", "expires_at"`, lock, nowMillis)
	q.refresh = fmt.Sprintf(`UPDATE %s SET "expires_at" = %s + ? WHERE %s RETURNING "expires_at"`, lock, nowMillis, holds)
	q.renew = fmt.Sprintf(`UPDATE %s SET "expires_at" = %s + ? WHERE "key" = ? AND "owner" = ? AND "epoch" = ?`, lock, nowMillis)
	q.release = fmt.Sprintf(`UPDATE %s SET "owner" = '', "expires_at" = %s WHERE %s`, lock, nowMillis, holds)
	q.lockInfo = fmt.Sprintf(`SELECT l."owner", l."epoch", l."expires_at", %s, l."released_by", l."released_at" FROM (SELECT 1) LEFT JOIN %s AS l ON l."key" = ?`, nowMillis, lock)
	q.checkpoint = q.checkpointSQL()
	return q
}

// querier is what schema checks need of a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// initSchema creates the store's tables and index when they are missing,
// and upgrades tables of an older layout, in one transaction. When they all
// exist in this release's layout it only reads, so opening a store does not
// wait for another process's write transaction.
func (s *Store) initSchema(ctx context.Context) error {
	var complete bool
	err := s.inSnapshot(ctx, func(q querier) (err error) {
		_, complete, err = s.checkSchema(ctx, q)
		return err
	})
	if err != nil || complete {
		return err
	}
	// The transaction is immediate (see dataSourceName): it holds the write
	// lock from its start, so the openers of a file upgrade it one at a time
	// and each checks again what the one before it left.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create tables: %w", explain(err))
	}
	defer tx.Rollback()
	layout, complete, err := s.checkSchema(ctx, tx)
	if err != nil || complete {
		return err
	}
	if layout > 0 {
		for from := layout; from < layoutVersion; from++ {
			if err := upgrades[from-1](ctx, tx, &s.q); err != nil {
				return fmt.Errorf("upgrade the store from layout %d to %d (the store is left at layout %d): %w", from, from+1, layout, err)
			}
		}
	}
	for _, stmt := range s.q.createTables {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create tables: %w", explain(err))
		}
	}
	if _, err := tx.ExecContext(ctx, s.q.createIndex); err != nil {
		return fmt.Errorf("create index: %w", explain(err))
	}
	if layout != layoutVersion {
		if _, err := tx.ExecContext(ctx, s.q.setLayout); err != nil {
			return fmt.Errorf("record layout %d in table %s: %w", layoutVersion, quote(s.q.versionName), explain(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create tables: %w", explain(err))
	}
	return nil
}

// checkReadOnly checks, writing nothing, that the database holds the
// store: its trail and lock tables, of the store's shape in a layout this
// release reads. The checkpoint table and the index are not needed to
// read, and a store made by an older release may lack them.
func (s *Store) checkReadOnly(ctx context.Context) error {
	return s.inSnapshot(ctx, func(q querier) error {
		return s.checkReadable(ctx, q)
	})
}

// checkReadable is checkReadOnly on q.
func (s *Store) checkReadable(ctx context.Context, q querier) error {
	layout, err := s.layout(ctx, q)
	if err != nil {
		return err
	}
	audit, err := checkTable(ctx, q, s.q.auditName, auditTableOf(layout))
	if err != nil {
		return err
	}
	if !audit {
		return fmt.Errorf("%w: the database has no table %s: check the path and the table prefix (an audit store is created by its application's first run)",
			ErrNotStore, quote(s.q.auditName))
	}
	lock, err := checkTable(ctx, q, s.q.lockName, lockTable)
	if err != nil {
		return err
	}
	if !lock {
		return fmt.Errorf("table %s is missing beside %s: the store is incomplete; open it once with write access (its application's next run) to create it",
			quote(s.q.lockName), quote(s.q.auditName))
	}
	if _, err := checkTable(ctx, q, s.q.checkpointName, checkpointTable); err != nil {
		return err
	}
	return nil
}

// inSnapshot runs read in a read-only transaction, which SQLite begins
// without a lock (unlike the store's immediate transactions): its queries
// see one state of the database, even while another process upgrades the
// store between them.
func (s *Store) inSnapshot(ctx context.Context, read func(querier) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("read schema: %w", explain(err))
	}
	defer tx.Rollback() // it only reads
	return read(tx)
}

// checkSchema returns the layout of the store's tables (see layout) and
// whether they and the index all exist in this release's layout, and fails
// when a table exists with a shape the store cannot use in that layout.
func (s *Store) checkSchema(ctx context.Context, q querier) (layout int, complete bool, err error) {
	if layout, err = s.layout(ctx, q); err != nil {
		return 0, false, err
	}
	complete = layout == layoutVersion
	for _, t := range []struct {
		name string
		table
	}{{s.q.auditName, auditTableOf(layout)}, {s.q.lockName, lockTable}, {s.q.checkpointName, checkpointTable}} {
		exists, err := checkTable(ctx, q, t.name, t.table)
		if err != nil {
			return 0, false, err
		}
		complete = complete && exists
	}
	var indexes int
	err = q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE "type" = 'index' AND "name" = ?`, s.q.indexName).Scan(&indexes)
	if err != nil {
		return 0, false, fmt.Errorf("read schema: %w", explain(err))
	}
	return layout, complete && indexes == 1, nil
}

// layout returns the layout of the store's tables: the one the version
// table records, 1 for a trail without a version table (the releases
// before it), 0 for a database without the store. A layout newer than
// this release's is an error, found before any other table is looked at:
// a newer release may have changed any of them.
func (s *Store) layout(ctx context.Context, q querier) (int, error) {
	versioned, err := checkTable(ctx, q, s.q.versionName, versionTable)
	if err != nil {
		return 0, err
	}
	if !versioned {
		var trails int
		err := q.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_list(?) WHERE "schema" = 'main'`, s.q.auditName).Scan(&trails)
		if err != nil {
			return 0, fmt.Errorf("read schema: %w", explain(err))
		}
		return min(trails, 1), nil
	}
	var layout sql.NullInt64
	var rows int
	if err := q.QueryRowContext(ctx, s.q.layout).Scan(&layout, &rows); err != nil {
		return 0, fmt.Errorf("read the layout in table %s: %w", quote(s.q.versionName), explain(err))
	}
	switch {
	case rows != 1:
		return 0, fmt.Errorf("table %s holds %d rows, want one (the layout of the store's tables): it was edited by another program; restore the store from a backup", quote(s.q.versionName), rows)
	case layout.Int64 > layoutVersion:
		return 0, fmt.Errorf("table %s records layout %d: the store was written by a newer flamingock-go (this release knows up to layout %d); upgrade flamingock-go",
			quote(s.q.versionName), layout.Int64, layoutVersion)
	case layout.Int64 < 1:
		return 0, fmt.Errorf("table %s records layout %d, which no release writes: restore the store from a backup", quote(s.q.versionName), layout.Int64)
	}
	return int(layout.Int64), nil
}

// auditTableOf is the trail's table in a layout; 0, no store yet, is
// created in this release's.
func auditTableOf(layout int) table {
	if layout == 1 {
		return auditTableLayout1
	}
	return auditTable
}

// checkTable reports whether table name exists, and fails when it is not
// the STRICT table with exactly the columns of t.
func checkTable(ctx context.Context, q querier, name string, t table) (exists bool, err error) {
	var kind string
	var strict bool
	err = q.QueryRowContext(ctx, `SELECT "type", "strict" FROM pragma_table_list(?) WHERE "schema" = 'main'`, name).Scan(&kind, &strict)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read schema: %w", explain(err))
	case kind != "table":
		return true, shapeError(name, fmt.Sprintf("it is a %s", kind))
	case !strict:
		return true, shapeError(name, "it is not a STRICT table")
	}
	rows, err := q.QueryContext(ctx, `SELECT "name", "type", "notnull", "pk" FROM pragma_table_info(?, 'main')`, name)
	if err != nil {
		return false, fmt.Errorf("read schema: %w", explain(err))
	}
	defer rows.Close()
	got := map[string]column{}
	for rows.Next() {
		var c column
		var pk int
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &pk); err != nil {
			return false, fmt.Errorf("read schema: %w", err)
		}
		c.typ, c.pk = strings.ToUpper(c.typ), pk > 0
		got[c.name] = c
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read schema: %w", explain(err))
	}
	for _, want := range t.columns {
		g, ok := got[want.name]
		switch {
		case !ok:
			return true, shapeError(name, fmt.Sprintf("column %s is missing", quote(want.name)))
		case g.decl() != want.decl():
			return true, shapeError(name, fmt.Sprintf("column %s is %s, want %s", quote(want.name), g.decl(), want.decl()))
		}
		delete(got, want.name)
	}
	if len(got) > 0 {
		extra := slices.Sorted(maps.Keys(got))
		return true, shapeError(name, fmt.Sprintf("it has unexpected columns %s", strings.Join(extra, ", ")))
	}
	return true, nil
}

func shapeError(table, problem string) error {
	return fmt.Errorf("table %s exists but is not a flamingock-go audit table (%s): it was made by another program or an incompatible version; choose another table prefix (WithTablePrefix) or another database file", quote(table), problem)
}
