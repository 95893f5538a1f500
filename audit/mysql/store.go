package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/redact"
)

// Store is the MySQL/MariaDB audit store. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	ownsDB bool
	// url names the store without its password (mysql://user:xxxxx@host:port/db),
	// or is empty for a handle whose DSN the store cannot know (New).
	url string
	// name is what String says when url is empty.
	name string
	// addr is host:port (or the socket), for connection errors.
	addr    string
	user    string
	secrets redact.Secrets

	prefix                           string
	audit, version, lock, checkpoint table

	sql      statements
	readOnly bool
	// checkMode: a caller's handle (New), whose session sql_mode the
	// first write checks.
	checkMode bool

	tables tableCheck
}

var (
	_ audit.Store        = (*Store)(nil)
	_ audit.Checkpointer = (*Store)(nil)
	_ audit.Locatable    = (*Store)(nil)
)

// table is one of the store's tables: its name as stored in
// information_schema and quoted for SQL.
type table struct {
	name   string
	quoted string
}

func newTable(name string) table { return table{name: name, quoted: "`" + name + "`"} }

// Option configures Open or New.
type Option interface {
	apply(*options) error
}

type options struct {
	prefix   string
	readOnly bool
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

// defaultPrefix names the tables flamingock_audit, flamingock_version,
// flamingock_lock and flamingock_checkpoint.
const defaultPrefix = "flamingock"

// prefixPattern keeps a prefix a plain identifier (it is quoted anyway)
// short enough that the longest table name, PREFIX_checkpoint, stays under
// MySQL's 64 characters.
var prefixPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,40}$`)

// WithTablePrefix names the store's tables PREFIX_audit, PREFIX_version,
// PREFIX_lock and PREFIX_checkpoint (default "flamingock"), for example to
// keep the trails of two applications in one database. p must match
// [A-Za-z_][A-Za-z0-9_]{0,40}. Whether names differing only in case are
// different tables is the server's lower_case_table_names: keep prefixes
// in lower case to be portable.
func WithTablePrefix(p string) Option {
	return optionFunc(func(o *options) error {
		if !prefixPattern.MatchString(p) {
			return fmt.Errorf("invalid table prefix %q: use 1 to 41 letters, digits or underscores, not starting with a digit", p)
		}
		o.prefix = p
		return nil
	})
}

// WithReadOnly opens an existing store to read it: Open and New check at
// once that its tables exist, with the store's shape and a layout this
// release knows, creating nothing (an error matching ErrNotStore when the
// database holds no audit trail), and every write (Append, Acquire,
// Refresh, Release, ForceRelease, SaveCheckpoint) is refused without
// reaching the server. The flamingock CLI's read commands open stores this
// way.
func WithReadOnly() Option {
	return optionFunc(func(o *options) error {
		o.readOnly = true
		return nil
	})
}

// ErrNotStore matches the error of opening with WithReadOnly a database
// that holds no audit trail.
var ErrNotStore = errors.New("not an audit store")

// ErrReadOnly matches the error of a write to a store opened WithReadOnly.
var ErrReadOnly = errors.New("store opened read-only")

func buildOptions(opts []Option) (options, error) {
	o := options{prefix: defaultPrefix}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return options{}, fmt.Errorf("mysql: %w", err)
		}
	}
	return o, nil
}

// sessionSQLMode is the sql_mode of the store's sessions (Open sets it in
// the DSN, whatever the server's default): strict, so that a value that does
// not fit its column is an error rather than a truncated entry, no zero
// dates, and none of the modes that change how the store's SQL parses
// (ANSI_QUOTES, PIPES_AS_CONCAT, NO_BACKSLASH_ESCAPES, on which the
// driver's client-side interpolation of arguments relies).
const sessionSQLMode = "STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,ONLY_FULL_GROUP_BY"

// Open returns a store on the MySQL or MariaDB database dsn names, with a
// *sql.DB of its own, which Close closes. dsn is either a go-sql-driver DSN,
// user:pass@tcp(host:3306)/db?param=value, or the store URL
// mysql://user:pass@host:3306/db?param=value (the form of audit/storeurl
// and the flamingock CLI; the port defaults to 3306). The database must be
// named.
//
// Open sets, whatever dsn says: parseTime and loc=UTC, the session's
// time_zone to '+00:00' and its sql_mode to the store's (strict), client-side
// interpolation of arguments (one round trip per statement; safe under
// that sql_mode and the utf8mb4 character set the driver uses) and
// maxAllowedPacket=0, so that the driver learns the server's
// max_allowed_packet and refuses an oversized statement before sending it.
//
// Open reports a malformed DSN but sends nothing to the server: the first
// operation connects, and checks or creates the tables (see the package
// documentation). With WithReadOnly, Open connects and checks the tables
// at once, creating nothing.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("mysql: open: empty DSN: name the server, as user:pass@tcp(host:3306)/db or mysql://user:pass@host:3306/db (is the environment variable holding it set?)")
	}
	name, secrets := redactDSN(dsn)
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, secrets.Error(fmt.Errorf("mysql: invalid DSN %s: %w", name, err))
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("mysql: invalid DSN %s: no database: name it, as …/db", name)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.InterpolateParams = true
	cfg.MaxAllowedPacket = 0
	cfg.MultiStatements = false
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	for k := range cfg.Params {
		switch strings.ToLower(k) {
		case "time_zone", "sql_mode":
			delete(cfg.Params, k)
		}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = "'" + sessionSQLMode + "'"
	connector, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, secrets.Error(fmt.Errorf("mysql: invalid DSN %s: %w", name, err))
	}
	db := sql.OpenDB(connector)
	s := newStore(db, true, o)
	s.url, s.addr, s.user, s.secrets = storeURL(cfg, rawParams(dsn)), cfg.Addr, cfg.User, secrets
	if s.url == "" {
		s.name = "mysql database " + cfg.DBName + " through the unix socket " + cfg.Addr
	}
	if o.readOnly {
		if err := s.checkReadOnly(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// New uses db, a *sql.DB of the go-sql-driver/mysql driver, which stays the
// caller's: Close does not close it. The store sends every time as UTC
// text, computes every expiry with UTC_TIMESTAMP(6) and reads times whether
// or not db parses them, so the handle's loc, parseTime and time_zone do
// not matter; its sql_mode does, and the store's first write refuses a
// handle whose session is not strict (STRICT_TRANS_TABLES or
// STRICT_ALL_TABLES), where MySQL would truncate what does not fit instead
// of refusing it. Without interpolateParams=true in db's DSN each statement
// costs two round trips (prepare and execute). New sends nothing to the
// server, and ctx is not used, unless WithReadOnly makes it check the
// tables as Open does.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("mysql: nil *sql.DB")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	s := newStore(db, false, o)
	s.checkMode = true
	if o.readOnly {
		if err := s.checkReadOnly(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func newStore(db *sql.DB, owns bool, o options) *Store {
	s := &Store{
		db:         db,
		ownsDB:     owns,
		prefix:     o.prefix,
		readOnly:   o.readOnly,
		audit:      newTable(o.prefix + "_audit"),
		version:    newTable(o.prefix + "_version"),
		lock:       newTable(o.prefix + "_lock"),
		checkpoint: newTable(o.prefix + "_checkpoint"),
	}
	s.sql = buildStatements(s.audit.quoted, s.lock.quoted, s.checkpoint.quoted)
	return s
}

// redactDSN returns dsn without its secrets, for messages, and the
// secrets, to scrub errors with. internal/redact reads the store URL; a
// go-sql-driver DSN, user:pass@net(addr)/db?params, is read the driver's
// way: the database follows the last '/', the user information ends at the
// last '@' before it, and the password is what follows the user's ':' (any
// characters, '@' and '/' included).
func redactDSN(dsn string) (string, redact.Secrets) {
	if strings.HasPrefix(strings.ToLower(dsn), "mysql://") {
		return redact.DSN(dsn), redact.SecretsOf(dsn)
	}
	params := ""
	if slash := strings.LastIndex(dsn, "/"); slash >= 0 {
		_, params, _ = strings.Cut(dsn[slash:], "?")
	}
	masked, password := dsn, ""
	if slash := strings.LastIndex(dsn, "/"); slash >= 0 {
		if at := strings.LastIndex(dsn[:slash], "@"); at >= 0 {
			if colon := strings.IndexByte(dsn[:at], ':'); colon >= 0 {
				password = dsn[colon+1 : at]
				masked = dsn[:colon+1] + redact.Mask + dsn[at:]
			}
		}
	}
	secrets := redact.SecretsOf("mysql://u:" + password + "@h/?" + params)
	if password == "" {
		secrets = redact.SecretsOf("mysql://h/?" + params)
	}
	return redact.DSN(masked), secrets
}

// parseDSN reads a go-sql-driver DSN or a mysql:// URL.
func parseDSN(dsn string) (*driver.Config, error) {
	if !strings.HasPrefix(strings.ToLower(dsn), "mysql://") {
		cfg, err := driver.ParseDSN(dsn)
		if err != nil {
			return nil, errors.New(strings.TrimPrefix(err.Error(), "invalid DSN: "))
		}
		return cfg, nil
	}
	if redact.Ambiguous(dsn) {
		return nil, errors.New("an '@' in it does not end the user information: percent-encode '@' and '/' in the password (as %40 and %2F)")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, errors.New("not a URL: write mysql://user:pass@host:3306/db")
	}
	cfg := driver.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, errors.New("no host: write mysql://user:pass@host:3306/db")
	}
	if port == "" {
		port = "3306"
	}
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, port)
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(cfg.DBName, "/") {
		return nil, fmt.Errorf("database %q holds a '/': the path is one database name", cfg.DBName)
	}
	if u.RawQuery != "" {
		// The query takes the go-sql-driver DSN's parameters (tls=true,
		// timeout=5s, …): parse them the driver's way.
		q, err := driver.ParseDSN("/?" + u.RawQuery)
		if err != nil {
			return nil, errors.New(strings.TrimPrefix(err.Error(), "invalid DSN: "))
		}
		q.User, q.Passwd, q.Net, q.Addr, q.DBName = cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName
		cfg = q
	}
	return cfg, nil
}

// storeURL renders cfg as the store URL without the password, with the
// DSN's parameters (redacted) as they were given.
func storeURL(cfg *driver.Config, params string) string {
	if cfg.Net != "tcp" && cfg.Net != "tcp6" {
		return "" // a unix socket is no URL host
	}
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName}
	switch {
	case cfg.Passwd != "":
		u.User = url.UserPassword(cfg.User, redact.Mask)
	case cfg.User != "":
		u.User = url.User(cfg.User)
	}
	if params != "" {
		return u.String() + "?" + redact.DSN("mysql://h/d?" + params)[len("mysql://h/d?"):]
	}
	return u.String()
}

// rawParams returns the parameters of a DSN or store URL: what follows
// the '?' after the database name.
func rawParams(dsn string) string {
	rest := dsn
	if after, ok := strings.CutPrefix(strings.ToLower(dsn), "mysql://"); ok {
		rest = dsn[len(dsn)-len(after):]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
	} else if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	slash := strings.Index(rest, "/")
	if slash < 0 {
		return ""
	}
	_, params, _ := strings.Cut(rest[slash:], "?")
	return params
}

// String names the store, never with its password.
func (s *Store) String() string {
	name := s.url
	switch {
	case name == "" && s.name != "":
		name = s.name
	case name == "":
		name = "mysql (a *sql.DB given to New)"
	}
	if s.prefix != defaultPrefix {
		name += " (tables " + s.prefix + "_*)"
	}
	return name
}

// Locator names the store for the flamingock CLI: its URL without the
// password, and the table prefix when it is not the default. A store made
// by New cannot know its URL.
func (s *Store) Locator() audit.Locator {
	l := audit.Locator{URL: s.url}
	if s.prefix != defaultPrefix {
		l.TablePrefix = s.prefix
	}
	return l
}

// DB returns the store's database handle.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect is "mysql", for runtime/sqltarget's Shared, which then runs
// changes as MySQL requires (see its package documentation).
func (s *Store) Dialect() string { return "mysql" }

// Close closes the database handle Open made; a handle given to New stays
// open.
func (s *Store) Close() error {
	if !s.ownsDB {
		return nil
	}
	return s.db.Close()
}

// tableCheck records whether the store has checked (and created) its
// tables: once, lazily, before its first write or after a read that found
// them missing.
type tableCheck struct {
	mu   sync.Mutex
	done bool
}

// writable refuses a write to a read-only store.
func (s *Store) writable(op string) error {
	if s.readOnly {
		return fmt.Errorf("mysql: %s in %s: %w: nothing was written", op, s, ErrReadOnly)
	}
	return nil
}
