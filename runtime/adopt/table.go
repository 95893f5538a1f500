package adopt

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/flamingock/flamingock-go/internal/pgident"
)

// A table is the old tool's table, named and quoted once.
type table struct {
	name    string // as the user named it, for messages and marks
	dialect Dialect
	// schema is "" when the name is not qualified: the table is then found
	// as the old tool finds it, through the search path.
	schema, table string
}

// parseTable checks name, "table" or, on PostgreSQL, "schema.table". The
// rule of internal/pgident (letters, digits, underscores) holds on SQLite
// too: both tools paste the name into their SQL, and a name they accept
// with anything else in it is not worth guessing at.
func parseTable(name string, d Dialect, foldsCase bool) (table, error) {
	t := table{name: name, dialect: d}
	parts := strings.Split(name, ".")
	switch {
	case len(parts) == 2 && d == PostgreSQL:
		t.schema, t.table = parts[0], parts[1]
		if err := pgident.Check("schema", t.schema, pgident.MaxLen); err != nil {
			return t, fmt.Errorf("table %q: %w", name, err)
		}
	case len(parts) == 1:
		t.table = parts[0]
	case d == PostgreSQL:
		return t, fmt.Errorf("invalid table %q: use table or schema.table", name)
	default:
		return t, fmt.Errorf("invalid table %q: on SQLite a table is not qualified", name)
	}
	if err := pgident.Check("table", t.table, pgident.MaxLen); err != nil {
		return t, err
	}
	if foldsCase && d == PostgreSQL {
		t.schema, t.table = strings.ToLower(t.schema), strings.ToLower(t.table)
	}
	return t, nil
}

// quoted is the table's name for SQL. The parts are plain identifiers
// (parseTable), so quoting them needs no escaping.
func (t table) quoted() string {
	if t.schema != "" {
		return `"` + t.schema + `"."` + t.table + `"`
	}
	return `"` + t.table + `"`
}

// A shape is the columns of an old table, each with the types the old
// tool's releases created it with.
type shape []column

type column struct {
	name  string
	types []string // lower case
}

func (s shape) String() string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", c.name, strings.Join(c.types, "|"))
	}
	return b.String()
}

// checkShape refuses a missing table (ErrNoTable) and a table whose
// columns are not the old tool's.
func (t table) checkShape(ctx context.Context, conn *sql.Conn, tl tool) error {
	var q string
	var arg any
	if t.dialect == PostgreSQL {
		// to_regclass resolves the name as the SELECT that reads it will,
		// through the search path when it is not qualified.
		q = `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
			FROM pg_attribute a
			WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
			ORDER BY a.attnum`
		arg = t.quoted()
	} else {
		q = `SELECT name, type FROM pragma_table_info(?)`
		arg = t.table
	}
	rows, err := conn.QueryContext(ctx, q, arg)
	if err != nil {
		return fmt.Errorf("%s import: reading the columns of %s: %w", tl.name, t.name, err)
	}
	defer rows.Close()
	got := map[string]string{}
	var names []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return fmt.Errorf("%s import: reading the columns of %s: %w", tl.name, t.name, err)
		}
		got[strings.ToLower(name)] = strings.ToLower(typ)
		names = append(names, name+" "+typ)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s import: reading the columns of %s: %w", tl.name, t.name, err)
	}
	if len(got) == 0 {
		return fmt.Errorf("%s import: %w: %s not found in this database: if %s never migrated it, "+
			"start without this importer (drop pipeline.WithImport); if %s kept its history in another table, name it with adopt.WithTable",
			tl.name, ErrNoTable, t.name, tl.name, tl.name)
	}
	want := tl.shapes[t.dialect]
	ok := len(got) == len(want)
	for _, c := range want {
		if !slices.Contains(c.types, got[c.name]) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%s import: table %s is not %s's: it has columns (%s), %s's has (%s); "+
			"name %s's table with adopt.WithTable, or, if this is it, import nothing and baseline the database instead",
			tl.name, t.name, tl.name, strings.Join(names, ", "), tl.name, want, tl.name)
	}
	return nil
}
