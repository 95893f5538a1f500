package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	sqlitedriver "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flamingock/flamingock-go/audit"
)

// Store is the SQLite audit store. It implements audit.Store and is safe for
// concurrent use.
type Store struct {
	db     *sql.DB
	ownsDB bool
	// name is the database file, as given to Open or as SQLite reports it.
	name   string
	prefix string
	q      queries
}

var _ audit.Store = (*Store)(nil)

var _ audit.Locatable = (*Store)(nil)

// Locator names the store for the flamingock CLI: sqlite:FILE (the file as
// given to Open, or as SQLite reports it to New) and the table prefix
// when it is not the default. An in-memory database cannot be reached
// from another process: its Locator has no URL.
func (s *Store) Locator() audit.Locator {
	var l audit.Locator
	if s.name != "" && s.name != ":memory:" && !strings.HasPrefix(s.name, "file::memory:") {
		l.URL = s.String()
	}
	if s.prefix != defaultPrefix {
		l.TablePrefix = s.prefix
	}
	return l
}

// Option configures Open or New.
type Option interface {
	apply(*config) error
}

type config struct {
	prefix         string
	busyTimeout    time.Duration
	busyTimeoutSet bool
	readOnly       bool
}

type option func(*config) error

func (o option) apply(c *config) error { return o(c) }

// prefixPattern keeps a prefix a plain SQL identifier (it is quoted anyway)
// that leaves room for the suffixes of the table and index names.
var prefixPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,40}$`)

// WithTablePrefix names the tables PREFIX_audit and PREFIX_lock instead of
// flamingock_audit and flamingock_lock, for example to keep the trails of
// two applications in one database. p must match [A-Za-z_][A-Za-z0-9_]{0,40}.
func WithTablePrefix(p string) Option {
	return option(func(c *config) error {
		if !prefixPattern.MatchString(p) {
			return fmt.Errorf("invalid table prefix %q: use 1 to 41 letters, digits or underscores, not starting with a digit", p)
		}
		c.prefix = p
		return nil
	})
}

// WithBusyTimeout sets how long Open's connections wait for another
// connection's write transaction to end before failing (default 5s). It
// applies to Open only: New rejects it, since the caller configures the
// *sql.DB it passes.
func WithBusyTimeout(d time.Duration) Option {
	return option(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("negative busy timeout %s", d)
		}
		c.busyTimeout, c.busyTimeoutSet = d, true
		return nil
	})
}

// WithReadOnly opens an existing store to read it, writing nothing to the
// database or its file: Open opens the file with SQLite's mode=ro and
// leaves its journal mode alone (a read-write Open converts it to WAL),
// creates no file and no table, and fails with an error matching
// ErrNotStore when the database has no audit trail (no PREFIX_audit
// table): an empty file, another application's database, a text file. It
// reads a store in a read-only directory too (see Open). Writes (Append,
// Acquire, …) fail. The flamingock CLI's read commands open stores this way.
func WithReadOnly() Option {
	return option(func(c *config) error {
		c.readOnly = true
		return nil
	})
}

// ErrNotStore matches the error of opening with WithReadOnly a database
// that holds no audit trail.
var ErrNotStore = errors.New("not an audit store")

// defaultPrefix names the tables flamingock_audit and flamingock_lock.
const defaultPrefix = "flamingock"

func newConfig(opts []Option) (config, error) {
	c := config{prefix: defaultPrefix, busyTimeout: 5 * time.Second}
	for _, o := range opts {
		if err := o.apply(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// Open opens the SQLite database file at path, creating the file and the
// store's tables when they are missing. A file that is not a SQLite
// database, cannot be opened, is locked by another process for longer than
// the busy timeout, or holds tables of the store's names with another shape
// is an error naming the file and what to do; nothing is written to it.
//
// With WithReadOnly, Open creates nothing and writes nothing: path must
// exist (an error matching fs.ErrNotExist otherwise) and hold an audit
// trail (ErrNotStore otherwise). A WAL database in a directory the process
// cannot write to, whose -shm file SQLite can therefore not create, is
// opened as immutable, which is safe there: no writer can change a WAL
// database without creating its -wal file beside it. One that still has a
// -wal file it cannot read that way is an error.
//
// Close closes the database.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	switch path {
	case "":
		return nil, errors.New("sqlite: open: empty path: name the database file")
	case ":memory:":
		return nil, errors.New(`sqlite: open ":memory:": in-memory databases are per connection; use New with a *sql.DB limited to one connection`)
	}
	if cfg.readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	s, err := open(ctx, path, cfg, false)
	if cfg.readOnly && primaryCode(err) == sqlite3.SQLITE_CANTOPEN {
		// A WAL database in a read-only directory: see above.
		if _, walErr := os.Stat(path + "-wal"); errors.Is(walErr, fs.ErrNotExist) {
			s, err = open(ctx, path, cfg, true)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.ownsDB = true
	return s, nil
}

// open opens the store at path, immutable or not (see Open).
func open(ctx context.Context, path string, cfg config, immutable bool) (*Store, error) {
	dsn, err := dataSourceName(path, cfg, immutable)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if err := connect(ctx, db, cfg.busyTimeout); err != nil {
		db.Close()
		return nil, notStore(cfg, explain(err))
	}
	s, err := newStore(ctx, db, path, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// notStore reports, for a read-only open, a file that is not a SQLite
// database as ErrNotStore.
func notStore(cfg config, err error) error {
	var se *sqlitedriver.Error
	if cfg.readOnly && errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return fmt.Errorf("%w: the file is not a SQLite database: check the path (%w)", ErrNotStore, se)
	}
	return err
}

// connect makes the first connection to the file, which converts a new file
// to WAL. Two connections converting a file at once make one fail with
// SQLITE_BUSY without waiting (SQLite does not call the busy handler where
// waiting could deadlock), so connect retries that until the busy timeout
// has passed. Once the file is in WAL mode, later connections do not
// convert it.
func connect(ctx context.Context, db *sql.DB, busyTimeout time.Duration) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := db.PingContext(ctx)
		if err == nil || primaryCode(err) != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// uriEscaper escapes what SQLite's URI parsing would otherwise read as
// escapes, the query or the fragment.
var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// dataSourceName is the DSN of services.md for path: concurrent writers
// wait for each other (busy_timeout) instead of failing, readers never block
// the writer (WAL), and transactions take the write lock when they begin
// (_txlock=immediate), so a read-then-write transaction cannot fail midway.
// A read-only store opens the file with mode=ro (and immutable=1 when asked)
// and sets neither the journal mode nor the write lock.
func dataSourceName(path string, cfg config, immutable bool) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	uri := filepath.ToSlash(abs)
	if !strings.HasPrefix(uri, "/") {
		uri = "/" + uri // a Windows drive letter
	}
	if cfg.readOnly {
		dsn := fmt.Sprintf("file:%s?mode=ro&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)",
			uriEscaper.Replace(uri), cfg.busyTimeout.Milliseconds())
		if immutable {
			dsn += "&immutable=1"
		}
		return dsn, nil
	}
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate",
		uriEscaper.Replace(uri), cfg.busyTimeout.Milliseconds()), nil
}

// New returns a store on db, a database opened with the "sqlite" driver of
// modernc.org/sqlite, creating the store's tables as Open does (with
// WithReadOnly, only checking that they exist). Close does not close db: the
// caller owns it.
//
// Configure db as Open does (busy_timeout, journal_mode(WAL),
// _txlock=immediate): without a busy timeout concurrent writers fail with
// SQLITE_BUSY, and without immediate transactions a caller's transaction
// that reads before AppendTx may fail to upgrade to a write, as may the
// upgrade of an older layout (see the package doc) when other processes
// open the store at the same time.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("sqlite: new: %w", err)
	}
	if cfg.busyTimeoutSet {
		return nil, errors.New("sqlite: new: WithBusyTimeout applies to Open only; set busy_timeout on the *sql.DB instead")
	}
	var file string
	if err := db.QueryRowContext(ctx, `SELECT "file" FROM pragma_database_list WHERE "name" = 'main'`).Scan(&file); err != nil {
		return nil, fmt.Errorf("sqlite: new: %w", notStore(cfg, explain(err)))
	}
	if file == "" {
		file = ":memory:"
	}
	s, err := newStore(ctx, db, file, cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: new %s: %w", file, err)
	}
	return s, nil
}

func newStore(ctx context.Context, db *sql.DB, name string, cfg config) (*Store, error) {
	s := &Store{db: db, name: name, prefix: cfg.prefix, q: newQueries(cfg.prefix)}
	check := s.initSchema
	if cfg.readOnly {
		check = s.checkReadOnly
	}
	if err := check(ctx); err != nil {
		return nil, notStore(cfg, err)
	}
	return s, nil
}

// DB returns the database the store writes to, for transactions that
// AppendTx joins.
func (s *Store) DB() *sql.DB { return s.db }

// String returns "sqlite:" followed by the database file, the form the
// runtime and the operator CLI use to name a store.
func (s *Store) String() string { return "sqlite:" + s.name }

// Close closes the database if Open opened it; a store made by New leaves
// the caller's *sql.DB open.
func (s *Store) Close() error {
	if !s.ownsDB {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.name, err)
	}
	return nil
}
