// Package mysqltest gives tests databases of their own on the MySQL or
// MariaDB server that FLAMINGOCK_TEST_MYSQL names as a store URL
// (mysql://user[:pass]@host:port/db), as package pgtest does for
// PostgreSQL.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	driver "github.com/go-sql-driver/mysql"

	"github.com/flamingock/flamingock-go/internal/testenv"
)

// Server is the tests' MySQL server.
type Server struct {
	// User and Host are the store URL's user information (user or
	// user:pass) and host:port.
	User, Host string
}

// New returns the server of FLAMINGOCK_TEST_MYSQL, or skips t (fails it
// when services are required) when none is configured.
func New(t testing.TB) *Server {
	t.Helper()
	url := testenv.MySQL(t)
	s, err := Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Parse reads the server of a store URL.
func Parse(url string) (*Server, error) {
	rest, ok := strings.CutPrefix(url, "mysql://")
	if !ok {
		return nil, fmt.Errorf("%s=%q: want mysql://user@host:port/db", testenv.MySQLEnv, url)
	}
	userHost, _, _ := strings.Cut(rest, "/")
	user, host, ok := strings.Cut(userHost, "@")
	if !ok {
		user, host = "", userHost
	}
	return &Server{User: user, Host: host}, nil
}

// Config returns the go-sql-driver configuration of database db on the
// server ("" for none).
func (s *Server) Config(db string) *driver.Config {
	cfg := driver.NewConfig()
	cfg.User, cfg.Passwd, _ = strings.Cut(s.User, ":")
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", s.Host, db
	return cfg
}

// URL returns the store URL of database db on the server.
func (s *Server) URL(db string) string {
	if s.User == "" {
		return "mysql://" + s.Host + "/" + db
	}
	return "mysql://" + s.User + "@" + s.Host + "/" + db
}

// Open opens database db on the server ("" for none), closed when t ends.
func (s *Server) Open(t testing.TB, db string) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", s.Config(db).FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Create creates a database named prefix followed by a random suffix and
// returns its name; drop drops it, and reports an error.
func (s *Server) Create(ctx context.Context, prefix string) (name string, drop func(context.Context) error, err error) {
	name = prefix + strings.ToLower(rand.Text()[:12])
	admin, err := sql.Open("mysql", s.Config("").FormatDSN())
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func(ctx context.Context) error {
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return name, drop, nil
}

// Database creates a database of t's own (see Create), dropped when t
// ends, and returns its name.
func (s *Server) Database(t testing.TB, prefix string) string {
	t.Helper()
	name, drop, err := s.Create(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return name
}
