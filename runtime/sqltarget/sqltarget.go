// Package sqltarget is the database/sql target of flamingock-go: changes
// on it receive a *sql.Tx and run inside a transaction.
//
// The strategy (see package pipeline) is stated where the target is built:
//
//   - Shared(store) runs changes in transactions of the audit store's own
//     database (audit/sqlite, audit/postgres, audit/mysql), and the change and its
//     APPLIED entry commit in one transaction (audit.StrategySharedTx). A
//     crash leaves nothing behind.
//   - New(db) runs changes in transactions of db, each committed together
//     with a marker row in db (audit.StrategySeparateTx). After a crash
//     between that commit and the APPLIED entry, the next run finds the
//     marker and records the change as applied instead of running it twice.
//
// On PostgreSQL, use pgx's database/sql driver (import
// github.com/jackc/pgx/v5/stdlib, driver name "pgx"), and build a target of
// New with WithPostgreSQL; Shared takes the dialect from its store. The
// PostgreSQL audit store's DB is one:
//
//	store, err := postgres.Open(ctx, dsn)
//	if err != nil { … }
//	appdb := sqltarget.Shared(store) // shared transactions (PostgreSQL dialect from the store)
//	reportsDB, err := sql.Open("pgx", reportsDSN)
//	if err != nil { … }
//	reports := sqltarget.New(reportsDB, sqltarget.WithPostgreSQL()) // markers
//
// pipeline.New refuses a Shared target in a pipeline on another store.
// New(store.DB()) is a separate-transaction target on the store's
// database: safe, but it writes markers where sharing would not need them.
//
// The marker table (flamingock_marker unless WithMarkerTable names another)
// is created on first use when a query finds it missing, with CREATE TABLE
// IF NOT EXISTS (looked up first, since some databases check the privilege
// to create a table even when it exists, and retried once, since two
// processes creating it at once can make one of them fail). Its SQL uses '?'
// placeholders; pass WithPostgreSQL (or, for another database that wants
// them, WithDollarPlaceholders) for $1, $2…. Identifiers are quoted with
// double quotes (standard SQL), with backticks on MySQL. The target's user
// needs SELECT, INSERT and DELETE on it.
//
// A change declared transactional=false cannot run on this target, but on
// MySQL (see below): its handle is a *sql.Tx. pipeline.New reports it
// before anything runs.
//
// # MySQL and MariaDB
//
// MySQL commits the open transaction implicitly before and after DDL
// (CREATE, ALTER, DROP, RENAME, TRUNCATE…), so a change with DDL cannot be
// made atomic by any transaction, nor share one with its audit entry.
// Shared(store) on an audit/mysql store, and New(db, WithMySQL()), run
// changes so that such a commit is never taken for a rollback and never
// hidden by the trail (pipeline.SharedTxImplicit,
// pipeline.SeparateTxImplicit):
//
//   - a change declared transactional=false (flamingock-gen declares so
//     every SQL-file change of dialect mysql whose statements include DDL)
//     runs without a transaction: STARTED, its statements, APPLIED, and a
//     SQL file's failure records how many of its statements had run. Its
//     handle is still a *sql.Tx, so that Go and SQL-file changes share one
//     handle type, but the target commits that transaction at once: each
//     statement the change runs commits on its own, as every statement after
//     a DDL statement does;
//   - any other change runs in a transaction whose first write is the
//     change's STARTED entry (Shared) or a begun marker (New), durable
//     exactly when something of the change is. A change of DML alone
//     commits atomically with its APPLIED entry (Shared) or its marker
//     (New), as on other databases. A Go change that runs DDL is found out
//     after it returns, when that first write is already visible outside
//     its transaction: it is recorded as run without a transaction (APPLIED,
//     or FAILED, an issue, since it may have partly taken effect), and a
//     crash in the middle of it leaves it STARTED, an issue, never a change
//     to run again as if nothing had happened.
//
// The marker table's names are quoted with backticks, its columns are
// VARBINARY (compared byte for byte, under no collation), and it must be
// InnoDB: a marker of a table without transactions would survive a change
// rolled back. WithMySQL's marker writes are single statements (REPLACE).
package sqltarget

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/isnil"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqlscript"
)

// Target is a database/sql target: its changes run with
// pipeline.SharedTx when it is built by Shared, with pipeline.SeparateTx
// when it is built by New.
type Target struct {
	db       *sql.DB
	shared   SharedStore // set by Shared
	table    string      // quoted marker table name
	dollar   bool
	postgres bool // WithPostgreSQL: bound each transaction's idle time
	// mysql is set by WithMySQL (and Shared on a MySQL store): see "MySQL
	// and MariaDB"; started appends STARTED inside a Shared target's
	// transaction.
	mysql   bool
	started startedAppender
	name    string // the marker table's name as given, unquoted
	err     error  // a bad option or nil db; reported by Strategy

	mu      sync.Mutex
	created bool // the marker table exists
}

var _ pipeline.Target[*sql.Tx] = (*Target)(nil)

// Option configures a Target.
type Option interface {
	apply(*Target) error
}

type optionFunc func(*Target) error

func (f optionFunc) apply(t *Target) error { return f(t) }

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// WithMarkerTable names the marker table, optionally qualified by a schema
// ("ops.flamingock_marker"). Each part is a letter or underscore followed
// by letters, digits or underscores.
func WithMarkerTable(name string) Option {
	return optionFunc(func(t *Target) error {
		if !identRE.MatchString(name) {
			return fmt.Errorf("WithMarkerTable: invalid table name %q (want [schema.]name of letters, digits and underscores)", name)
		}
		t.name = name
		return nil
	})
}

// WithDollarPlaceholders makes the marker SQL use $1, $2… placeholders,
// as PostgreSQL drivers expect, instead of '?'.
func WithDollarPlaceholders() Option {
	return optionFunc(func(t *Target) error {
		t.dollar = true
		return nil
	})
}

// WithPostgreSQL says the target's database is PostgreSQL: the marker SQL
// uses $1, $2… placeholders (as WithDollarPlaceholders), and the server ends
// a change's transaction once it has been idle for longer than the lease
// (SET LOCAL idle_in_transaction_session_timeout, one more round trip per
// change). A runner paused or cut off past its lease then cannot keep the
// locks its transaction holds, the audit store's lease row among them,
// which would otherwise block the runner that took the lock over until the
// paused one resumed or died. runtime/pgxtarget does the same in its BEGIN.
// A change must therefore not keep its transaction idle for longer than the
// lease.
func WithPostgreSQL() Option {
	return optionFunc(func(t *Target) error {
		t.dollar, t.postgres = true, true
		return nil
	})
}

// WithMySQL says the target's database is MySQL or MariaDB: changes run
// as "MySQL and MariaDB" in the package documentation says, and
// transactional=false changes are accepted. Shared needs it not on an
// audit/mysql store.
func WithMySQL() Option {
	return optionFunc(func(t *Target) error {
		t.mysql = true
		return nil
	})
}

// New returns a target that runs changes in transactions of db, each with
// a marker (audit.StrategySeparateTx). A nil db or a bad option is
// reported by pipeline.New, before anything runs. New sends nothing to the
// database.
func New(db *sql.DB, opts ...Option) *Target {
	var unset error
	if db == nil {
		unset = errors.New("sqltarget: nil *sql.DB")
	}
	return build(db, unset, opts)
}

// build returns a target on db with opts, reporting unset (the database or
// store left nil) and every bad option.
func build(db *sql.DB, unset error, opts []Option) *Target {
	t := &Target{db: db, name: "flamingock_marker"}
	errs := []error{unset}
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("sqltarget: nil option"))
			continue
		}
		if err := o.apply(t); err != nil {
			errs = append(errs, fmt.Errorf("sqltarget: %w", err))
		}
	}
	if t.mysql && t.dollar {
		errs = append(errs, errors.New("sqltarget: WithMySQL with WithPostgreSQL or WithDollarPlaceholders: MySQL takes '?' placeholders"))
	}
	t.table = t.quote(t.name)
	t.err = errors.Join(errs...)
	return t
}

// SharedStore is an audit store that appends inside a database/sql
// transaction of its own database: audit/sqlite's and audit/postgres's
// stores are.
type SharedStore interface {
	audit.Store
	// DB is the store's database.
	DB() *sql.DB
	// Dialect names DB's database: "postgres" makes Shared behave as
	// WithPostgreSQL does, without the option.
	Dialect() string
	// AppendSQLTx is Append inside tx, a transaction of DB: the entry is
	// stored if and only if tx commits.
	AppendSQLTx(ctx context.Context, tx *sql.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error)
}

// startedAppender is what a MySQL SharedStore (audit/mysql's) provides
// beyond SharedStore: the STARTED entry appended first in a change's
// transaction, without locking the lease (see
// pipeline.ImplicitSharedTxTarget).
type startedAppender interface {
	AppendStartedSQLTx(ctx context.Context, tx *sql.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error)
}

// Shared returns a target that runs changes in transactions of store's
// database, in which the runner appends each change's APPLIED entry before
// it commits (audit.StrategySharedTx). The pipeline's audit store must be
// store. On a PostgreSQL store it behaves as WithPostgreSQL, on a MySQL
// store as WithMySQL, which it then needs not be given. A nil store or a
// bad option is reported by pipeline.New.
func Shared(store SharedStore, opts ...Option) *Target {
	if isnil.Value(store) {
		return build(nil, errors.New("sqltarget: nil audit store"), opts)
	}
	var unset error
	switch store.Dialect() {
	case "postgres":
		opts = append([]Option{WithPostgreSQL()}, opts...)
	case "mysql":
		opts = append([]Option{WithMySQL()}, opts...)
		if _, ok := store.(startedAppender); !ok {
			unset = fmt.Errorf("sqltarget: the MySQL audit store %T cannot append STARTED inside a change's transaction (AppendStartedSQLTx)", store)
		}
	}
	t := build(store.DB(), unset, opts)
	t.shared = store
	t.started, _ = store.(startedAppender)
	return t
}

// Strategy implements pipeline.Target: a shared transaction for a target
// built by Shared, a separate one with a marker for one built by New.
func (t *Target) Strategy(transactional bool) (pipeline.Strategy[*sql.Tx], error) {
	var none pipeline.Strategy[*sql.Tx]
	if t.err != nil {
		return none, t.err
	}
	switch {
	case !transactional && t.mysql:
		return pipeline.NonTx[*sql.Tx](t), nil
	case !transactional:
		return none, errors.New("database/sql target cannot run a change outside a transaction (its handle is *sql.Tx)")
	case t.shared != nil && t.mysql:
		return pipeline.SharedTxImplicit[*sql.Tx](t), nil
	case t.shared != nil:
		return pipeline.SharedTx[*sql.Tx](t), nil
	case t.mysql:
		return pipeline.SeparateTxImplicit[*sql.Tx](t), nil
	}
	return pipeline.SeparateTx[*sql.Tx](t), nil
}

// AppendStarted implements pipeline.ImplicitSharedTxTarget, for a Shared
// target on a MySQL store.
func (t *Target) AppendStarted(ctx context.Context, w pipeline.SharedWork[*sql.Tx], lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	if t.started == nil {
		return audit.Entry{}, errors.New("sqltarget: only a Shared target on a MySQL store appends STARTED inside a change's transaction")
	}
	return t.started.AppendStartedSQLTx(ctx, w.Handle(), lease, e)
}

// BeginNonTx implements pipeline.NonTxTarget, on MySQL only: the change's
// handle is a transaction committed at once, so that each statement run
// in it commits on its own (see "MySQL and MariaDB").
func (t *Target) BeginNonTx(ctx context.Context, req pipeline.BeginRequest) (pipeline.Work[*sql.Tx], error) {
	if !t.mysql {
		return nil, errors.New("sqltarget: only a MySQL target runs changes without a transaction")
	}
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqltarget: begin: %w", err)
	}
	// MySQL's transaction ends here, and the session is back in autocommit
	// mode; database/sql keeps the connection for the change until the
	// work commits or aborts.
	if _, err := tx.ExecContext(ctx, "COMMIT"); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("sqltarget: leave the transaction for autocommit: %w", err)
	}
	return &work{tx: tx}, nil
}

// AuditStore implements pipeline.SharedTxTarget: the store given to Shared,
// nil for a target built by New.
func (t *Target) AuditStore() audit.Store {
	if t.shared == nil {
		return nil
	}
	return t.shared
}

// BeginShared implements pipeline.SharedTxTarget.
func (t *Target) BeginShared(ctx context.Context, req pipeline.BeginRequest) (pipeline.SharedWork[*sql.Tx], error) {
	if t.shared == nil {
		return nil, errors.New("sqltarget: a target built by New shares no audit store's transactions: build it with Shared")
	}
	tx, err := t.begin(ctx, req.LeaseTTL)
	if err != nil {
		return nil, err
	}
	return &sharedWork{work: work{tx: tx}, store: t.shared}, nil
}

// BeginSeparate implements pipeline.SeparateTxTarget.
func (t *Target) BeginSeparate(ctx context.Context, req pipeline.BeginRequest) (pipeline.MarkedWork[*sql.Tx], error) {
	if err := t.ensureTable(ctx); err != nil {
		return nil, err
	}
	tx, err := t.begin(ctx, req.LeaseTTL)
	if err != nil {
		return nil, err
	}
	return &markerWork{work: work{tx: tx}, t: t}, nil
}

// begin starts a change's transaction; on PostgreSQL (WithPostgreSQL) one
// that the server ends once idle for longer than lease.
func (t *Target) begin(ctx context.Context, lease time.Duration) (*sql.Tx, error) {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqltarget: begin a transaction: %w", err)
	}
	if ms := lease.Milliseconds(); t.postgres && ms > 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL idle_in_transaction_session_timeout = %d", ms)); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("sqltarget: bound the transaction's idle time: %w", err)
		}
	}
	return tx, nil
}

// HasMarker implements pipeline.Markers.
func (t *Target) HasMarker(ctx context.Context, m pipeline.Marker) (bool, error) {
	if err := t.ensureTable(ctx); err != nil {
		return false, err
	}
	var n int
	err := t.db.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM "+t.table+" WHERE stage = "+t.ph(1)+" AND change_id = "+t.ph(2)+" AND execution_id = "+t.ph(3),
		m.Key.Stage, m.Key.ChangeID, m.ExecutionID).Scan(&n)
	if err != nil {
		return false, t.explain("read marker in "+t.table, err)
	}
	return n > 0, nil
}

// ClearMarker implements pipeline.Markers.
func (t *Target) ClearMarker(ctx context.Context, key audit.Key) error {
	if err := t.ensureTable(ctx); err != nil {
		return err
	}
	if _, err := t.db.ExecContext(ctx, t.deleteSQL(), key.Stage, key.ChangeID); err != nil {
		return t.explain("clear marker in "+t.table, err)
	}
	return nil
}

// ensureTable makes sure, once per Target, that the marker table exists,
// creating it when a query finds it missing. A failed creation is tried
// once more: when two processes create the table at once, one of them can
// fail (PostgreSQL reports a unique violation on pg_type), and by then the
// other's table is there.
func (t *Target) ensureTable(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.created {
		return nil
	}
	// Looking first spares a user that may use an existing table but not
	// create one (PostgreSQL checks CREATE on the schema even for a table
	// that exists).
	rows, err := t.db.QueryContext(ctx, "SELECT 1 FROM "+t.table+" WHERE 1 = 0")
	if err == nil {
		err = rows.Close()
	}
	if err != nil {
		create := "CREATE TABLE IF NOT EXISTS " + t.table + ` (
	stage VARCHAR(255) NOT NULL,
	change_id VARCHAR(255) NOT NULL,
	execution_id VARCHAR(255) NOT NULL,
	PRIMARY KEY (stage, change_id)
)`
		if t.mysql {
			create = "CREATE TABLE IF NOT EXISTS " + t.table + ` (
	stage VARBINARY(255) NOT NULL,
	change_id VARBINARY(255) NOT NULL,
	execution_id VARBINARY(255) NOT NULL,
	PRIMARY KEY (stage, change_id)
) ENGINE=InnoDB`
		}
		if _, err = t.db.ExecContext(ctx, create); err != nil {
			_, err = t.db.ExecContext(ctx, create)
		}
	}
	if err != nil {
		return t.explain("create marker table "+t.table, err)
	}
	if t.mysql {
		if err := t.checkEngine(ctx); err != nil {
			return err
		}
	}
	t.created = true
	return nil
}

// checkEngine refuses a MySQL marker table of an engine without
// transactions (MyISAM, MEMORY…), whose marker would survive a change
// rolled back and prove it applied.
func (t *Target) checkEngine(ctx context.Context) error {
	schema, name, qualified := strings.Cut(t.name, ".")
	if !qualified {
		schema, name = "", t.name
	}
	var engine sql.NullString
	err := t.db.QueryRowContext(ctx,
		"SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?",
		schema, name).Scan(&engine)
	if err != nil {
		return t.explain("read the engine of marker table "+t.table, err)
	}
	if !strings.EqualFold(engine.String, "InnoDB") {
		return fmt.Errorf("sqltarget: marker table %s is not an InnoDB table (ENGINE=%s): a marker of a table without transactions would survive a change rolled back and prove it applied; convert it with ALTER TABLE %s ENGINE=InnoDB",
			t.table, engine.String, t.table)
	}
	return nil
}

// explain wraps err from op with the grant the target's user lacks, when
// the driver says a privilege is missing (SQLSTATE 42501, which
// PostgreSQL's drivers expose through a SQLState method).
func (t *Target) explain(op string, err error) error {
	var state interface{ SQLState() string }
	if errors.As(err, &state) && state.SQLState() == "42501" {
		return fmt.Errorf("sqltarget: %s: %w: the target's user needs SELECT, INSERT and DELETE on %s "+
			"(and CREATE on its schema to create it)", op, err, t.table)
	}
	return fmt.Errorf("sqltarget: %s: %w", op, err)
}

func (t *Target) deleteSQL() string {
	return "DELETE FROM " + t.table + " WHERE stage = " + t.ph(1) + " AND change_id = " + t.ph(2)
}

// ph returns the i-th (1-based) placeholder.
func (t *Target) ph(i int) string {
	if t.dollar {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

// quote quotes the table name: with backticks on MySQL, with double
// quotes (standard SQL) on other databases.
func (t *Target) quote(name string) string {
	q := `"`
	if t.mysql {
		q = "`"
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = q + p + q
	}
	return strings.Join(parts, ".")
}

// work is one change's transaction.
type work struct{ tx *sql.Tx }

func (w *work) Handle() *sql.Tx                             { return w.tx }
func (w *work) Context(ctx context.Context) context.Context { return ctx }
func (w *work) Commit(context.Context) error                { return w.tx.Commit() }
func (w *work) Abort(context.Context) error                 { return w.tx.Rollback() }

// sharedWork appends audit entries inside the change's transaction.
type sharedWork struct {
	work
	store SharedStore
}

// CommitAudit implements pipeline.SharedWork: the append, then the
// commit. database/sql offers no way to send both at once.
func (w *sharedWork) CommitAudit(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	stored, err := w.store.AppendSQLTx(ctx, w.tx, lease, e)
	if err != nil {
		return audit.Entry{}, err
	}
	if err := w.tx.Commit(); err != nil {
		return audit.Entry{}, fmt.Errorf("commit: %w", err)
	}
	return stored, nil
}

// Abort rolls the transaction back, unless the commit of CommitAudit ended
// it already, whether or not it succeeded.
func (w *sharedWork) Abort(context.Context) error {
	if err := w.tx.Rollback(); !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

// markerWork writes the marker inside the change's transaction.
type markerWork struct {
	work
	t *Target
}

func (w *markerWork) WriteMarker(ctx context.Context, m pipeline.Marker) error {
	if w.t.mysql {
		// One statement: after an implicit commit each statement commits on
		// its own, and a delete and an insert would leave no marker between
		// them (see pipeline.SeparateTxImplicit).
		_, err := w.tx.ExecContext(ctx, "REPLACE INTO "+w.t.table+" (stage, change_id, execution_id) VALUES (?, ?, ?)",
			m.Key.Stage, m.Key.ChangeID, m.ExecutionID)
		if err != nil {
			return w.t.explain("write marker in "+w.t.table, err)
		}
		return nil
	}
	if _, err := w.tx.ExecContext(ctx, w.t.deleteSQL(), m.Key.Stage, m.Key.ChangeID); err != nil {
		return w.t.explain("write marker in "+w.t.table, err)
	}
	_, err := w.tx.ExecContext(ctx,
		"INSERT INTO "+w.t.table+" (stage, change_id, execution_id) VALUES ("+w.t.ph(1)+", "+w.t.ph(2)+", "+w.t.ph(3)+")",
		m.Key.Stage, m.Key.ChangeID, m.ExecutionID)
	if err != nil {
		return w.t.explain("write marker in "+w.t.table, err)
	}
	return nil
}

// Exec returns a function that runs one statement with tx.ExecContext and
// no arguments: the exec of package sqlscript's Script.Exec, for a change
// whose handle is a *sql.Tx. It lives here, next to the handle, so that
// package sqlscript needs no database driver.
//
//	return up.Exec(ctx, sqltarget.Exec(tx))
func Exec(tx *sql.Tx) func(ctx context.Context, sql string) error {
	return func(ctx context.Context, query string) error {
		_, err := tx.ExecContext(ctx, query)
		return err
	}
}

// ScriptFunc returns the change function that runs s with Exec: what
// flamingock-gen registers for a section of a SQL file.
func ScriptFunc(s sqlscript.Script) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error { return s.Exec(ctx, Exec(tx)) }
}
