package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// layoutVersion is the layout of the tables this release writes. The
// MySQL store starts at 1: a layout number counts the shapes of one
// store's tables, and no earlier shape of these tables exists to upgrade
// from (the PostgreSQL and SQLite stores are at 2 because their first
// release kept orders in a bigint). A later layout adds its upgrade to
// upgrades, run in place at first use under the creation lock.
const layoutVersion = 1

// upgrades[i] turns tables of layout i+1 into layout i+2. MySQL's DDL
// commits implicitly, statement by statement, so each upgrade must be
// safe to run again after a failure half-way.
var upgrades []string

// rowLayout is what the audit table's schema_version column holds for the
// rows this release writes; rows of a higher one are refused as corrupt.
const rowLayout = 1

// column is one expected column, as information_schema.COLUMNS describes it.
type column struct {
	name      string
	dataType  string // DATA_TYPE
	precision int64  // NUMERIC_PRECISION (decimal) or DATETIME_PRECISION; 0: unchecked
	nullable  bool
	primary   bool // COLUMN_KEY = 'PRI'
	autoIncr  bool
}

var auditColumns = []column{
	{name: "seq", dataType: "bigint", primary: true, autoIncr: true},
	{name: "schema_version", dataType: "int"},
	{name: "execution_id", dataType: "longtext"},
	{name: "stage", dataType: "varbinary"},
	{name: "change_id", dataType: "varbinary"},
	{name: "change_order", dataType: "decimal", precision: 65},
	{name: "author", dataType: "varbinary"},
	{name: "state", dataType: "varchar"},
	{name: "occurred_at", dataType: "datetime", precision: 6},
	{name: "duration_ns", dataType: "bigint"},
	{name: "host", dataType: "longtext"},
	{name: "runner_id", dataType: "longtext"},
	{name: "target_id", dataType: "varbinary"},
	{name: "strategy", dataType: "varchar"},
	{name: "recovery", dataType: "varchar"},
	{name: "checksum", dataType: "longtext"},
	{name: "error_message", dataType: "longtext"},
	{name: "error_kind", dataType: "longtext"},
	{name: "operator", dataType: "longtext"},
	{name: "reason", dataType: "longtext"},
	{name: "metadata", dataType: "longtext", nullable: true},
}

var versionColumns = []column{
	{name: "layout", dataType: "int"},
	{name: "upgraded_at", dataType: "datetime", precision: 6},
}

var lockColumns = []column{
	{name: "lock_key", dataType: "varbinary", primary: true},
	{name: "owner", dataType: "varbinary"},
	{name: "epoch", dataType: "bigint"},
	{name: "expires_at", dataType: "datetime", precision: 6},
	{name: "released_by", dataType: "varbinary", nullable: true},
	{name: "released_at", dataType: "datetime", precision: 6, nullable: true},
}

var checkpointColumns = []column{
	{name: "digest", dataType: "varbinary", primary: true},
	{name: "seq", dataType: "bigint"},
	{name: "saved_at", dataType: "datetime", precision: 6},
	{name: "entries", dataType: "bigint"},
	{name: "trail_xor", dataType: "bigint"},
}

// Bounds of the lock and checkpoint tables' keys, in bytes.
const (
	maxLockKeyLen = 512
	maxOwnerLen   = 1024
	maxDigestLen  = 255
)

// The DDL. Text the store compares (stages, change ids, lock keys) is
// VARBINARY: compared byte for byte, without trailing-space padding, under
// no collation, which MySQL 8 and MariaDB name differently. Free text is
// LONGTEXT in utf8mb4 with its binary collation. Times are DATETIME(6) in
// UTC (no time zone conversion, no 2038 limit). InnoDB for row locks and
// transactions.
const createAuditSQL = `CREATE TABLE IF NOT EXISTS {audit} (
	seq            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	schema_version INT NOT NULL,
	execution_id   LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	stage          VARBINARY(128) NOT NULL,
	change_id      VARBINARY(128) NOT NULL,
	change_order   DECIMAL(65,0) NOT NULL,
	author         VARBINARY(256) NOT NULL,
	state          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	occurred_at    DATETIME(6) NOT NULL,
	duration_ns    BIGINT NOT NULL,
	host           LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	runner_id      LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	target_id      VARBINARY(128) NOT NULL,
	strategy       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	recovery       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	checksum       LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	error_message  LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	error_kind     LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	operator       LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	reason         LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	metadata       LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
	CONSTRAINT {prefix}_order_nonnegative CHECK (change_order >= 0),
	INDEX {prefix}_audit_change (stage, change_id, seq)
) ENGINE=InnoDB COMMENT='flamingock-go audit trail: append-only, written by the runtime; fix states with the flamingock CLI, not by hand'`

const createVersionSQL = `CREATE TABLE IF NOT EXISTS {version} (
	layout      INT NOT NULL,
	upgraded_at DATETIME(6) NOT NULL
) ENGINE=InnoDB COMMENT='flamingock-go: the layout of this store''s tables (one row); do not edit'`

const recordLayoutSQL = `INSERT INTO {version} (layout, upgraded_at)
SELECT ?, UTC_TIMESTAMP(6) FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM {version})`

const createLockSQL = `CREATE TABLE IF NOT EXISTS {lock} (
	lock_key    VARBINARY(512) NOT NULL PRIMARY KEY,
	owner       VARBINARY(1024) NOT NULL,
	epoch       BIGINT NOT NULL,
	expires_at  DATETIME(6) NOT NULL,
	released_by VARBINARY(1024) NULL,
	released_at DATETIME(6) NULL
) ENGINE=InnoDB COMMENT='flamingock-go lease lock: release a stuck lock with the flamingock CLI, not by hand'`

const createCheckpointSQL = `CREATE TABLE IF NOT EXISTS {checkpoint} (
	digest    VARBINARY(255) NOT NULL PRIMARY KEY,
	seq       BIGINT NOT NULL,
	saved_at  DATETIME(6) NOT NULL,
	entries   BIGINT NOT NULL,
	trail_xor BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB COMMENT='flamingock-go checkpoints: deleting rows only makes the next start read the whole trail'`

// ddl fills the store's names into sql.
func (s *Store) ddl(sql string) string {
	return strings.NewReplacer("{audit}", s.audit.quoted, "{version}", s.version.quoted,
		"{lock}", s.lock.quoted, "{checkpoint}", s.checkpoint.quoted, "{prefix}", s.prefix).Replace(sql)
}

// foundTable is what information_schema says about one table.
type foundTable struct {
	name    string
	kind    string // TABLE_TYPE
	engine  string
	columns map[string]foundColumn
}

type foundColumn struct {
	dataType  string
	precision int64
	nullable  bool
	primary   bool
	autoIncr  bool
}

// catalogSQL describes the store's tables in the current database, in one
// statement. TABLE_NAME compares under information_schema's collation,
// case-insensitively on MariaDB: readCatalog picks the exact name.
const catalogSQL = `SELECT t.TABLE_NAME, t.TABLE_TYPE, COALESCE(t.ENGINE, ''), COALESCE(c.COLUMN_NAME, ''),
	COALESCE(c.DATA_TYPE, ''), COALESCE(c.NUMERIC_PRECISION, c.DATETIME_PRECISION, 0),
	COALESCE(c.IS_NULLABLE = 'YES', 0), COALESCE(c.COLUMN_KEY = 'PRI', 0), COALESCE(c.EXTRA LIKE '%auto_increment%', 0)
FROM information_schema.TABLES AS t
LEFT JOIN information_schema.COLUMNS AS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME IN (?, ?, ?, ?)`

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type catalog struct {
	tables map[string]*foundTable // by the store's name
	layout *int64                 // nil when the version table is missing or empty
}

// readCatalog reads the tables' shapes and, when the version table exists,
// its layout.
func (s *Store) readCatalog(ctx context.Context, q queryer) (catalog, error) {
	var dbName sql.NullString
	if err := q.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&dbName); err != nil {
		return catalog{}, err
	}
	if !dbName.Valid {
		return catalog{}, errors.New("the connection has no current database: name one in the DSN (…/db)")
	}
	names := []string{s.audit.name, s.version.name, s.lock.name, s.checkpoint.name}
	rows, err := q.QueryContext(ctx, catalogSQL, names[0], names[1], names[2], names[3])
	if err != nil {
		return catalog{}, err
	}
	defer rows.Close()
	byName := map[string]*foundTable{}
	for rows.Next() {
		var (
			name, kind, engine, col, typ string
			prec                         int64
			nullable, pri, ai            bool
		)
		if err := rows.Scan(&name, &kind, &engine, &col, &typ, &prec, &nullable, &pri, &ai); err != nil {
			return catalog{}, err
		}
		t := byName[name]
		if t == nil {
			t = &foundTable{name: name, kind: kind, engine: engine, columns: map[string]foundColumn{}}
			byName[name] = t
		}
		if col != "" {
			t.columns[strings.ToLower(col)] = foundColumn{dataType: strings.ToLower(typ), precision: prec, nullable: nullable, primary: pri, autoIncr: ai}
		}
	}
	if err := rows.Err(); err != nil {
		return catalog{}, err
	}
	c := catalog{tables: map[string]*foundTable{}}
	for _, want := range names {
		if t := byName[want]; t != nil {
			c.tables[want] = t
			continue
		}
		// lower_case_table_names=1 stores names in lower case.
		for name, t := range byName {
			if strings.EqualFold(name, want) {
				c.tables[want] = t
			}
		}
	}
	if v := c.tables[s.version.name]; v != nil && v.columns["layout"].dataType != "" {
		var layout sql.NullInt64
		if err := q.QueryRowContext(ctx, "SELECT MAX(layout) FROM `"+v.name+"`").Scan(&layout); err != nil {
			return catalog{}, err
		}
		if layout.Valid {
			c.layout = &layout.Int64
		}
	}
	return c, nil
}

// shapeProblems lists how found differs from want; extra columns are fine.
func shapeProblems(found *foundTable, want []column) []string {
	if found.kind != "BASE TABLE" {
		return []string{fmt.Sprintf("it is not a table (%s)", strings.ToLower(found.kind))}
	}
	var problems []string
	if !strings.EqualFold(found.engine, "InnoDB") {
		problems = append(problems, fmt.Sprintf("its engine is %s, want InnoDB", found.engine))
	}
	for _, w := range want {
		f, ok := found.columns[w.name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("column %s is missing", w.name))
		case f.dataType != w.dataType:
			problems = append(problems, fmt.Sprintf("column %s is %s, want %s", w.name, f.dataType, w.dataType))
		case w.precision != 0 && f.precision != w.precision:
			problems = append(problems, fmt.Sprintf("column %s has precision %d, want %d", w.name, f.precision, w.precision))
		case !w.nullable && f.nullable:
			problems = append(problems, fmt.Sprintf("column %s allows NULL, want NOT NULL", w.name))
		case w.primary && !f.primary:
			problems = append(problems, fmt.Sprintf("column %s is not the primary key", w.name))
		case w.autoIncr && !f.autoIncr:
			problems = append(problems, fmt.Sprintf("column %s is not AUTO_INCREMENT", w.name))
		}
	}
	return problems
}

// missing lists the tables to create.
type missing struct{ audit, version, lock, checkpoint bool }

func (m missing) any() bool { return m.audit || m.version || m.lock || m.checkpoint }

// check judges the catalog: a newer layout is refused before the shapes
// are looked at, then tables of another shape are refused. It returns
// what is missing.
func (s *Store) check(c catalog) (missing, error) {
	var m missing
	_, hasAudit := c.tables[s.audit.name]
	_, hasVersion := c.tables[s.version.name]
	switch {
	case hasVersion && c.layout == nil:
		return m, fmt.Errorf("mysql: table %s records no layout: its row was deleted. Nothing was changed: "+
			"restore its row (INSERT INTO %s VALUES (%d, UTC_TIMESTAMP(6)) if the tables beside it are this release's)",
			s.version.quoted, s.version.quoted, layoutVersion)
	case hasVersion && *c.layout > layoutVersion:
		return m, fmt.Errorf("mysql: the store in %s was written by a newer flamingock-go: table %s records layout %d, "+
			"and this release knows layouts up to %d. Nothing was changed: upgrade flamingock-go",
			s, s.version.quoted, *c.layout, layoutVersion)
	case hasVersion && *c.layout < 1:
		return m, fmt.Errorf("mysql: table %s records layout %d, which no flamingock-go writes. Nothing was changed: "+
			"restore its row (the layout of the tables beside it)", s.version.quoted, *c.layout)
	case hasAudit && !hasVersion:
		return m, fmt.Errorf("mysql: table %s exists without %s, which every flamingock-go MySQL store has: it is not a flamingock table, "+
			"or its version table was dropped. Nothing was changed: rename or drop the table, restore %s, "+
			"or point the store at other tables with WithTablePrefix", s.audit.quoted, s.version.quoted, s.version.quoted)
	}
	var msgs []string
	for _, t := range []struct {
		table   table
		want    []column
		missing *bool
	}{
		{s.audit, auditColumns, &m.audit},
		{s.version, versionColumns, &m.version},
		{s.lock, lockColumns, &m.lock},
		{s.checkpoint, checkpointColumns, &m.checkpoint},
	} {
		ft := c.tables[t.table.name]
		if ft == nil {
			*t.missing = true
			continue
		}
		if problems := shapeProblems(ft, t.want); len(problems) > 0 {
			msgs = append(msgs, fmt.Sprintf("table %s exists but is not a flamingock table of layout %d: %s",
				t.table.quoted, layoutVersion, strings.Join(problems, "; ")))
		}
	}
	if len(msgs) > 0 {
		return m, fmt.Errorf("mysql: %s. Nothing was changed: rename or drop the table, "+
			"or point the store at other tables with WithTablePrefix", strings.Join(msgs, ". "))
	}
	return m, nil
}

// ready checks the tables and creates what is missing, unless that was
// done already. Every write calls it first, so nothing is ever written to a
// table of another shape or layout.
func (s *Store) ready(ctx context.Context) error {
	s.tables.mu.Lock()
	defer s.tables.mu.Unlock()
	if s.tables.done {
		return nil
	}
	if err := s.ensureTables(ctx); err != nil {
		return err
	}
	s.tables.done = true
	return nil
}

// ensureTables checks the tables and creates the missing ones.
//
// MySQL's DDL commits implicitly: creation cannot be one transaction. So
// creators are serialised by a named lock (GET_LOCK, held by one
// connection, released in a defer on it, and by the server if the
// connection dies), and each re-reads the catalog under it: of twenty
// processes starting at once, one creates, the others find the tables.
// CREATE TABLE IF NOT EXISTS makes a creator outside the lock harmless;
// the catalog is read again after creating, so a table of another shape
// that won a race is refused.
func (s *Store) ensureTables(ctx context.Context) error {
	if s.checkMode {
		if err := s.checkSQLMode(ctx); err != nil {
			return err
		}
	}
	c, err := s.readCatalog(ctx, s.db)
	if err != nil {
		return s.explain("inspect the tables of "+s.String(), needInspect, err)
	}
	m, err := s.check(c)
	if err != nil || !m.any() {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.explain("create tables "+s.tableNames(), needCreate, err)
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+creationLock+", ?)", s.prefix, creationLockWait).Scan(&got); err != nil {
		return s.explain("take the creation lock of "+s.tableNames(), needCreate, err)
	}
	if got.Int64 != 1 {
		return fmt.Errorf("mysql: create tables %s: another process held the creation lock %q for %ds: "+
			"is one stuck creating them? Nothing was changed; try again", s.tableNames(), "flamingock-go create …", creationLockWait)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK("+creationLock+")", s.prefix)
	c, err = s.readCatalog(ctx, conn)
	if err != nil {
		return s.explain("inspect the tables of "+s.String(), needInspect, err)
	}
	if m, err = s.check(c); err != nil || !m.any() {
		return err
	}
	var stmts []string
	if m.audit {
		stmts = append(stmts, createAuditSQL)
	}
	if m.version {
		stmts = append(stmts, createVersionSQL)
	}
	if m.lock {
		stmts = append(stmts, createLockSQL)
	}
	if m.checkpoint {
		stmts = append(stmts, createCheckpointSQL)
	}
	for _, stmt := range stmts {
		if _, err := conn.ExecContext(ctx, s.ddl(stmt)); err != nil {
			return s.explain("create tables "+s.tableNames(), needCreate, err)
		}
	}
	if m.version {
		// The version table is created with the audit table (check refuses
		// an audit table without one), so it records this layout.
		if _, err := conn.ExecContext(ctx, s.ddl(recordLayoutSQL), layoutVersion); err != nil {
			return s.explain("record the layout in "+s.version.quoted, needCreate, err)
		}
	}
	c, err = s.readCatalog(ctx, conn)
	if err != nil {
		return s.explain("inspect the tables of "+s.String(), needInspect, err)
	}
	if m, err = s.check(c); err != nil {
		return err
	}
	if m.any() {
		return fmt.Errorf("mysql: tables %s are still missing after creating them: does the user see them in information_schema?", s.tableNames())
	}
	return nil
}

// creationLockWait is how long, in seconds, a creator waits for another.
const creationLockWait = 60

// creationLock is the name of the GET_LOCK serialising the creators of
// this database's tables of this prefix (its argument): lock names are
// server-wide and at most 64 characters, so the database and the prefix
// are hashed.
const creationLock = "CONCAT('flamingock-go create ', LEFT(SHA2(CONCAT(DATABASE(), '/', ?), 256), 32))"

// checkSQLMode refuses a caller's handle whose session would truncate
// rather than refuse what does not fit, or parses the store's SQL
// otherwise.
func (s *Store) checkSQLMode(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
		return s.explain("read the session's sql_mode", needInspect, err)
	}
	modes := strings.Split(strings.ToUpper(mode), ",")
	if !slices.Contains(modes, "STRICT_ALL_TABLES") && !slices.Contains(modes, "STRICT_TRANS_TABLES") {
		return fmt.Errorf("mysql: the *sql.DB given to New has sql_mode %q, which is not strict: MySQL would store a truncated value "+
			"instead of refusing it. Nothing was written: add sql_mode='%s' to its DSN (or STRICT_TRANS_TABLES), or use Open", mode, sessionSQLMode)
	}
	for _, bad := range []string{"ANSI_QUOTES", "PIPES_AS_CONCAT", "NO_BACKSLASH_ESCAPES", "ANSI"} {
		if slices.Contains(modes, bad) {
			return fmt.Errorf("mysql: the *sql.DB given to New has sql_mode %q: %s changes how the store's statements parse. "+
				"Nothing was written: set sql_mode='%s' in its DSN, or use Open", mode, bad, sessionSQLMode)
		}
	}
	return nil
}

// checkReadOnly checks, creating nothing, that the trail and lock tables
// exist with the store's shape, and marks the tables checked.
func (s *Store) checkReadOnly(ctx context.Context) error {
	c, err := s.readCatalog(ctx, s.db)
	if err != nil {
		return s.explain("inspect the tables of "+s.String(), needInspect, err)
	}
	m, err := s.check(c)
	if err != nil {
		return err
	}
	const hint = "check the database and the table prefix (an audit store is created by its application's first run)"
	switch {
	case m.audit:
		return fmt.Errorf("mysql: open %s: %w: the database has no table %s: %s", s, ErrNotStore, s.audit.quoted, hint)
	case m.lock:
		return fmt.Errorf("mysql: open %s: table %s is missing beside %s: the store is incomplete; open it once with write access to create it",
			s, s.lock.quoted, s.audit.quoted)
	}
	s.tables.mu.Lock()
	s.tables.done = true
	s.tables.mu.Unlock()
	return nil
}

// read runs op, a read of the store's tables. When it fails as a missing
// table would make it fail, before the store's first write the tables are
// checked and created (as the first write would) and op runs again;
// afterwards the catalog explains what is gone, which is never created
// again: an empty trail would have every change applied again.
func (s *Store) read(ctx context.Context, what string, op func() error) error {
	err := op()
	if err == nil || !isMissingTable(err) {
		return s.explainErr(what, needRead, err)
	}
	s.tables.mu.Lock()
	done := s.tables.done
	s.tables.mu.Unlock()
	if !done && !s.readOnly {
		if err := s.ready(ctx); err != nil {
			return err
		}
		return s.explainErr(what, needRead, op())
	}
	c, cerr := s.readCatalog(ctx, s.db)
	if cerr != nil {
		return s.explain("inspect the tables of "+s.String(), needInspect, cerr)
	}
	if _, cerr := s.check(c); cerr != nil {
		return cerr
	}
	return fmt.Errorf("mysql: %s: a table of the store no longer exists, though this store used it before: was it dropped? "+
		"The store does not create it again, since an empty audit trail would have every change applied again; "+
		"restore it, or restart the application to start a new trail: %w", what, s.secrets.Error(err))
}

func (s *Store) explainErr(what string, p privilege, err error) error {
	if err == nil {
		return nil
	}
	return s.explain(what, p, err)
}

// tableNames lists the store's tables for messages.
func (s *Store) tableNames() string {
	return s.audit.quoted + ", " + s.version.quoted + ", " + s.lock.quoted + " and " + s.checkpoint.quoted
}
