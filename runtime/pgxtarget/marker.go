package pgxtarget

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/pgident"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

const defaultMarkerTable = "flamingock_marker"

// markerTable is the marker table's name, quoted, and its SQL. Every
// statement goes out in pgx's exec mode (an unnamed statement, one round
// trip), so nothing depends on per-connection state such as PgBouncer's
// transaction pooling would lose.
type markerTable struct {
	quoted string
	schema string // empty when the name is not qualified
	create string
	probe  string
	upsert string
	exists string
	clear  string
}

func newMarkerTable(name pgx.Identifier) markerTable {
	q := name.Sanitize()
	var schema string
	if len(name) == 2 {
		schema = name[0]
	}
	return markerTable{
		quoted: q,
		schema: schema,
		create: `CREATE TABLE IF NOT EXISTS ` + q + ` (
	stage        text NOT NULL,
	change_id    text NOT NULL,
	execution_id text NOT NULL,
	PRIMARY KEY (stage, change_id)
)`,
		// Whether the table exists and the user may do all the target does
		// with it, in one statement. has_table_privilege with a list of
		// privileges is true when any of them is held, hence one call each.
		probe: `SELECT c.oid IS NOT NULL, coalesce(
	has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'INSERT') AND
	has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE'), false)
FROM (SELECT to_regclass($1) AS oid) AS c`,
		// One statement replaces a marker left by an earlier execution.
		upsert: `INSERT INTO ` + q + ` (stage, change_id, execution_id) VALUES ($1, $2, $3)
ON CONFLICT (stage, change_id) DO UPDATE SET execution_id = excluded.execution_id`,
		exists: `SELECT EXISTS (SELECT 1 FROM ` + q + ` WHERE stage = $1 AND change_id = $2 AND execution_id = $3)`,
		clear:  `DELETE FROM ` + q + ` WHERE stage = $1 AND change_id = $2`,
	}
}

// grant is the statement that gives user what the target needs on the
// marker table.
func (m markerTable) grant(user string) string {
	return "GRANT SELECT, INSERT, UPDATE, DELETE ON " + m.quoted + " TO " + pgx.Identifier{user}.Sanitize()
}

// grantCreate says how user gets the table created.
func (m markerTable) grantCreate(user string) string {
	u := pgx.Identifier{user}.Sanitize()
	grant := "CREATE on the schema the table goes to (the first of the search_path; GRANT CREATE ON SCHEMA public TO " + u + " if that is public)"
	if m.schema != "" {
		grant = "GRANT CREATE ON SCHEMA " + pgx.Identifier{m.schema}.Sanitize() + " TO " + u
	}
	return grant + ", or an administrator who creates the table beforehand: " +
		strings.Join(strings.Fields(m.create), " ") + "; " + m.grant(user)
}

// WithMarkerTable names the marker table (default flamingock_marker),
// optionally qualified by a schema: "ops.flamingock_marker". Each part is a
// plain identifier (ASCII letters, digits and underscores, not starting with
// a digit, at most 63 bytes), case-sensitive since the target always quotes
// it.
func WithMarkerTable(name string) Option {
	return optionFunc(func(t *Target) error {
		parts := strings.Split(name, ".")
		if len(parts) > 2 {
			return fmt.Errorf("WithMarkerTable: invalid table name %q: want name or schema.name", name)
		}
		whats := []string{"table name"}
		if len(parts) == 2 {
			whats = []string{"schema", "table"}
		}
		for i, p := range parts {
			if err := pgident.Check(whats[i], p, pgident.MaxLen); err != nil {
				if len(parts) == 2 {
					return fmt.Errorf("WithMarkerTable: table name %q: %w", name, err)
				}
				return fmt.Errorf("WithMarkerTable: %w", err)
			}
		}
		t.marker = newMarkerTable(pgx.Identifier(parts))
		return nil
	})
}

// ensureMarkerTable makes sure, once per Target, that the marker table
// exists and that the user may read, write and delete its rows, creating
// it when missing.
//
// CREATE TABLE IF NOT EXISTS alone is not safe when several processes start
// at once: two creators can both pass its existence check, and the second
// then fails with a unique violation on pg_type once the first commits. So
// a creator that loses that race looks again and finds the winner's table.
// The table is looked up before it is created because CREATE TABLE checks
// the CREATE privilege on the schema even when the table exists, which a
// user that may only use a table an administrator created lacks.
func (t *Target) ensureMarkerTable(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ready {
		return nil
	}
	for attempt := 1; ; attempt++ {
		var exists, allowed bool
		err := t.pool.QueryRow(ctx, t.marker.probe, pgx.QueryExecModeExec, t.marker.quoted).Scan(&exists, &allowed)
		if err != nil {
			return t.explain("look up marker table "+t.marker.quoted, err, "")
		}
		switch {
		case exists && allowed:
			t.ready = true
			return nil
		case exists:
			return fmt.Errorf("pgxtarget: marker table %s in %s: permission denied: the target's user needs: %s",
				t.marker.quoted, t.where, t.marker.grant(t.user()))
		case attempt > 2:
			return fmt.Errorf("pgxtarget: marker table %s in %s is still missing after creating it", t.marker.quoted, t.where)
		}
		if _, err := t.pool.Exec(ctx, t.marker.create, pgx.QueryExecModeExec); err != nil && !isCreationRace(err) {
			return t.explain("create marker table "+t.marker.quoted, err, t.marker.grantCreate(t.user()))
		}
	}
}

// HasMarker implements pipeline.Markers. It reads only: a marker table that
// does not exist yet holds no marker.
func (t *Target) HasMarker(ctx context.Context, m pipeline.Marker) (bool, error) {
	if t.err != nil {
		return false, t.err
	}
	var found bool
	err := t.pool.QueryRow(ctx, t.marker.exists, pgx.QueryExecModeExec, m.Key.Stage, m.Key.ChangeID, m.ExecutionID).Scan(&found)
	if isUndefinedTable(err) {
		return false, nil
	}
	if err != nil {
		return false, t.explain("read marker in "+t.marker.quoted, err, t.marker.grant(t.user()))
	}
	return found, nil
}

// ClearMarker implements pipeline.Markers.
func (t *Target) ClearMarker(ctx context.Context, key audit.Key) error {
	if t.err != nil {
		return t.err
	}
	_, err := t.pool.Exec(ctx, t.marker.clear, pgx.QueryExecModeExec, key.Stage, key.ChangeID)
	if err != nil && !isUndefinedTable(err) {
		return t.explain("clear marker in "+t.marker.quoted, err, t.marker.grant(t.user()))
	}
	return nil
}

func (t *Target) user() string { return t.pool.Config().ConnConfig.User }

// explain wraps err from op on the target with where it happened and, for a
// missing privilege, need: what the user lacks.
func (t *Target) explain(op string, err error, need string) error {
	var pgErr *pgconn.PgError
	if need != "" && errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("pgxtarget: %s in %s: %w: the target's user needs: %s", op, t.where, err, need)
	}
	return fmt.Errorf("pgxtarget: %s in %s: %w", op, t.where, err)
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// isCreationRace reports the errors of a CREATE TABLE IF NOT EXISTS that
// lost a race with another creator.
func isCreationRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", // unique_violation, on pg_type
		"42710", // duplicate_object: the table's row type
		"42P07": // duplicate_table
		return true
	}
	return false
}
