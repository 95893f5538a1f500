// Package postgres is the PostgreSQL audit store of flamingock-go, built on
// pgx (github.com/jackc/pgx/v5) and its pool.
//
//	store, err := postgres.Open(ctx, "postgres://app@db:5432/app?sslmode=require",
//		postgres.WithSchema("flamingock"))
//	if err != nil { … }
//	defer store.Close()
//
// Open creates a pool from a DSN and closes it on Close; New uses a pool the
// caller owns (and keeps open). Neither sends anything to the server, so
// that the start of an up-to-date pipeline costs one round trip, its
// snapshot. The store looks at its tables when it first needs them:
//
//   - before its first write (Append, AppendTx, AppendSQLTx, CommitTx,
//     Acquire, Refresh, Release, ForceRelease), it checks them against the
//     expected columns and types and reads their layout (one query), creates
//     the schema and tables that are missing and upgrades the tables of an
//     earlier layout (see Layouts), each in one transaction serialised by a
//     transaction-scoped advisory lock, so any number of processes may start
//     at once. Tables of another shape, or of a newer layout, are refused,
//     with a message saying what is wrong, and nothing is written to them;
//   - a read (Snapshot, History, Lock) goes straight to the tables. When it
//     fails as a missing table or one of another shape would make it fail,
//     the catalog says which, with the same message; before the store's
//     first write, missing tables are then created and the read retried.
//     Once the store has checked its tables it never creates them again: a
//     table dropped behind its back is reported, not silently replaced by
//     an empty trail that would have every change applied again.
//
// So connection and permission errors, too, come from the first operation,
// not from Open or New.
//
// # Tables
//
// With the default prefix "flamingock":
//
//   - flamingock_audit: the append-only trail. seq (identity, the store's
//     order), schema_version (of the row's layout; rows written by a newer
//     release are refused as corrupt rather than misread), then one column
//     per audit.Entry field. change_order is numeric, of any number of
//     digits, kept a non-negative integer by a CHECK constraint: ORDER BY
//     change_order sorts orders as numbers (9 < 10 < 20150101000001000000).
//     Times are timestamptz, stored with PostgreSQL's
//     microsecond precision: Append truncates Entry.Time to the microsecond
//     and returns the entry as stored. duration_ns is the duration in
//     nanoseconds (bigint), metadata is jsonb (NULL when empty; PostgreSQL
//     normalises its spacing and key order).
//   - flamingock_version: one row, the layout of the store's tables and
//     when it was created or upgraded to it (the database's clock).
//     Readable by every user (GRANT SELECT … TO PUBLIC): every open reads it.
//   - flamingock_lock: one lease row per key: key, owner (empty when
//     released), epoch (grows on every acquisition, kept on release),
//     expires_at, and released_by and released_at (the latest ForceRelease,
//     NULL when none happened).
//   - flamingock_checkpoint: one row per pipeline (see audit.Checkpointer):
//     its digest, the trail's highest seq when it was last found wholly
//     applied, when that was saved, and its guard: the row versions (xmin)
//     of the triggers that void checkpoints and of their function. entries
//     and entries_digest (the count and xmin sum of the entries) are
//     written for earlier releases, which compare them. Deleting rows is
//     harmless: the next start reads the whole trail and saves them again.
//
// Beside the tables, the store creates with them a function,
// flamingock_void_checkpoints, and three triggers on the audit table,
// ENABLE ALWAYS: an UPDATE, DELETE or TRUNCATE of the trail, or an entry
// inserted by hand below its highest seq, deletes every checkpoint. On the
// tables of an earlier release, the first SaveCheckpoint creates them
// (ALTER TABLE … ENABLE ALWAYS TRIGGER takes the audit table's owner).
//
// # Layouts
//
// The tables are versioned as a whole, by the layout in flamingock_version.
// Layout 1 is the tables of releases up to commit 1448d82: change_order
// bigint, no version table. Layout 2, this release's, keeps orders of any
// length. A store's first write upgrades tables of an earlier layout in
// place, in one transaction (PostgreSQL's DDL is transactional: a failure
// leaves layout 1 as it was) under the creation lock, after reading the
// layout again under it: of twenty processes starting at once, one
// upgrades and the others find the tables upgraded. From layout 1, ALTER
// TABLE … ALTER COLUMN change_order TYPE numeric rewrites the audit table,
// keeping every entry, every seq and the identity sequence; it holds an
// ACCESS EXCLUSIVE lock on the table meanwhile, so reads of the trail wait
// for it (about ten seconds for a million entries on a laptop-class server). The triggers and
// the checkpoints' guard are left as they were: a checkpoint current
// before the upgrade stays current, since the trail holds the same entries.
// The upgrade takes the audit table's owner; another user is refused with a
// message saying so, and nothing is changed.
//
// A store whose version table records a newer layout is refused, by Open
// with WithReadOnly and by the first write, with an error saying to
// upgrade flamingock-go, and nothing is written to it. A WithReadOnly store
// reads layouts 1 and 2 as they are and never upgrades. A read-write
// store's reads before its first write go straight to the tables, as
// always, without the layout: the first write refuses the store. An earlier release
// refuses layout-2 tables as of another shape (change_order is numeric).
//
// # Starting with nothing to do
//
// A pipeline whose checkpoint is current starts with one small statement:
// it compares the checkpoint's seq with the trail's highest (read from the
// end of the primary key's index) and its guard with the triggers' row
// versions in pg_catalog, so that an entry deleted or edited by hand makes
// the checkpoint stale (the triggers deleted it), and so does disabling,
// dropping or replacing a trigger, even re-enabled or re-created since
// (each writes a new catalog row version). It reads no entry, whatever the
// length of the trail. Without the triggers (a WithReadOnly store on an
// earlier release's tables, a user that may not create them) no checkpoint
// is current. Not detected: a superuser editing pg_trigger or pg_proc, or
// the guard column, by hand. Only when the checkpoint is stale is the
// latest entry of every change read, as Snapshot does, in a second round
// trip.
//
// # Lock and fencing
//
// All expiry arithmetic uses the database clock (clock_timestamp(): unlike
// now() it is not frozen at the start of a caller's transaction), never the
// client's. Every lock operation is one statement and every audit write checks
// the lease in the same statement as the insert, so the store works behind
// PgBouncer in transaction pooling mode: it uses no session advisory locks and
// no session state. A write refused by the fence check fails with an error
// matching audit.ErrFenced, which also aborts a caller's transaction.
//
// # Prepared statements and PgBouncer
//
// Reads and lock operations are sent in pgx's exec mode (an unnamed
// statement): one round trip even on a connection that has never seen them,
// which keeps the start of an up-to-date pipeline at one round trip. Appends
// (Append, AppendTx, AppendSQLTx, CommitTx) run in the pool's default query
// exec mode, pgx's QueryExecModeCacheStatement unless the pool says
// otherwise: the append is prepared once per connection (one more round trip,
// the first time), then executed without being parsed and planned again for
// every entry. PgBouncer supports prepared statements in transaction pooling
// mode from version 1.21 (max_prepared_statements). Behind an older one, set
// default_query_exec_mode=exec (or simple_protocol) in the DSN or pool
// configuration, as the application's own queries need anyway.
//
// # Shared transactions
//
// When the audit store and a change's target are the same database, AppendTx
// records an entry inside the caller's transaction so the change and its
// APPLIED entry commit together. The fence check takes a share lock on the
// lease row that lasts until that transaction ends: call AppendTx last, just
// before Commit, or a refresh or takeover of the lease waits for it. CommitTx
// does both, the append and COMMIT in one round trip; runtime/pgxtarget uses
// it for targets on Pool. For database/sql, DB is a *sql.DB over the same pool
// and AppendSQLTx the same append inside one of its transactions, which
// runtime/sqltarget uses for targets on DB.
//
// # Privileges
//
// Creating the schema needs CREATE on the database and creating the tables
// CREATE on the schema; upgrading tables of an earlier layout needs to own
// the audit table (open the store once as its owner); once they exist, the store's user needs USAGE on the
// schema, SELECT and INSERT on the audit table and SELECT, INSERT and UPDATE
// on the lock and checkpoint tables. A missing privilege is reported with the GRANT that
// supplies it.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/redact"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Store is the PostgreSQL audit store. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	ownsPool bool
	dsn      string // without password
	// secrets are the DSN's, scrubbed from every error (see explain).
	secrets redact.Secrets
	conn    *pgconn.Config

	schema     string
	prefix     string
	audit      table
	version    table // the layout of the tables, see schema.go
	lock       table
	checkpoint table

	sql           statements
	checkpointSQL checkpointStatements

	readOnly bool // WithReadOnly: creates nothing, triggers included

	db     *sql.DB // database/sql over pool; see DB
	tables tableCheck
}

var _ audit.Store = (*Store)(nil)

// table is a schema-qualified table name in both its forms.
type table struct {
	name   string // unquoted, as stored in pg_class
	quoted string // "schema"."name", safe to put in SQL
}

func newTable(schema, name string) table {
	return table{name: name, quoted: pgx.Identifier{schema, name}.Sanitize()}
}

// Open returns a store on the PostgreSQL server at dsn (a URL or
// keyword/value string, see pgxpool.ParseConfig) with a pool of its own,
// which Close closes. It reports a malformed DSN or option but sends nothing
// to the server: the first operation connects, and checks or creates the
// store's tables (see the package documentation). With WithReadOnly, Open
// connects and checks the tables at once, creating nothing.
//
// An empty dsn is refused: libpq's defaults (the local server, a database
// named after the OS user) are no place to guess an audit trail in, and an
// unset environment variable is the usual cause.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres: open: empty DSN: name the server, as postgres://user@host:5432/db or host=… dbname=… (is the environment variable holding it set?)")
	}
	secrets := redact.SecretsOf(dsn)
	if redact.Ambiguous(dsn) {
		return nil, fmt.Errorf("postgres: invalid DSN %s: an '@' in it does not end the user information: "+
			"percent-encode '@' and '/' in the password (as %%40 and %%2F) and '@' in parameters", redact.DSN(dsn))
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid DSN %s: %w", redact.DSN(dsn), parseError(err, secrets))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, secrets.Error(fmt.Errorf("postgres: %w", err))
	}
	s := newStore(pool, true, redactDSN(dsn, &cfg.ConnConfig.Config), secrets, o)
	if o.readOnly {
		if err := s.checkReadOnly(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// New uses pool, which stays the caller's: Close does not close it. The pool
// may carry the caller's tracer, TLS and connection settings. New sends
// nothing to the server, and ctx is not used, unless WithReadOnly makes it
// check the tables as Open does.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: nil pool")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	s := newStore(pool, false, poolDSN(pool.Config()), redact.SecretsOf(pool.Config().ConnString()), o)
	if o.readOnly {
		if err := s.checkReadOnly(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ErrNotStore matches the error of opening with WithReadOnly a database
// that holds no audit trail: the schema or the audit table is missing.
var ErrNotStore = errors.New("not an audit store")

// checkReadOnly checks, creating nothing, that the store's trail and lock
// tables exist with the store's shape, and marks the tables checked, so
// that the store never creates them. The checkpoint table is not needed to
// read, and a store made by an older release may lack it.
func (s *Store) checkReadOnly(ctx context.Context) error {
	c, err := s.readCatalog(ctx, s.pool)
	if err != nil {
		return s.explain("inspect schema "+pgx.Identifier{s.schema}.Sanitize(), needInspect, err)
	}
	m, err := s.check(c)
	if err != nil {
		return err
	}
	const hint = "check the database, the schema and the table prefix (an audit store is created by its application's first run)"
	switch {
	case m.schema:
		return fmt.Errorf("postgres: open %s: %w: the database has no schema %s: %s", s.dsn, ErrNotStore, pgx.Identifier{s.schema}.Sanitize(), hint)
	case m.audit:
		return fmt.Errorf("postgres: open %s: %w: the database has no table %s: %s", s.dsn, ErrNotStore, s.audit.quoted, hint)
	case m.lock:
		return fmt.Errorf("postgres: open %s: table %s is missing beside %s: the store is incomplete; open it once with write access (its application's next run) to create it",
			s.dsn, s.lock.quoted, s.audit.quoted)
	}
	s.tables.mu.Lock()
	s.tables.done = true
	s.tables.mu.Unlock()
	return nil
}

func buildOptions(opts []Option) (options, error) {
	o := options{schema: defaultSchema, prefix: defaultPrefix}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return options{}, fmt.Errorf("postgres: %w", err)
		}
	}
	return o, nil
}

func newStore(pool *pgxpool.Pool, ownsPool bool, dsn string, secrets redact.Secrets, o options) *Store {
	s := &Store{
		pool:     pool,
		ownsPool: ownsPool,
		dsn:      dsn,
		secrets:  secrets,
		conn:     &pool.Config().ConnConfig.Config,
		schema:   o.schema,
		prefix:   o.prefix,
		audit:    newTable(o.schema, o.prefix+auditSuffix),
		version:  newTable(o.schema, o.prefix+versionSuffix),
		lock:     newTable(o.schema, o.prefix+lockSuffix),

		checkpoint: newTable(o.schema, o.prefix+checkpointSuffix),
		readOnly:   o.readOnly,
	}
	s.sql = buildStatements(s.audit.quoted, s.lock.quoted)
	s.checkpointSQL = buildCheckpointStatements(o.schema, o.prefix, s.audit.quoted, s.checkpoint.quoted)
	// No connection is made here: the *sql.DB borrows the pool's
	// connections per operation and keeps none idle.
	s.db = stdlib.OpenDBFromPool(pool)
	return s
}

// Pool returns the pool the store uses, for targets that share the audit
// store's database (see AppendTx).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// String returns the store's DSN without its password.
func (s *Store) String() string { return s.dsn }

// The names of the tables unless WithSchema or WithTablePrefix say
// otherwise.
const (
	defaultSchema = "public"
	defaultPrefix = "flamingock"
)

var _ audit.Locatable = (*Store)(nil)

// Locator names the store for the flamingock CLI: its DSN as a URL without
// the password (String), and the schema and table prefix when they are
// not the defaults.
func (s *Store) Locator() audit.Locator {
	l := audit.Locator{URL: s.dsn}
	if s.schema != defaultSchema {
		l.Schema = s.schema
	}
	if s.prefix != defaultPrefix {
		l.TablePrefix = s.prefix
	}
	return l
}

// Close closes DB, and the pool if Open created it. It is safe to call more
// than once.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.ownsPool {
		s.pool.Close()
	}
	return err
}

// querier is what the pool, a caller's pgx transaction and (through sqlTx)
// a caller's database/sql transaction offer, so each statement is written
// once.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// execArgs prefixes args with pgx's exec mode: the statement goes out as an
// unnamed prepared statement in a single round trip, so nothing depends on
// per-connection server state (PgBouncer transaction pooling) and the first
// execution costs no extra Prepare round trip.
func execArgs(args ...any) []any {
	return append([]any{pgx.QueryExecModeExec}, args...)
}
