package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// schemaVersion is the layout of the rows this release writes and the
// newest it can read. Layout 2 of the tables changed the type of
// change_order, not what a row holds, so rows stay at 1.
const schemaVersion = 1

// layoutVersion is the layout of the store's tables that this release
// creates, upgrades older ones to and reads; a store of a newer one is
// refused. Layout 1 (up to commit 1448d82): change_order bigint, no version
// table. Layout 2: change_order numeric, and the version table.
const layoutVersion = 2

// upgrades[i] takes the tables from layout i+1 to i+2, run in order in one
// transaction by upgrade; the version table's row is written after the
// last. A later layout appends its step here.
var upgrades = []string{
	// 2: orders of any length. ALTER TYPE rewrites the table and keeps
	// every value (a bigint converts to numeric exactly), every seq and the
	// identity sequence; the triggers stay as they were.
	`ALTER TABLE {audit} ALTER COLUMN change_order TYPE numeric, ADD ` + orderCheck + `;
` + createVersionSQL,
}

// orderCheck keeps change_order a non-negative integer: numeric takes any
// number of digits, and sorts as a number.
const orderCheck = `CONSTRAINT change_order_non_negative_integer CHECK (change_order >= 0 AND change_order = trunc(change_order))`

const (
	auditSuffix      = "_audit"
	lockSuffix       = "_lock"
	checkpointSuffix = "_checkpoint"
	indexSuffix      = "_audit_change_idx"
	versionSuffix    = "_version"
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
	{name: "change_order", typ: "numeric", notNull: true},
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

// auditColumnsOf returns the audit table's columns in layout.
func auditColumnsOf(layout int) []column {
	if layout > 1 {
		return auditColumns
	}
	cols := slices.Clone(auditColumns)
	for i := range cols {
		if cols[i].name == "change_order" {
			cols[i].typ = "bigint"
		}
	}
	return cols
}

var versionColumns = []column{
	{name: "layout", typ: "integer", notNull: true},
	{name: "upgraded_at", typ: "timestamp with time zone", notNull: true},
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

// The DDL matches auditColumns, versionColumns, lockColumns and checkpointColumns: the conformance suite and
// TestRoundTrips reopen tables the store created, which puts them through
// the shape check.
const createAuditSQL = `CREATE TABLE IF NOT EXISTS {audit} (
	seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	schema_version integer NOT NULL,
	execution_id   text NOT NULL,
	stage          text NOT NULL,
	change_id      text NOT NULL,
	change_order   numeric NOT NULL ` + orderCheck + `,
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

// createVersionSQL creates the version table, which recordLayoutSQL fills.
// Every user may read it (it holds a layout number and a time): the
// catalog statement reads it on every open, and the users given SELECT on
// the other tables before it existed were not given it.
const createVersionSQL = `CREATE TABLE IF NOT EXISTS {version} (
	layout      integer NOT NULL,
	upgraded_at timestamptz NOT NULL
);
COMMENT ON TABLE {version} IS 'flamingock-go: the layout of this store''s tables (one row), which the store upgrades in place; do not edit';
GRANT SELECT ON {version} TO PUBLIC;
`

// recordLayoutSQL makes the version table's one row say layoutVersion,
// with the database's clock.
var recordLayoutSQL = `DELETE FROM {version};
INSERT INTO {version} (layout, upgraded_at) VALUES (` + strconv.Itoa(layoutVersion) + `, clock_timestamp());
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
//
// Every row also carries the layout the version table ($6, quoted)
// records, so that an up-to-date open stays one round trip. A statement
// cannot name a table that may be missing (it would fail to parse), so the
// layout is read through query_to_xml, PostgreSQL's built-in way to run a
// query given as text (it needs no libxml), and only when the table exists
// with its layout column and the user may read it; otherwise it is NULL.
// Its subquery is uncorrelated: it runs once, not once per row.
const catalogSQL = `SELECT c.relname::text, c.relkind::text, a.attname::text,
	format_type(a.atttypid, a.atttypmod), a.attnotnull,
	a.attidentity <> '' OR a.atthasdef,
	EXISTS (SELECT 1 FROM pg_catalog.pg_index i
		WHERE i.indrelid = c.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum),
	(SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute v JOIN pg_catalog.pg_namespace vn ON vn.nspname = $1
		WHERE v.attrelid = pg_catalog.to_regclass($6) AND v.attname = 'layout' AND NOT v.attisdropped
			AND pg_catalog.has_schema_privilege(vn.oid, 'USAGE') AND pg_catalog.has_table_privilege(v.attrelid, 'SELECT'))
	THEN substring(pg_catalog.query_to_xml('SELECT max(layout) AS layout FROM ' || pg_catalog.to_regclass($6)::text, false, true, '')::text
		FROM '<layout>([0-9]+)</layout>')::integer END)
FROM pg_catalog.pg_namespace n
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname IN ($2, $3, $4, $5)
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
	layout       *int // what the version table records; nil when unread
}

// readCatalog runs catalogSQL on q: the pool, or upgrade's transaction.
func (s *Store) readCatalog(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (catalog, error) {
	rows, err := q.Query(ctx, catalogSQL, execArgs(s.schema, s.audit.name, s.lock.name, s.checkpoint.name,
		s.version.name, s.version.quoted)...)
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
		if err := rows.Scan(&rel, &kind, &name, &typ, &notNull, &generated, &uniq, &c.layout); err != nil {
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

// missing lists what ensureTables has to create. The version table is
// created with the audit table: beside a layout-1 audit table, its absence
// means an upgrade.
type missing struct {
	schema, audit, lock, checkpoint bool
}

func (m missing) any() bool { return m.schema || m.audit || m.lock || m.checkpoint }

// found is what check makes of the catalog: what is missing, and the
// layout of the tables that exist.
type found struct {
	missing
	layout int
}

// check verifies the tables that exist, against the columns of their
// layout, and reports what is missing. A store of a newer layout is refused
// before its tables are looked at: their shape is not this release's to
// judge.
func (s *Store) check(c catalog) (found, error) {
	f := found{missing: missing{schema: !c.schemaExists}, layout: 1}
	if c.tables[s.version.name] != nil {
		switch {
		case c.layout == nil:
			return found{}, fmt.Errorf("postgres: table %s records no layout: it is empty, or the user may not read it. "+
				"Nothing was changed: the user needs: GRANT USAGE ON SCHEMA %s TO %s; GRANT SELECT ON %s TO PUBLIC "+
				"(or restore its row, the layout of the tables beside it)",
				s.version.quoted, pgx.Identifier{s.schema}.Sanitize(), pgx.Identifier{s.conn.User}.Sanitize(), s.version.quoted)
		case *c.layout > layoutVersion:
			return found{}, fmt.Errorf("postgres: the store in schema %s was written by a newer flamingock-go: table %s records layout %d, "+
				"and this release knows layouts up to %d. Nothing was changed: upgrade flamingock-go",
				pgx.Identifier{s.schema}.Sanitize(), s.version.quoted, *c.layout, layoutVersion)
		case *c.layout < 1:
			return found{}, fmt.Errorf("postgres: table %s records layout %d, which no flamingock-go writes. Nothing was changed: "+
				"restore its row (the layout of the tables beside it)", s.version.quoted, *c.layout)
		}
		f.layout = *c.layout
	}
	var msgs []string
	for _, t := range []struct {
		table   table
		want    []column
		missing *bool
	}{
		{s.audit, auditColumnsOf(f.layout), &f.audit},
		{s.version, versionColumns, nil},
		{s.lock, lockColumns, &f.lock},
		{s.checkpoint, checkpointColumns, &f.checkpoint},
	} {
		ft := c.tables[t.table.name]
		if ft == nil {
			if t.missing != nil {
				*t.missing = true
			}
			continue
		}
		if problems := shapeProblems(ft, t.want); len(problems) > 0 {
			msgs = append(msgs, fmt.Sprintf("table %s exists but is not a flamingock table of layout %d: %s",
				t.table.quoted, f.layout, strings.Join(problems, "; ")))
		}
	}
	if len(msgs) > 0 {
		return found{}, fmt.Errorf("postgres: %s. Nothing was changed: rename or drop the table, "+
			"or point the store at other tables with WithSchema or WithTablePrefix", strings.Join(msgs, ". "))
	}
	if f.audit {
		// Tables created now are of this layout.
		f.layout = layoutVersion
	}
	return f, nil
}

// ensureTables checks the store's tables in one round trip, creates what
// is missing and upgrades tables of an earlier layout.
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
// Upgrades take the same lock (see upgrade).
func (s *Store) ensureTables(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		c, err := s.readCatalog(ctx, s.pool)
		if err != nil {
			return s.explain("inspect schema "+pgx.Identifier{s.schema}.Sanitize(), needInspect, err)
		}
		f, err := s.check(c)
		if err != nil || (!f.any() && f.layout == layoutVersion) {
			return err
		}
		if attempt > 3 {
			return fmt.Errorf("postgres: tables %s are still missing or of layout %d after creating or upgrading them", s.tableNames(), f.layout)
		}
		// After a success the loop re-reads the catalog: a creator outside
		// the advisory lock may have won with tables of another shape.
		if f.any() {
			if err := s.create(ctx, f.missing); err != nil && !isCreationRace(err) {
				if f.schema {
					return s.explain("create schema "+pgx.Identifier{s.schema}.Sanitize(), needCreateSchema, err)
				}
				return s.explain("create tables "+s.tableNames(), needCreateTables, err)
			}
			continue
		}
		if err := s.upgrade(ctx); err != nil {
			return s.explain(fmt.Sprintf("upgrade table %s from layout %d to layout %d (nothing was changed)",
				s.audit.quoted, f.layout, layoutVersion), needOwner, err)
		}
	}
}

// upgrade runs the upgrades from the layout the tables are of to
// layoutVersion, and records it, in one transaction (PostgreSQL's DDL is
// transactional: a failure half-way leaves the tables as they were). It
// takes the creation lock and reads the catalog again under it, so that
// of processes starting at once one upgrades and the others find the
// tables upgraded.
func (s *Store) upgrade(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", execArgs(s.creationLockKey())...); err != nil {
		return err
	}
	c, err := s.readCatalog(ctx, tx)
	if err != nil {
		return err
	}
	f, err := s.check(c)
	if err != nil || f.any() || f.layout == layoutVersion {
		// Upgraded, or changed, meanwhile: ensureTables looks again.
		return err
	}
	sql := s.ddl(strings.Join(upgrades[f.layout-1:], "") + recordLayoutSQL)
	if _, err := tx.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return err
	}
	return tx.Commit(ctx)
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
		b.WriteString(createAuditSQL + createVersionSQL + recordLayoutSQL)
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
	_, err := s.pool.Exec(ctx, s.ddl(b.String()), pgx.QueryExecModeSimpleProtocol)
	return err
}

// ddl fills the store's names into the DDL sql.
func (s *Store) ddl(sql string) string {
	return strings.NewReplacer(
		"{audit}", s.audit.quoted,
		"{version}", s.version.quoted,
		"{lock}", s.lock.quoted,
		"{checkpoint}", s.checkpoint.quoted,
		"{index}", pgx.Identifier{s.prefix + indexSuffix}.Sanitize(),
	).Replace(sql)
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
	return s.audit.quoted + ", " + s.version.quoted + ", " + s.lock.quoted + " and " + s.checkpoint.quoted
}
