// Package pgtest gives tests of PostgreSQL code what they need from the
// server of FLAMINGOCK_TEST_POSTGRES (see internal/testenv): a schema or a
// database of their own, login roles, small pools, and pools that count the
// statements and round trips they send. Everything a test creates is
// dropped when it ends.
//
// The test server allows few connections (100 by default, shared by every
// package testing at once), so pools here are small and closed with the
// test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/internal/testenv"
)

// Server is the test server: its DSN and an administrator's pool for
// setting up and inspecting databases behind the code under test.
type Server struct {
	DSN   string
	Admin *pgxpool.Pool
}

// New returns the test server, or skips t (fails it, when services are
// required) when none is configured.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{DSN: testenv.Postgres(t)}
	s.Admin = s.Pool(t, MaxConns(2))
	return s
}

// Option changes where a DSN or pool of the server connects.
type Option func(*target)

type target struct {
	database, user, searchPath string
	maxConns                   int32
}

// Database connects to the database name instead of the DSN's.
func Database(name string) Option { return func(c *target) { c.database = name } }

// User connects as the role name instead of the DSN's user.
func User(name string) Option { return func(c *target) { c.user = name } }

// SearchPath sets the search_path of the connections to schema.
func SearchPath(schema string) Option { return func(c *target) { c.searchPath = schema } }

// MaxConns sets the size of a pool (default 4).
func MaxConns(n int32) Option { return func(c *target) { c.maxConns = n } }

func options(opts []Option) target {
	c := target{maxConns: 4}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// ConnString returns the server's DSN changed by opts.
func (s *Server) ConnString(t testing.TB, opts ...Option) string {
	t.Helper()
	c := options(opts)
	if u, err := url.Parse(s.DSN); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if c.database != "" {
			u.Path = "/" + c.database
		}
		if c.user != "" {
			u.User = url.User(c.user)
		}
		if c.searchPath != "" {
			q := u.Query()
			q.Set("search_path", pgx.Identifier{c.searchPath}.Sanitize())
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	// A keyword/value DSN: later settings override earlier ones.
	dsn := s.DSN
	quote := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace
	if c.database != "" {
		dsn += " dbname='" + quote(c.database) + "'"
	}
	if c.user != "" {
		dsn += " user='" + quote(c.user) + "'"
	}
	if c.searchPath != "" {
		dsn += " search_path='" + quote(pgx.Identifier{c.searchPath}.Sanitize()) + "'"
	}
	return dsn
}

// Pool returns a pool on the server changed by opts, closed when the test
// ends.
func (s *Server) Pool(t testing.TB, opts ...Option) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(s.ConnString(t, opts...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = options(opts).maxConns
	return NewPool(t, cfg)
}

// NewPool returns a pool of cfg, closed when the test ends.
func NewPool(t testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Name returns a fresh identifier starting with prefix and ending with the
// test's name, so that a leftover says which test left it.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	slug := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			return r
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, t.Name())
	if len(slug) > 30 {
		slug = slug[len(slug)-30:]
	}
	return prefix + "_" + hex.EncodeToString(b[:]) + "_" + slug
}

// Exec runs sql as the administrator, failing t on error.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := s.Admin.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Schema returns the name of a schema that does not exist yet and is
// dropped, with whatever the test put in it, when the test ends.
func (s *Server) Schema(t testing.TB) string {
	t.Helper()
	name := Name(t, "fl")
	t.Cleanup(func() {
		if _, err := s.Admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// Database creates a database for the test and returns its name. It is
// dropped, its connections closed, when the test ends.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	name := Name(t, "fldb")
	s.Exec(t, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		if _, err := s.Admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// Role creates a login role for the test and returns its name. It is
// dropped, with its privileges in the server's database, when the test
// ends; register its cleanup before any database the role gets privileges
// in, so that the database goes first.
func (s *Server) Role(t testing.TB) string {
	t.Helper()
	name := Name(t, "flrole")
	q := pgx.Identifier{name}.Sanitize()
	s.Exec(t, "CREATE ROLE "+q+" LOGIN")
	t.Cleanup(func() {
		if _, err := s.Admin.Exec(context.Background(), "DROP OWNED BY "+q+"; DROP ROLE "+q, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	return name
}
