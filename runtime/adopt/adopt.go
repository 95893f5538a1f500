package adopt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Dialect names the database the old tool migrated. It is given, never
// guessed: the old table's types, its quoting and the old tool's lock
// differ between them. Its values are those of the audit stores' Dialect
// methods, so adopt.Dialect(store.Dialect()) names the store's database.
type Dialect string

// The dialects the importers read.
const (
	PostgreSQL Dialect = "postgres"
	SQLite     Dialect = "sqlite"
)

// ErrNoTable is matched by the error of an import whose old table does not
// exist: the database was never migrated by that tool, or the tool used
// another table (WithTable).
var ErrNoTable = errors.New("the old tool's table does not exist")

// ErrMismatch is matched by the error of an import refused because the old
// tool's history and the pipeline disagree: a version that is no change of
// the stage, a change the old tool skipped below its last version, or an
// entry of the trail that contradicts the old history. Nothing is recorded.
var ErrMismatch = errors.New("the old tool's history disagrees with the pipeline")

// DefaultLockWait is how long an import waits for the old tool's lock by
// default, as long as goose's session locker waits for it.
const DefaultLockWait = 5 * time.Minute

// Option configures an importer. An invalid option is reported by Import,
// before the database is read.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	table    string // as the user named it; "" is the tool's default
	stage    string // "" is the pipeline's only stage
	lockIDs  []int64
	lockWait time.Duration
}

// WithTable names the old tool's table when it is not the default
// (goose_db_version for goose, schema_migrations for golang-migrate): the
// name given to goose.SetTableName or goose.WithTableName, or
// golang-migrate's x-migrations-table. On PostgreSQL it may be qualified
// by a schema, "schema.table", as goose accepts it and as golang-migrate
// accepts `"schema"."table"` with x-migrations-table-quoted. Names are
// letters, digits and underscores. goose writes them unquoted, so on
// PostgreSQL they name the table in lower case; golang-migrate quotes them,
// so they name the table exactly as written.
func WithTable(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" {
			return errors.New("WithTable: empty table name")
		}
		c.table = name
		return nil
	})
}

// WithStage names the stage of the pipeline the old history belongs to.
// Without it, the pipeline must have one stage.
func WithStage(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" {
			return errors.New("WithStage: empty stage name")
		}
		c.stage = name
		return nil
	})
}

// WithLockID sets the PostgreSQL advisory lock the old tool takes, when it
// was configured with another than its default: the id given to goose's
// lock.WithLockID, or, for golang-migrate, the id its driver derived from
// a DatabaseName set in its Config (pg_locks shows it while it migrates).
// See the package documentation for the defaults.
func WithLockID(id int64) Option {
	return optionFunc(func(c *config) error {
		c.lockIDs = []int64{id}
		return nil
	})
}

// WithLockWait sets how long an import on PostgreSQL waits for the old
// tool's lock, held by an old release migrating, before it fails (default
// DefaultLockWait). The context's deadline, when sooner, wins.
func WithLockWait(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithLockWait: %v is not positive", d)
		}
		c.lockWait = d
		return nil
	})
}

// Goose returns the importer of goose's history (goose_db_version) in db,
// a database of dialect d, for pipeline.WithImport.
func Goose(db *sql.DB, d Dialect, opts ...Option) pipeline.Importer {
	return &importer{tool: gooseTool, db: db, dialect: d, opts: opts}
}

// Migrate returns the importer of golang-migrate's history
// (schema_migrations) in db, a database of dialect d, for
// pipeline.WithImport.
func Migrate(db *sql.DB, d Dialect, opts ...Option) pipeline.Importer {
	return &importer{tool: migrateTool, db: db, dialect: d, opts: opts}
}

// A tool is what differs between the old tools.
type tool struct {
	name         string // as the marks and messages name it
	defaultTable string
	// foldsCase is set when the tool writes its table's name unquoted, so
	// that PostgreSQL folds it to lower case.
	foldsCase bool
	shapes    map[Dialect]shape
	// lockIDs returns the advisory locks the tool takes on PostgreSQL for
	// table t, by default.
	lockIDs func(ctx context.Context, conn *sql.Conn, t table) ([]int64, error)
	// marks reads the history from the table and matches it to the
	// stage's changes.
	marks func(ctx context.Context, conn *sql.Conn, t table, s stage) ([]pipeline.Mark, error)
}

type importer struct {
	tool    tool
	db      *sql.DB
	dialect Dialect
	opts    []Option
}

// Import implements pipeline.Importer.
func (im *importer) Import(ctx context.Context, req pipeline.ImportRequest) (err error) {
	cfg, t, err := im.config()
	if err != nil {
		return fmt.Errorf("%s import: %w", im.tool.name, err)
	}
	s, err := selectStage(req.Changes, cfg.stage)
	if err != nil {
		return fmt.Errorf("%s import of %s: %w", im.tool.name, t.name, err)
	}
	if req.Record == nil {
		return fmt.Errorf("%s import of %s: the request has no Record function", im.tool.name, t.name)
	}
	conn, err := im.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s import of %s: %w", im.tool.name, t.name, err)
	}
	defer conn.Close()
	if im.dialect == PostgreSQL {
		ids := cfg.lockIDs
		if ids == nil {
			if ids, err = im.tool.lockIDs(ctx, conn, t); err != nil {
				return fmt.Errorf("%s import of %s: deriving %s's lock: %w", im.tool.name, t.name, im.tool.name, err)
			}
		}
		release, err := lockAdvisory(ctx, conn, ids, cfg.lockWait)
		if err != nil {
			return fmt.Errorf("%s import of %s: %s's advisory lock: %w", im.tool.name, t.name, im.tool.name, err)
		}
		defer func() {
			if rerr := release(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("%s import of %s: releasing %s's advisory lock: %w", im.tool.name, t.name, im.tool.name, rerr))
			}
		}()
	}
	// Read under the old tool's lock, so that the history is the one an
	// old release that was migrating left when it finished.
	if err := t.checkShape(ctx, conn, im.tool); err != nil {
		return err
	}
	marks, err := im.tool.marks(ctx, conn, t, s)
	if err != nil {
		return err
	}
	if len(marks) == 0 {
		return nil
	}
	if err := req.Record(ctx, marks); err != nil {
		return fmt.Errorf("%s import of %s: recording %d imported changes: %w", im.tool.name, t.name, len(marks), err)
	}
	return nil
}

// config checks the importer's inputs, before any I/O.
func (im *importer) config() (config, table, error) {
	cfg := config{lockWait: DefaultLockWait}
	if im.db == nil {
		return cfg, table{}, errors.New("nil *sql.DB")
	}
	if im.dialect != PostgreSQL && im.dialect != SQLite {
		return cfg, table{}, fmt.Errorf("dialect %q: use adopt.PostgreSQL or adopt.SQLite", string(im.dialect))
	}
	var errs []error
	for _, o := range im.opts {
		if o == nil {
			errs = append(errs, errors.New("nil option"))
			continue
		}
		if err := o.apply(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, table{}, err
	}
	name := cfg.table
	if name == "" {
		name = im.tool.defaultTable
	}
	t, err := parseTable(name, im.dialect, im.tool.foldsCase)
	return cfg, t, err
}
