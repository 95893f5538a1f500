package main

// The MySQL/MariaDB side of the benchmark (issue 15): chosen by a DSN of
// scheme mysql:// (the store URL of audit/mysql and the flamingock CLI).
// flamingock runs on the MySQL audit store (mysql.Open) with the target
// sqltarget.Shared(store); goose runs on the same driver
// (github.com/go-sql-driver/mysql) with its mysql dialect. golang-migrate
// is not measured on MySQL.

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// isMySQL tells whether dsn names a MySQL or MariaDB server.
func isMySQL(dsn string) bool { return strings.HasPrefix(strings.ToLower(dsn), "mysql://") }

// mysqlServer is a server's MySQL part: an administrative handle without
// a database, and the server process, whose threads' CPU time is read.
type mysqlServer struct {
	admin *sql.DB
	// mysqld is the server's process id, 0 when its threads cannot be
	// read (another machine, or a server without PROCESSLIST.TID).
	mysqld int
}

// parseMySQL reads a store URL, mysql://user[:pass]@host[:port]/db[?params],
// into a driver configuration of that database; the port defaults to 3306.
// The URL's parameters are dropped: each tool gets the settings of its own
// below.
func parseMySQL(dsn string) (*driver.Config, error) {
	u, err := url.Parse(dsn)
	if err != nil || !strings.EqualFold(u.Scheme, "mysql") || u.Hostname() == "" {
		return nil, fmt.Errorf("%s: want mysql://user[:pass]@host:port/db", redact(dsn))
	}
	cfg := driver.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(u.Hostname(), cmp.Or(u.Port(), "3306"))
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	return cfg, nil
}

func connectMySQL(ctx context.Context, dsn string) (*server, error) {
	cfg, err := parseMySQL(dsn)
	if err != nil {
		return nil, err
	}
	cfg.DBName = ""
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	admin := sql.OpenDB(conn)
	s := newServer(dsn)
	s.my = &mysqlServer{admin: admin}
	var version string
	if err := admin.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect to %s: %w", redact(dsn), err)
	}
	s.version = "MySQL " + version
	if strings.Contains(version, "MariaDB") {
		s.version = "MariaDB " + version
	}
	// The server's process: the thread group of the thread serving this
	// connection (MariaDB's PROCESSLIST.TID; MySQL 8 has none).
	var tid int
	if err := admin.QueryRowContext(ctx, "SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()").Scan(&tid); err == nil {
		s.my.mysqld = threadGroup(tid)
	}
	return s, nil
}

// threadGroup is the process that thread tid belongs to, 0 when unknown.
func threadGroup(tid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return pid
		}
	}
	return 0
}

func quoteMySQL(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// create creates database name, a copy of database template when it is not
// "": MySQL has no CREATE DATABASE … TEMPLATE, so each table is created
// LIKE the template's (columns, keys, checks) and filled from it, seq and
// ids included.
func (m *mysqlServer) create(ctx context.Context, name, template string) error {
	if _, err := m.admin.ExecContext(ctx, "CREATE DATABASE "+quoteMySQL(name)); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	if template == "" {
		return nil
	}
	rows, err := m.admin.QueryContext(ctx,
		"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", template)
	if err != nil {
		return fmt.Errorf("list the tables of %s: %w", template, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		to, from := quoteMySQL(name)+"."+quoteMySQL(t), quoteMySQL(template)+"."+quoteMySQL(t)
		for _, stmt := range []string{"CREATE TABLE " + to + " LIKE " + from, "INSERT INTO " + to + " SELECT * FROM " + from} {
			if _, err := m.admin.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("copy %s into %s: %s: %w", template, name, stmt, err)
			}
		}
	}
	return nil
}

func (m *mysqlServer) drop(ctx context.Context, name string) error {
	if _, err := m.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteMySQL(name)); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// usage fills u with the CPU time of the server's threads serving
// connections to database name, and of every thread of the server as a
// baseline: MariaDB keeps a cache of threads, so a connection opened later
// may run on a thread that has run before, and only what it ran since this
// snapshot is its own.
func (m *mysqlServer) usage(ctx context.Context, name string, u *snapshot) error {
	if m.mysqld == 0 {
		u.known = false
		return nil
	}
	u.threads = map[int]time.Duration{}
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(m.mysqld) + "/task")
	if err != nil {
		u.known = false
		return nil
	}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if d, ok := onCPU(tid); ok {
			u.threads[tid] = d
		}
	}
	rows, err := m.admin.QueryContext(ctx, "SELECT TID FROM information_schema.PROCESSLIST WHERE DB = ?", name)
	if err != nil {
		return fmt.Errorf("list the connections to %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var tid int
		if err := rows.Scan(&tid); err != nil {
			return err
		}
		d, ok := onCPU(tid)
		u.backends[tid] = d
		u.known = u.known && ok
	}
	return rows.Err()
}

// mysqlConfig is the driver configuration a tool other than flamingock
// connects with to the database of e: the settings audit/mysql's Open
// forces on its own handle that change what crosses the wire
// (interpolateParams: one round trip per statement with arguments instead
// of a prepare, an execute and a close; parseTime, as goose's
// documentation asks), so that the tools differ by what they send, not by
// driver settings.
func mysqlConfig(e endpoint) (*driver.Config, error) {
	cfg, err := parseMySQL(e.dsn)
	if err != nil {
		return nil, err
	}
	cfg.ParseTime, cfg.InterpolateParams = true, true
	if e.counter != nil {
		c := e.counter
		cfg.DialFunc = func(ctx context.Context, _, addr string) (net.Conn, error) { return c.dial(ctx, "tcp", addr) }
	}
	return cfg, nil
}

func openMySQLDB(_ context.Context, e endpoint) (*handles, error) {
	cfg, err := mysqlConfig(e)
	if err != nil {
		return nil, err
	}
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return &handles{db: sql.OpenDB(conn)}, nil
}

// dialers counts the networks registered with the driver: mysql.Open takes
// a DSN, not a dial function, so a counted run names a network of its own
// whose dialer is its counter.
var dialers atomic.Int64

// openMySQLStore opens flamingock's MySQL audit store with mysql.Open, as
// an application does, from the store URL (or, for a counted run, the
// equivalent go-sql-driver DSN on a network dialled through the counter).
// Open sends nothing: the first operation connects.
func openMySQLStore(ctx context.Context, e endpoint) (*handles, error) {
	dsn := e.dsn
	if e.counter != nil {
		cfg, err := parseMySQL(e.dsn)
		if err != nil {
			return nil, err
		}
		c := e.counter
		cfg.Net = fmt.Sprintf("fbench%d", dialers.Add(1))
		driver.RegisterDialContext(cfg.Net, func(ctx context.Context, addr string) (net.Conn, error) { return c.dial(ctx, "tcp", addr) })
		dsn = cfg.FormatDSN()
	}
	store, err := mysql.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return &handles{store: store}, nil
}

// flamingockMySQLUp builds the stage as flamingock-gen's Stage function
// does on sqltarget.Shared(store) and runs the pipeline. An INSERT change
// is transactional: it commits with its STARTED and APPLIED entries in one
// transaction. A CREATE TABLE change is declared transactional=false, as
// flamingock-gen declares every MySQL SQL file with DDL: STARTED, the
// statement (which commits by itself), APPLIED.
func flamingockMySQLUp(ctx context.Context, h *handles, s *changeSet) (int, func(), error) {
	if h.store == nil {
		return 0, nil, errors.New("flamingock on MySQL needs the store of openMySQLStore")
	}
	target := pipeline.Target[*sql.Tx](sqltarget.Shared(h.store))
	transactional := s.kind != createTable
	build := func() []pipeline.Change {
		changes := make([]pipeline.Change, s.len())
		for i, stmt := range s.statements {
			changes[i] = pipeline.NewChange(pipeline.Meta{
				ID: s.ids[i], Order: audit.OrderOf(uint64(i + 1)), Author: "bench", Target: "appdb",
				Recovery: audit.RecoveryManual, Checksum: s.checksums[i], Source: s.sources[i],
				WithoutTransaction: !transactional,
			}, target, func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, stmt)
				return err
			}, nil)
		}
		return changes
	}
	r, err := pipeline.New(h.store, []pipeline.Stage{{Name: "bench", Generated: &pipeline.Generated{
		Digest: s.digest, Len: s.len(), Changes: build,
		Targets: []pipeline.TargetUse{pipeline.Uses("appdb", target, transactional)},
	}}})
	if err != nil {
		return 0, nil, err
	}
	res, err := r.Run(ctx)
	if err != nil {
		return 0, nil, err
	}
	if got := res.Len(); got != s.len() {
		return 0, nil, fmt.Errorf("flamingock: %d changes applied or skipped, want %d", got, s.len())
	}
	return len(res.Applied()), func() {}, nil
}

// gooseMySQLUp runs goose's Provider.Up over the SQL files of s with its
// mysql dialect and defaults (no lock; each file in a transaction, which
// MySQL commits implicitly at a CREATE TABLE).
func gooseMySQLUp(ctx context.Context, h *handles, s *changeSet) (int, func(), error) {
	p, err := goose.NewProvider(goose.DialectMySQL, h.db, s.gooseFS)
	if err != nil {
		return 0, nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return 0, nil, err
	}
	return len(res), func() {}, nil
}

// floorMySQLUp is the least any tool can do: each statement in its own
// transaction (START TRANSACTION, statement, COMMIT) on one connection.
func floorMySQLUp(ctx context.Context, h *handles, s *changeSet) (int, func(), error) {
	conn, err := h.db.Conn(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	for _, stmt := range s.statements {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return 0, nil, err
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			tx.Rollback()
			return 0, nil, err
		}
		if err := tx.Commit(); err != nil {
			return 0, nil, err
		}
	}
	return s.len(), func() {}, nil
}

// mysqlDB opens a handle on database name of the server of dsn, as the
// benchmark's own checks use it.
func mysqlDB(dsn string) (*sql.DB, error) {
	cfg, err := mysqlConfig(endpoint{dsn: dsn})
	if err != nil {
		return nil, err
	}
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// withMySQLDatabase returns the store URL dsn naming database name instead.
func withMySQLDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}
