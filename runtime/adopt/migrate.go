package adopt

import (
	"context"
	"database/sql"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

var migrateTool = tool{
	name:         "golang-migrate",
	defaultTable: "schema_migrations",
	shapes: map[Dialect]shape{
		// database/postgres and database/pgx: version bigint not null
		// primary key, dirty boolean not null.
		PostgreSQL: {
			{"version", []string{"bigint"}},
			{"dirty", []string{"boolean"}},
		},
		// database/sqlite and database/sqlite3: version uint64, dirty bool.
		SQLite: {
			{"version", []string{"uint64", "integer", "bigint"}},
			{"dirty", []string{"bool", "boolean"}},
		},
	},
	lockIDs: migrateLockIDs,
	marks:   migrateMarks,
}

// migrateLockIDs returns the advisory locks golang-migrate's PostgreSQL
// drivers (database/postgres, database/pgx, database/pgx/v5) take for
// table t: GenerateAdvisoryLockId of the database's name, the table's
// schema (current_schema() unless qualified) and its name. The database's
// name is the URL's path ("/shop") when golang-migrate opened a URL, as its
// CLI and migrate.New do, and current_database() ("shop") when it was
// given a *sql.DB with an empty Config: both are taken, so that an old
// release is held off however it was wired.
func migrateLockIDs(ctx context.Context, conn *sql.Conn, t table) ([]int64, error) {
	var database string
	var schema sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT current_database(), current_schema()").Scan(&database, &schema); err != nil {
		return nil, err
	}
	if t.schema != "" {
		schema = sql.NullString{String: t.schema, Valid: true}
	}
	if !schema.Valid {
		return nil, fmt.Errorf("no current schema (search_path names no existing schema), which golang-migrate refuses too: qualify the table (adopt.WithTable)")
	}
	return []int64{
		migrateLockID("/"+database, schema.String, t.table),
		migrateLockID(database, schema.String, t.table),
	}, nil
}

// migrateLockID is golang-migrate v4's database.GenerateAdvisoryLockId:
// the CRC-32 (IEEE) of the names joined by NUL, the database's last,
// multiplied by its salt in 32 bits.
func migrateLockID(database string, names ...string) int64 {
	const salt = 1486364155
	s := strings.Join(append(names, database), "\x00")
	return int64(crc32.ChecksumIEEE([]byte(s)) * salt)
}

// migrateMarks reads schema_migrations, one row (version, dirty) that
// golang-migrate rewrites after every migration: every change of an order
// up to the version is applied, golang-migrate having applied every file
// up to it in order; when dirty, the version's migration was started and
// did not finish, and its outcome is unknown.
func migrateMarks(ctx context.Context, conn *sql.Conn, t table, s stage) ([]pipeline.Mark, error) {
	rows, err := conn.QueryContext(ctx, "SELECT version, dirty FROM "+t.quoted())
	if err != nil {
		return nil, fmt.Errorf("golang-migrate import: reading %s: %w", t.name, err)
	}
	defer rows.Close()
	var version int64
	var dirty bool
	n := 0
	for rows.Next() {
		if err := rows.Scan(&version, &dirty); err != nil {
			return nil, fmt.Errorf("golang-migrate import: reading %s: %w", t.name, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("golang-migrate import: reading %s: %w", t.name, err)
	}
	switch {
	case n == 0:
		return nil, nil // golang-migrate applied nothing, or went all the way down
	case n > 1:
		return nil, fmt.Errorf("golang-migrate import: table %s has %d rows, golang-migrate keeps one (version, dirty): "+
			"set it right with migrate force <version> before adopting", t.name, n)
	}
	p := &problems{tool: "golang-migrate", t: t, s: s}
	if version < 0 {
		// -1 (golang-migrate's NilVersion) with dirty set is left by a
		// failed down migration of the first version.
		p.add("version %d (dirty %t) is no order: golang-migrate left it after a failed down migration of the first version; "+
			"check the database, then run migrate force with the version it is at (or migrate drop) before adopting", version, dirty)
		return nil, p.err()
	}
	v := audit.OrderOf(uint64(version))
	vs := strconv.FormatInt(version, 10)
	if _, ok := s.byOrder[v]; !ok {
		p.add("version %s is golang-migrate's current version in %s but stage %q has no change of order %s: "+
			"add its change to the stage (the file golang-migrate applied)", vs, t.name, s.name, vs)
		return nil, p.err()
	}
	var marks []pipeline.Mark
	for _, c := range s.changes {
		cmp := c.Order.Compare(v)
		if cmp > 0 {
			break
		}
		cv := c.Order.String()
		switch {
		case cmp == 0 && dirty && c.Latest != nil:
			// The uncertain version was imported before (an issue, maybe
			// resolved since), or run by flamingock since.
		case cmp == 0 && dirty:
			marks = append(marks, mark("golang-migrate", t, c, cv, time.Time{}, true,
				fmt.Sprintf("golang-migrate left %s dirty at version %s: the migration of that version started and did not finish, its outcome is unknown; "+
					"check the database, then resolve this change with flamingock audit fix", t.name, cv)))
		case applied(c):
		case c.Latest != nil:
			p.conflict(c, cv)
		default:
			reason := "imported from " + t.name + " version " + vs
			if cmp < 0 {
				reason = fmt.Sprintf("imported from %s version %s (golang-migrate applies every version up to its current one, %s)", t.name, cv, vs)
			}
			marks = append(marks, mark("golang-migrate", t, c, cv, time.Time{}, false, reason))
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return marks, nil
}
