package crashmatrix_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver of the separate target
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/flamingock/flamingock-go/audit"
	auditmongo "github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/internal/mysqltest"
	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// The stores a world can use.
const (
	storeSQLite   = "SQLite"
	storePostgres = "PostgreSQL"
	storeMongo    = "MongoDB"
	storeMySQL    = "MySQL"
)

// stores lists every store, in the order the tests run them.
var stores = []string{storeSQLite, storePostgres, storeMongo, storeMySQL}

const (
	lockKey   = "flamingock" // the runner's default
	stageName = "matrix"
)

// worldSpec locates a world: all a child process needs to open the one its
// parent made.
type worldSpec struct {
	Store string
	// Dir holds the SQLite databases and the effect log of the changes
	// without a transaction.
	Dir string
	// DSN and Schema locate the PostgreSQL store; the targets' tables are
	// in Schema too. For MongoDB, DSN is the URI whose path names the
	// world's database, which holds the target's collections too. For
	// MySQL, DSN is the store URL of Database, the world's own database
	// on the server, and TargetDatabase the second database of the
	// MySQL target with markers.
	DSN            string `json:",omitempty"`
	Schema         string `json:",omitempty"`
	Database       string `json:",omitempty"`
	TargetDatabase string `json:",omitempty"`
}

// world is an audit store and the media where changes take effect, one
// per target and strategy the store offers.
type world struct {
	spec    worldSpec
	store   audit.Store
	media   []medium
	closers []func() error
}

// medium is a target running changes with one strategy, and where they take
// effect, counted independently of the audit trail.
type medium interface {
	// name names the target ("sqltarget", "pgxtarget", "effect file").
	name() string
	strategy() audit.Strategy
	// change declares a change that adds one effect, hits crash.InApply
	// and then fails when fail is set, and a rollback that hits
	// crash.InRollback and then takes the effect back (in the change's
	// transaction, if it has one).
	change(m pipeline.Meta, fail bool) pipeline.Change
	// effects counts the effects of change id that took hold: committed
	// applies minus rollbacks.
	effects(ctx context.Context, id string) (int, error)
}

// markerMedium is a medium whose target proves commits with markers.
type markerMedium interface {
	medium
	hasMarker(ctx context.Context, key audit.Key, execution string) (bool, error)
}

// traits are what a medium's target does that the matrix must know to
// tell what a crash leaves: see sqlMedium.
type traits struct{ implicit, ddl bool }

// traitsOf returns the traits of m; most media have none.
func traitsOf(m medium) traits {
	if t, ok := m.(interface{ traits() traits }); ok {
		return t.traits()
	}
	return traits{}
}

// mediumKey names a medium in a world: its target and strategy.
func mediumKey(m medium) string { return m.name() + " " + string(m.strategy()) }

var errBoom = errors.New("boom")

// afterEffect is what every test change does once its effect is in place.
func afterEffect(ctx context.Context, id string, fail bool) error {
	crash.Hit(ctx, crash.InApply)
	if fail {
		return fmt.Errorf("change %s fails as the test asks: %w", id, errBoom)
	}
	return nil
}

// newWorld makes a fresh world on store for t, removed when t ends.
func newWorld(t *testing.T, store string) *world {
	t.Helper()
	spec := worldSpec{Store: store, Dir: t.TempDir()}
	name := "crashmatrix_" + strings.ToLower(rand.Text()[:12])
	switch store {
	case storePostgres:
		spec.DSN, spec.Schema = testenv.Postgres(t), name
	case storeMongo:
		spec.DSN = withDatabase(testenv.Mongo(t), name)
	case storeMySQL:
		// mysqltest drops the database when the test ends.
		srv := mysqltest.New(t)
		spec.Database = srv.Database(t, "crashmatrix_")
		spec.DSN = srv.URL(spec.Database)
		spec.TargetDatabase = srv.Database(t, "crashmatrix_target_")
	}
	w, err := openWorld(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.drop(context.Background()); err != nil {
			t.Error(err)
		}
		if err := w.close(); err != nil {
			t.Error(err)
		}
	})
	if store == storePostgres {
		// The store creates its tables when it first writes; the effect
		// tables need the schema before that.
		pool := w.store.(*postgres.Store).Pool()
		if _, err := pool.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{spec.Schema}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// withDatabase returns the MongoDB URI uri with database in its path, in
// place of any there.
func withDatabase(uri, database string) string {
	scheme, rest, _ := strings.Cut(uri, "://")
	rest, query, hasQuery := strings.Cut(rest, "?")
	hosts, _, _ := strings.Cut(rest, "/")
	uri = scheme + "://" + hosts + "/" + database
	if hasQuery {
		uri += "?" + query
	}
	return uri
}

// openWorld opens the world of spec: the SQLite store creates its file and
// tables, the MongoDB one its indexes, the PostgreSQL and MySQL ones send
// nothing until they are used. Whether
// each target gets the strategy its medium stands for shows in the audit
// entries, which the tests check.
func openWorld(ctx context.Context, spec worldSpec) (*world, error) {
	w := &world{spec: spec}
	if err := w.open(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open %s world: %w", spec.Store, err), w.close())
	}
	return w, nil
}

func (w *world) open(ctx context.Context) error {
	log := &logMedium{path: filepath.Join(w.spec.Dir, "effects.log")}
	switch w.spec.Store {
	case storeSQLite:
		store, err := sqlite.Open(ctx, filepath.Join(w.spec.Dir, "audit.db"))
		if err != nil {
			return err
		}
		w.store = store
		w.closers = append(w.closers, store.Close)
		db, err := openSQLiteTarget(w.spec.Dir)
		if err != nil {
			return err
		}
		w.closers = append(w.closers, db.Close)
		w.media = []medium{
			&sqlMedium{target: sqltarget.Shared(store), s: audit.StrategySharedTx, db: store.DB(), table: `"effects"`},
			&sqlMedium{target: sqltarget.New(db), s: audit.StrategySeparateTx, db: db, table: `"effects"`},
			log,
		}
		return nil
	case storePostgres:
		store, err := postgres.Open(ctx, w.spec.DSN, postgres.WithSchema(w.spec.Schema))
		if err != nil {
			return err
		}
		w.store = store
		w.closers = append(w.closers, store.Close)
		db, err := sql.Open("pgx", w.spec.DSN)
		if err != nil {
			return err
		}
		w.closers = append(w.closers, db.Close)
		pool, err := pgxpool.New(ctx, w.spec.DSN)
		if err != nil {
			return err
		}
		w.closers = append(w.closers, func() error { pool.Close(); return nil })
		table := func(name string) string { return pgx.Identifier{w.spec.Schema, name}.Sanitize() }
		marker := func(name string) string { return w.spec.Schema + "." + name }
		w.media = []medium{
			&sqlMedium{target: sqltarget.Shared(store),
				s: audit.StrategySharedTx, db: store.DB(), table: table("sql_shared_effects"), dollar: true},
			&sqlMedium{target: sqltarget.New(db, sqltarget.WithPostgreSQL(), sqltarget.WithMarkerTable(marker("sql_marker"))),
				s: audit.StrategySeparateTx, db: db, table: table("sql_separate_effects"), dollar: true},
			&pgxMedium{target: pgxtarget.Shared(store),
				s: audit.StrategySharedTx, pool: store.Pool(), table: table("pgx_shared_effects")},
			&pgxMedium{target: pgxtarget.New(pool, pgxtarget.WithMarkerTable(marker("pgx_marker"))),
				s: audit.StrategySeparateTx, pool: pool, table: table("pgx_separate_effects")},
			&pgxMedium{target: pgxtarget.New(pool),
				s: audit.StrategyNonTx, pool: pool, table: table("pgx_autocommit_effects")},
			log,
		}
		return nil
	case storeMongo:
		store, err := auditmongo.Open(ctx, w.spec.DSN)
		if err != nil {
			return err
		}
		w.store = store
		w.closers = append(w.closers, store.Close)
		db := store.Database()
		// Declared transactional=false, the changes run without a
		// transaction on every server, with or without transactions.
		w.media = []medium{
			&mongoMedium{target: mongotarget.New(db, mongotarget.WithLogger(slog.New(slog.DiscardHandler))),
				coll: db.Collection("effects")},
			log,
		}
		return nil
	case storeMySQL:
		store, err := mysql.Open(ctx, w.spec.DSN)
		if err != nil {
			return err
		}
		w.store = store
		w.closers = append(w.closers, store.Close)
		// The MySQL target: sharing the store's transactions, in its
		// database; with markers, in a second database of the case; and
		// changes declared transactional=false, whose statements commit
		// one by one. The first two run a change of DML alone and, as
		// another medium, a change that runs DDL, which MySQL commits
		// implicitly part-way.
		srv, err := mysqltest.Parse(w.spec.DSN)
		if err != nil {
			return err
		}
		db, err := sql.Open("mysql", srv.Config(w.spec.TargetDatabase).FormatDSN())
		if err != nil {
			return err
		}
		w.closers = append(w.closers, db.Close)
		table := func(name string) string { return "`" + name + "`" }
		w.media = []medium{
			&sqlMedium{target: sqltarget.Shared(store), s: audit.StrategySharedTx, db: store.DB(),
				table: table("shared_effects"), implicit: true},
			&sqlMedium{target: sqltarget.New(db, sqltarget.WithMySQL()), s: audit.StrategySeparateTx, db: db,
				table: table("separate_effects"), implicit: true},
			&sqlMedium{target: sqltarget.Shared(store), s: audit.StrategyNonTx, db: store.DB(),
				table: table("autocommit_effects")},
			&sqlMedium{target: sqltarget.Shared(store), s: audit.StrategySharedTx, db: store.DB(),
				table: table("ddl_shared_effects"), implicit: true, ddl: true},
			&sqlMedium{target: sqltarget.New(db, sqltarget.WithMySQL()), s: audit.StrategySeparateTx, db: db,
				table: table("ddl_separate_effects"), implicit: true, ddl: true},
			log,
		}
		return nil
	}
	return fmt.Errorf("unknown store %q", w.spec.Store)
}

// openSQLiteTarget opens the SQLite target database of a world in dir.
func openSQLiteTarget(dir string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(dir, "target.db"))+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
}

// prepare creates the effect table of m, if it has one.
func prepare(t *testing.T, m medium) {
	t.Helper()
	if c, ok := m.(interface{ create(context.Context) error }); ok {
		if err := c.create(t.Context()); err != nil {
			t.Fatalf("%s: %v", mediumKey(m), err)
		}
	}
}

// medium returns the medium of key.
func (w *world) medium(key string) (medium, error) {
	for _, m := range w.media {
		if mediumKey(m) == key {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no medium %q in the %s world", key, w.spec.Store)
}

// drop removes what the world put in a server; files go with the test's
// temporary directory.
func (w *world) drop(ctx context.Context) error {
	switch w.spec.Store {
	case storeMongo:
		db := w.store.(*auditmongo.Store).Database()
		if err := db.Drop(ctx); err != nil {
			return fmt.Errorf("drop database %s: %w", db.Name(), err)
		}
		return nil
	case storeSQLite, storeMySQL: // MySQL: mysqltest drops the database
		return nil
	}
	pool := w.store.(*postgres.Store).Pool()
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{w.spec.Schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", w.spec.Schema, err)
	}
	return nil
}

func (w *world) close() error {
	var errs []error
	for i := len(w.closers) - 1; i >= 0; i-- {
		errs = append(errs, w.closers[i]())
	}
	return errors.Join(errs...)
}

// meta declares change id of the test pipelines.
func meta(id string, order uint64, s audit.Strategy, rec audit.Recovery) pipeline.Meta {
	return pipeline.Meta{
		ID: id, Order: audit.OrderOf(order), Author: "crashmatrix", Target: "target", Recovery: rec,
		WithoutTransaction: s == audit.StrategyNonTx, Checksum: "sum-" + id, Source: id + ".go:1",
	}
}

// stages is the pipeline of one stage with changes ids, in order, all on
// medium m with recovery rec; the change failing fails, and asks for its
// rollback to compensate.
func stages(m medium, rec audit.Recovery, ids []string, failing string) []pipeline.Stage {
	st := pipeline.Stage{Name: stageName}
	for i, id := range ids {
		md := meta(id, uint64(i+1), m.strategy(), rec)
		md.Compensate = id == failing
		st.Changes = append(st.Changes, m.change(md, id == failing))
	}
	return []pipeline.Stage{st}
}

func (w *world) history(ctx context.Context, id string) ([]audit.Entry, error) {
	return w.store.History(ctx, audit.Filter{Stage: stageName, ChangeID: id})
}

// effectsTable is the DDL of the effect tables: one row per apply (+1) or
// rollback (-1).
const effectsTable = " (change_id TEXT NOT NULL, delta INTEGER NOT NULL)"

// sqlMedium is a database/sql target and its effect table.
type sqlMedium struct {
	target *sqltarget.Target
	s      audit.Strategy
	db     *sql.DB
	table  string // quoted
	dollar bool
	// implicit: the target's database may commit a change's transaction
	// by itself (MySQL): a shared transaction writes STARTED first in it,
	// a separate one a begun marker (see package sqltarget).
	implicit bool
	// ddl: each apply and undo runs DDL after its effect, which MySQL
	// commits implicitly, with the transaction so far; the crash points
	// inside it (crash.InApply, crash.InRollback) come after the DDL.
	ddl bool
}

func (m *sqlMedium) name() string {
	if m.ddl {
		return "sqltarget (a change with DDL)"
	}
	return "sqltarget"
}
func (m *sqlMedium) strategy() audit.Strategy { return m.s }
func (m *sqlMedium) traits() traits           { return traits{implicit: m.implicit, ddl: m.ddl} }

func (m *sqlMedium) ph() string {
	if m.dollar {
		return "$1"
	}
	return "?"
}

func (m *sqlMedium) create(ctx context.Context) error {
	_, err := m.db.ExecContext(ctx, "CREATE TABLE "+m.table+effectsTable)
	return err
}

func (m *sqlMedium) change(meta pipeline.Meta, fail bool) pipeline.Change {
	insert := func(delta string) string {
		return "INSERT INTO " + m.table + " (change_id, delta) VALUES (" + m.ph() + ", " + delta + ")"
	}
	// ddl runs DDL (a table of its own for every execution, so that it
	// always runs: MySQL commits the open transaction before it and after
	// it), then an insert that counts nothing, so that the change does
	// more after the implicit commit.
	ddl := func(ctx context.Context, tx *sql.Tx) error {
		if !m.ddl {
			return nil
		}
		_, err := tx.ExecContext(ctx, "CREATE TABLE `ddl_"+strings.ToLower(rand.Text()[:12])+"` (n INT) ENGINE=InnoDB")
		return err
	}
	more := func(ctx context.Context, tx *sql.Tx) error {
		if !m.ddl {
			return nil
		}
		_, err := tx.ExecContext(ctx, insert("0"), meta.ID)
		return err
	}
	return pipeline.NewChange(meta, pipeline.Target[*sql.Tx](m.target),
		func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, insert("1"), meta.ID); err != nil {
				return err
			}
			if err := ddl(ctx, tx); err != nil {
				return err
			}
			if err := afterEffect(ctx, meta.ID, fail); err != nil {
				return err
			}
			return more(ctx, tx)
		},
		func(ctx context.Context, tx *sql.Tx) error {
			if !m.ddl {
				crash.Hit(ctx, crash.InRollback)
			}
			if _, err := tx.ExecContext(ctx, insert("-1"), meta.ID); err != nil {
				return err
			}
			if !m.ddl {
				return nil
			}
			if err := ddl(ctx, tx); err != nil {
				return err
			}
			crash.Hit(ctx, crash.InRollback)
			return more(ctx, tx)
		})
}

func (m *sqlMedium) effects(ctx context.Context, id string) (int, error) {
	var n int
	err := m.db.QueryRowContext(ctx, "SELECT COALESCE(SUM(delta), 0) FROM "+m.table+" WHERE change_id = "+m.ph(), id).Scan(&n)
	return n, err
}

func (m *sqlMedium) hasMarker(ctx context.Context, key audit.Key, execution string) (bool, error) {
	return m.target.HasMarker(ctx, pipeline.Marker{Key: key, ExecutionID: execution})
}

// pgxMedium is a pgx target and its effect table. Without a transaction,
// its changes' statements commit one by one.
type pgxMedium struct {
	target *pgxtarget.Target
	s      audit.Strategy
	pool   *pgxpool.Pool
	table  string // quoted
}

func (m *pgxMedium) name() string             { return "pgxtarget" }
func (m *pgxMedium) strategy() audit.Strategy { return m.s }

func (m *pgxMedium) create(ctx context.Context) error {
	_, err := m.pool.Exec(ctx, "CREATE TABLE "+m.table+effectsTable)
	return err
}

func (m *pgxMedium) change(meta pipeline.Meta, fail bool) pipeline.Change {
	insert := "INSERT INTO " + m.table + " (change_id, delta) VALUES ($1, $2)"
	return pipeline.NewChange(meta, pipeline.Target[pgx.Tx](m.target),
		func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, insert, meta.ID, 1); err != nil {
				return err
			}
			return afterEffect(ctx, meta.ID, fail)
		},
		func(ctx context.Context, tx pgx.Tx) error {
			crash.Hit(ctx, crash.InRollback)
			_, err := tx.Exec(ctx, insert, meta.ID, -1)
			return err
		})
}

func (m *pgxMedium) effects(ctx context.Context, id string) (int, error) {
	var n int
	err := m.pool.QueryRow(ctx, "SELECT COALESCE(SUM(delta), 0) FROM "+m.table+" WHERE change_id = $1", id).Scan(&n)
	return n, err
}

func (m *pgxMedium) hasMarker(ctx context.Context, key audit.Key, execution string) (bool, error) {
	return m.target.HasMarker(ctx, pipeline.Marker{Key: key, ExecutionID: execution})
}

// mongoMedium is a MongoDB target running changes without a transaction,
// and its effect collection: one document per apply (+1) or rollback (-1),
// with no unique index that would refuse a second apply.
type mongoMedium struct {
	target *mongotarget.Target
	coll   *mongo.Collection
}

func (m *mongoMedium) name() string             { return "mongotarget" }
func (m *mongoMedium) strategy() audit.Strategy { return audit.StrategyNonTx }

func (m *mongoMedium) change(meta pipeline.Meta, fail bool) pipeline.Change {
	insert := func(ctx context.Context, db *mongo.Database, delta int) error {
		_, err := db.Collection(m.coll.Name()).InsertOne(ctx, bson.D{{Key: "change_id", Value: meta.ID}, {Key: "delta", Value: delta}})
		return err
	}
	return pipeline.NewChange(meta, pipeline.Target[*mongo.Database](m.target),
		func(ctx context.Context, db *mongo.Database) error {
			if err := insert(ctx, db, 1); err != nil {
				return err
			}
			return afterEffect(ctx, meta.ID, fail)
		},
		func(ctx context.Context, db *mongo.Database) error {
			crash.Hit(ctx, crash.InRollback)
			return insert(ctx, db, -1)
		})
}

func (m *mongoMedium) effects(ctx context.Context, id string) (int, error) {
	cur, err := m.coll.Find(ctx, bson.D{{Key: "change_id", Value: id}})
	if err != nil {
		return 0, err
	}
	var docs []struct {
		Delta int `bson:"delta"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, err
	}
	n := 0
	for _, d := range docs {
		n += d.Delta
	}
	return n, nil
}

// logMedium takes effect outside any transaction: one line per apply or
// rollback, appended to a file, which survives the writer's SIGKILL once
// the write returned.
type logMedium struct{ path string }

func (m *logMedium) name() string             { return "effect file" }
func (m *logMedium) strategy() audit.Strategy { return audit.StrategyNonTx }

// effectLog is the handle of changes without a transaction.
type effectLog struct{ path string }

func (l effectLog) add(what, id string) error {
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %s\n", what, id)
	return errors.Join(err, f.Close())
}

func (m *logMedium) change(meta pipeline.Meta, fail bool) pipeline.Change {
	return pipeline.NewChange(meta, pipeline.NonTransactional(effectLog{m.path}),
		func(ctx context.Context, l effectLog) error {
			if err := l.add("apply", meta.ID); err != nil {
				return err
			}
			return afterEffect(ctx, meta.ID, fail)
		},
		func(ctx context.Context, l effectLog) error {
			crash.Hit(ctx, crash.InRollback)
			return l.add("undo", meta.ID)
		})
}

func (m *logMedium) effects(_ context.Context, id string) (int, error) {
	f, err := os.Open(m.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		switch sc.Text() {
		case "apply " + id:
			n++
		case "undo " + id:
			n--
		}
	}
	return n, nil
}

// tables returns the quoted names of an SQL store's audit and lock tables
// (the default prefix), for tests that write behind the store's back.
func (w *world) tables() (auditTable, lockTable string) {
	switch w.spec.Store {
	case storePostgres:
		return pgx.Identifier{w.spec.Schema, "flamingock_audit"}.Sanitize(), pgx.Identifier{w.spec.Schema, "flamingock_lock"}.Sanitize()
	case storeMySQL:
		return "`flamingock_audit`", "`flamingock_lock`"
	}
	return `"flamingock_audit"`, `"flamingock_lock"`
}

// nowPlus is an SQL expression for the store's clock plus d, in the type
// of the lock table's expires_at.
func (w *world) nowPlus(d time.Duration) string {
	switch w.spec.Store {
	case storePostgres:
		return fmt.Sprintf("clock_timestamp() + interval '%d milliseconds'", d.Milliseconds())
	case storeMySQL:
		return fmt.Sprintf("UTC_TIMESTAMP(6) + INTERVAL %d MICROSECOND", d.Microseconds())
	}
	return fmt.Sprintf("CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) + %d", d.Milliseconds())
}

// exec runs query on the database of an SQL store behind its back.
func (w *world) exec(t *testing.T, query string) {
	t.Helper()
	var err error
	switch s := w.store.(type) {
	case *postgres.Store:
		_, err = s.Pool().Exec(t.Context(), query)
	case *sqlite.Store:
		_, err = s.DB().ExecContext(t.Context(), query)
	case *mysql.Store:
		_, err = s.DB().ExecContext(t.Context(), query)
	default:
		err = fmt.Errorf("no SQL access to %T", s)
	}
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// auditCollection is the MongoDB store's collection (the default prefix).
func (w *world) auditCollection() *mongo.Collection {
	return w.store.(*auditmongo.Store).Database().Collection("flamingock_audit")
}

// setEntry changes the fields of entry seq behind the store's back: set is
// the SET clause of an SQL store, fields the same values for MongoDB.
func (w *world) setEntry(t *testing.T, seq int64, set string, fields bson.D) {
	t.Helper()
	if w.spec.Store != storeMongo {
		auditTable, _ := w.tables()
		w.exec(t, fmt.Sprintf("UPDATE %s SET %s WHERE seq = %d", auditTable, set, seq))
		return
	}
	res, err := w.auditCollection().UpdateOne(t.Context(), bson.D{{Key: "_id", Value: seq}},
		bson.D{{Key: "$set", Value: fields}})
	if err == nil && res.MatchedCount != 1 {
		err = fmt.Errorf("%d documents matched", res.MatchedCount)
	}
	if err != nil {
		t.Fatalf("set %v in document seq %d: %v", fields, seq, err)
	}
}

// trailRows counts the rows of the store's audit table, or the documents
// of its collection, read behind its back: History refuses a trail with a
// corrupt record.
func (w *world) trailRows(t *testing.T) int {
	t.Helper()
	auditTable, _ := w.tables()
	var (
		n   int
		err error
	)
	switch s := w.store.(type) {
	case *postgres.Store:
		err = s.Pool().QueryRow(t.Context(), "SELECT count(*) FROM "+auditTable).Scan(&n)
	case *sqlite.Store:
		err = s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM "+auditTable).Scan(&n)
	case *mysql.Store:
		err = s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM "+auditTable).Scan(&n)
	case *auditmongo.Store:
		var c int64
		c, err = w.auditCollection().CountDocuments(t.Context(), bson.D{})
		n = int(c)
	default:
		err = fmt.Errorf("no raw access to %T", s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}
