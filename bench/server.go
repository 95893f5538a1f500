package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// server creates and drops the benchmark's databases on one PostgreSQL
// server, through an administrative connection to the database of the DSN.
type server struct {
	dsn     string
	admin   *pgx.Conn       // PostgreSQL
	my      *mysqlServer    // MySQL and MariaDB (a DSN of scheme mysql://)
	prefix  string          // fbench_<random>_, so concurrent runs never collide
	created map[string]bool // databases to drop at the end
	version string
}

func newServer(dsn string) *server {
	return &server{
		dsn:     dsn,
		prefix:  "fbench_" + strings.ToLower(rand.Text()[:6]) + "_",
		created: map[string]bool{},
	}
}

// connectServer connects to the server of dsn: MySQL or MariaDB for a DSN
// of scheme mysql://, PostgreSQL otherwise.
func connectServer(ctx context.Context, dsn string) (*server, error) {
	if isMySQL(dsn) {
		return connectMySQL(ctx, dsn)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(dsn), err)
	}
	s := newServer(dsn)
	s.admin = admin
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&s.version); err != nil {
		admin.Close(ctx)
		return nil, fmt.Errorf("read server version: %w", err)
	}
	s.version = "PostgreSQL " + s.version
	return s, nil
}

// create creates database name (prefixed) as a copy of template, or an
// empty one when template is "", and returns its DSN.
func (s *server) create(ctx context.Context, name, template string) (database, error) {
	db := database{name: s.prefix + name}
	if s.my != nil {
		// Recorded first: a copy that fails half-way is dropped all the same.
		s.created[db.name] = true
		if err := s.my.create(ctx, db.name, template); err != nil {
			return database{}, err
		}
		db.dsn = withMySQLDatabase(s.dsn, db.name)
		return db, nil
	}
	sql := "CREATE DATABASE " + pgx.Identifier{db.name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return database{}, fmt.Errorf("create database %s: %w", db.name, err)
	}
	s.created[db.name] = true
	db.dsn = withDatabase(s.dsn, db.name)
	return db, nil
}

// drop drops db, disconnecting anything still connected to it. It
// reconnects first when the server closed the administrative connection
// (a restart), so that what was created is dropped all the same.
func (s *server) drop(ctx context.Context, db database) error {
	if s.my != nil {
		if err := s.my.drop(ctx, db.name); err != nil {
			return err
		}
		delete(s.created, db.name)
		return nil
	}
	if s.admin.IsClosed() {
		admin, err := pgx.Connect(ctx, s.dsn)
		if err != nil {
			return fmt.Errorf("drop database %s: reconnect to %s: %w", db.name, redact(s.dsn), err)
		}
		s.admin = admin
	}
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", db.name, err)
	}
	delete(s.created, db.name)
	return nil
}

// close drops every database still there, even when ctx was cancelled (an
// interrupted run must not leave its databases behind), then disconnects.
func (s *server) close(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for name := range s.created {
		errs = append(errs, s.drop(ctx, database{name: name}))
	}
	if s.my != nil {
		errs = append(errs, s.my.admin.Close())
	} else {
		errs = append(errs, s.admin.Close(ctx))
	}
	return errors.Join(errs...)
}

// database is one database of the benchmark.
type database struct {
	name string
	dsn  string
}

// withDatabase returns dsn pointing at database name instead. A URL keeps
// its parameters; a keyword/value string gets a dbname that overrides its
// own (the last setting of a keyword wins).
func withDatabase(dsn, name string) string {
	return withSetting(dsn, "dbname", name)
}

// withSetting sets one connection setting of dsn (a runtime parameter such
// as synchronous_commit, or dbname).
func withSetting(dsn, key, value string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if key == "dbname" {
			u.Path = "/" + value
			return u.String()
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value) + "'"
}

// redact drops the password of a URL DSN, for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return "the server of -dsn"
}
