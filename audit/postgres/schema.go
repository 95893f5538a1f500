package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// schemaVersion is the layout of the rows this release writes and the
// newest it can read.
const schemaVersion = 1

const (
	auditSuffix      = "_audit"
	lockSuffix       = "_lock"
	checkpointSuffix = "_checkpoint"
	indexSuffix      = "_audit_change_idx"
)

// column is one column the store needs, as pg_catalog describes it.
type column struct {
	name      string
	typ       string // format_type(atttypid, atttypmod)
	notNull   bool
	generated bool // identity or default: the store never supplies it
	unique    bool // the sole column of a unique index (ON CONFLICT needs one)
}

var auditColumns = []column{
	{name: "seq", typ: "bigint", notNull: true, generated: true, unique: true},
	{name: "schema_version", typ: "integer", notNull: true},
	{name: "execution_id", typ: "text", notNull: true},
	{name: "stage", typ: "text", notNull: true},
	{name: "change_id", typ: "text", notNull: true},
	{name: "change_order", typ: "bigint", notNull: true},
	{name: "author", typ: "text", notNull: true},
	{name: "state", typ: "text", notNull: true},
	{name: "occurred_at", typ: "timestamp with time zone", notNull: true},
	{name: "duration_ns", typ: "bigint", notNull: true},
	{name: "host", typ: "text", notNull: true},
	{name: "runner_id", typ: "text", notNull: true},
	{name: "target_id", typ: "text", notNull: true},
	{name: "strategy", typ: "text", notNull: true},
	{name: "recovery", typ: "text", notNull: true},
	{name: "checksum", typ: "text", notNull: true},
	{name: "error_message", typ: "text", notNull: true},
	{name: "error_kind", typ: "text", notNull: true},
	{name: "operator", typ: "text", notNull: true},
	{name: "reason", typ: "text", notNull: true},
	{name: "metadata", typ: "jsonb"},
}

var lockColumns = []column{
	{name: "key", typ: "text", notNull: true, unique: true},
	{name: "owner", typ: "text", notNull: true},
	{name: "epoch", typ: "bigint", notNull: true},
	{name: "expires_at", typ: "timestamp with time zone", notNull: true},
	{name: "released_by", typ: "text"},
	{name: "released_at", typ: "timestamp with time zone"},
}

// checkpointColumns leaves out entries, entries_digest and guard, which a table
// made by an earlier release lacks until its first checkpoint read or save
// adds them (see checkpoint.go).
var checkpointColumns = []column{
	{name: "digest", typ: "text", notNull: true, unique: true},
	{name: "seq", typ: "bigint", notNull: true},
	{name: "saved_at", typ: "timestamp with time zone", notNull: true},
}

// The DDL matches auditColumns, lockColumns and checkpointColumns: the conformance suite and
// TestRoundTrips reopen tables the store created, which puts them through
// the shape check.
const createAuditSQL = `CREATE TABLE IF NOT EXISTS {audit} (
	seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	schema_version integer NOT NULL,
	execution_id   text NOT NULL,
	stage          text NOT NULL,
	change_id      text NOT NULL,
	change_order   bigint NOT NULL,
	author         text NOT NULL,
	state          text NOT NULL,
	occurred_at    timestamptz NOT NULL,
	duration_ns    bigint NOT NULL,
	host           text NOT NULL,
	runner_id      text NOT NULL,
	target_id      text NOT NULL,
	strategy       text NOT NULL,
	recovery       text NOT NULL,
	checksum       text NOT NULL,
	error_message  text NOT NULL,
	error_kind     text NOT NULL,
	operator       text NOT NULL,
	reason         text NOT NULL,
	metadata       jsonb
);
CREATE INDEX IF NOT EXISTS {index} ON {audit} (stage, change_id, seq);
COMMENT ON TABLE {audit} IS 'flamingock-go audit trail: append-only, written by the runtime; fix states with the flamingock CLI, not by hand';
`

const createLockSQL = `CREATE TABLE IF NOT EXISTS {lock} (
	key        text PRIMARY KEY,
	owner      text NOT NULL,
	epoch      bigint NOT NULL,
	expires_at timestamptz NOT NULL,
	released_by text,
	released_at timestamptz
);
COMMENT ON TABLE {lock} IS 'flamingock-go lease lock: release a stuck lock with the flamingock CLI, not by hand';
`

const createCheckpointSQL = `CREATE TABLE IF NOT EXISTS {checkpoint} (
	digest         text PRIMARY KEY,
	seq            bigint NOT NULL,
	saved_at       timestamptz NOT NULL,
	entries        bigint,
	entries_digest text,
	guard          text
);
COMMENT ON TABLE {checkpoint} IS 'flamingock-go checkpoints: pipelines found wholly applied up to seq; deleting rows only makes the next start read the whole trail';
`

// catalogSQL describes the schema and the store's tables in one statement, from
// pg_catalog rather than information_schema: the latter hides columns the
// user has no privilege on, which would make a table without grants look
// missing and send the store into trying to create it. No row: the schema
// does not exist. One row with a NULL relname: it exists without the tables.
const catalogSQL = `SELECT c.relname::text, c.relkind::text, a.attname::text,
	format_type(a.atttypid, a.atttypmod), a.attnotnull,
	a.attidentity <> '' OR a.atthasdef,
	EXISTS (SELECT 1 FROM pg_catalog.pg_index i
		WHERE i.indrelid = c.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum)
FROM pg_catalog.pg_namespace n
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname IN ($2, $3, $4)
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1`

// foundTable is what the catalog says about one of the store's tables.
type foundTable struct {
	kind    string // pg_class.relkind
	columns map[string]column
}

type catalog struct {
	schemaExists bool
	tables       map[string]*foundTable
}

func (s *Store) readCatalog(ctx context.Context) (catalog, error) {
	rows, err := s.pool.Query(ctx, catalogSQL, execArgs(s.schema, s.audit.name, s.lock.name, s.checkpoint.name)...)
	if err != nil {
		return catalog{}, err
	}
	defer rows.Close()
	c := catalog{tables: map[string]*foundTable{}}
	for rows.Next() {
		c.schemaExists = true
		var (
			rel, kind, name, typ     *string
			notNull, generated, uniq *bool
		)
		if err := rows.Scan(&rel, &kind, &name, &typ, &notNull, &generated, &uniq); err != nil {
			return catalog{}, err
		}
		if rel == nil {
			continue
		}
		t := c.tables[*rel]
		if t == nil {
			t = &foundTable{kind: *kind, columns: map[string]column{}}
			c.tables[*rel] = t
		}
		if name != nil {
			t.columns[*name] = column{name: *name, typ: *typ, notNull: *notNull, generated: *generated, unique: *uniq}
		}
	}
	return c, rows.Err()
}

// shapeProblems lists how found differs from want; extra columns are fine.
func shapeProblems(found *foundTable, want []column) []string {
	switch found.kind {
	case "r", "p": // table, partitioned table
	default:
		return []string{fmt.Sprintf("it is not a table (pg_class.relkind %q)", found.kind)}
	}
	var problems []string
	for _, w := range want {
		f, ok := found.columns[w.name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("column %s is missing", w.name))
		case f.typ != w.typ:
			problems = append(problems, fmt.Sprintf("column %s is %s, want %s", w.name, f.typ, w.typ))
		case w.notNull && !f.notNull:
			problems = append(problems, fmt.Sprintf("column %s allows NULL, want NOT NULL", w.name))
		case w.generated && !f.generated:
			problems = append(problems, fmt.Sprintf("column %s has no default or identity", w.name))
		case w.unique && !f.unique:
			problems = append(problems, fmt.Sprintf("column %s is not a primary key or unique", w.name))
		}
	}
	return problems
}

// missing lists what ensureTables has to create.
type missing struct {
	schema, audit, lock, checkpoint bool
}

func (m missing) any() bool { return m.schema || m.audit || m.lock || m.checkpoint }

// check verifies the tables that exist and reports what is missing.
func (s *Store) check(c catalog) (missing, error) {
	m := missing{schema: !c.schemaExists}
	var msgs []string
	for _, t := range []struct {
		table   table
		want    []column
		missing *bool
	}{{s.audit, auditColumns, &m.audit}, {s.lock, lockColumns, &m.lock}, {s.checkpoint, checkpointColumns, &m.checkpoint}} {
		found := c.tables[t.table.name]
		if found == nil {
			*t.missing = true
			continue
		}
		if problems := shapeProblems(found, t.want); len(problems) > 0 {
			msgs = append(msgs, fmt.Sprintf("table %s exists but is not a flamingock table of this layout: %s",
				t.table.quoted, strings.Join(problems, "; ")))
		}
	}
	if len(msgs) > 0 {
		return missing{}, fmt.Errorf("postgres: %s. Nothing was changed: rename or drop the table, "+
			"or point the store at other tables with WithSchema or WithTablePrefix", strings.Join(msgs, ". "))
	}
	return m, nil
}

// ensureTables checks the store's tables in one round trip and creates what
// is missing.
//
// CREATE … IF NOT EXISTS is not safe on its own when several processes start
// at once: two creators can both pass the existence check and one fails with
// a unique violation on pg_namespace or pg_type. So creation runs as one
// multi-statement simple-protocol query, which PostgreSQL executes as one
// implicit transaction, whose first statement takes a transaction-scoped
// advisory lock derived from the names: creators queue behind each other,
// the lock goes away at commit (nothing lingers on a pooled session, which
// makes it fine behind PgBouncer), and a crash mid-way leaves nothing behind.
// Creators not using this lock (another tool, an older release) can still
// race, so the errors of a lost race are retried after re-reading the catalog.
func (s *Store) ensureTables(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		c, err := s.readCatalog(ctx)
		if err != nil {
			return s.explain("inspect schema "+pgx.Identifier{s.schema}.Sanitize(), needInspect, err)
		}
		m, err := s.check(c)
		if err != nil || !m.any() {
			return err
		}
		if attempt > 3 {
			return fmt.Errorf("postgres: tables %s are still missing after creating them", s.tableNames())
		}
		// After a success the loop re-reads the catalog: a creator outside
		// the advisory lock may have won with tables of another shape.
		if err := s.create(ctx, m); err != nil && !isCreationRace(err) {
			if m.schema {
				return s.explain("create schema "+pgx.Identifier{s.schema}.Sanitize(), needCreateSchema, err)
			}
			return s.explain("create tables "+s.tableNames(), needCreateTables, err)
		}
	}
}

// create creates what m says is missing, and only that: CREATE SCHEMA IF
// NOT EXISTS checks the CREATE privilege on the database even when the
// schema exists, and COMMENT ON needs to own the table.
func (s *Store) create(ctx context.Context, m missing) error {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT pg_advisory_xact_lock(%d);\n", s.creationLockKey())
	if m.schema {
		fmt.Fprintf(&b, "CREATE SCHEMA IF NOT EXISTS %s;\n", pgx.Identifier{s.schema}.Sanitize())
	}
	if m.audit {
		b.WriteString(createAuditSQL)
	}
	if m.lock {
		b.WriteString(createLockSQL)
	}
	if m.checkpoint {
		b.WriteString(createCheckpointSQL)
	}
	if m.audit {
		// The triggers that void checkpoints on an edit, on the audit table
		// just created, which this user owns. On an existing one they are
		// installed by the first SaveCheckpoint that finds them missing.
		b.WriteString(s.checkpointSQL.install)
	}
	sql := strings.NewReplacer(
		"{audit}", s.audit.quoted,
		"{lock}", s.lock.quoted,
		"{checkpoint}", s.checkpoint.quoted,
		"{index}", pgx.Identifier{s.prefix + indexSuffix}.Sanitize(),
	).Replace(b.String())
	_, err := s.pool.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return err
}

// creationLockKey is the advisory lock key serialising creators of this
// schema and prefix. Advisory locks are per database, as are the tables.
// The checkpoint table came later and is left out of the key, so that
// every release of the store computes the same one.
func (s *Store) creationLockKey() int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "flamingock-go/audit/postgres create %s %s %s", s.schema, s.audit.name, s.lock.name)
	return int64(h.Sum64())
}

// isCreationRace reports the errors a lost creation race produces.
func isCreationRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", // unique_violation, on pg_type or pg_namespace
		"42P06", // duplicate_schema
		"42P07", // duplicate_table
		"42710", // duplicate_object
		"40P01": // deadlock_detected, between creators taking catalog locks in different orders
		return true
	}
	return false
}

// tableNames lists the store's tables for messages.
func (s *Store) tableNames() string {
	return s.audit.quoted + ", " + s.lock.quoted + " and " + s.checkpoint.quoted
}
