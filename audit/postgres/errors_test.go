package postgres_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

const password = "s3cret-pw"

// wantMessage fails t unless err says every one of want and never the
// password.
func wantMessage(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one saying %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error %q contains the password", err)
	}
}

func TestOpenReportsBadDSNsWithoutThePassword(t *testing.T) {
	tests := []struct {
		name, dsn string
		want      []string
	}{
		{"a URL with an invalid port",
			"postgres://u:" + password + "@127.0.0.1:notaport/db",
			[]string{"invalid DSN", "invalid port"}},
		{"a URL with a broken escape in the password",
			"postgres://u:" + password + "%zz@127.0.0.1/db",
			[]string{"invalid DSN"}},
		{"a keyword/value string with an unterminated quote",
			"host=127.0.0.1 password='" + password + "' dbname='db",
			[]string{"invalid DSN", "unterminated quoted string"}},
		{"an unknown sslmode",
			"postgres://u:" + password + "@127.0.0.1/db?sslmode=sometimes",
			[]string{"invalid DSN", "sslmode is invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := postgres.Open(t.Context(), tt.dsn)
			wantMessage(t, err, tt.want...)
		})
	}
}

// firstUses are the first operations a store may see: a read and a write.
// Opening a store sends nothing, so the first one meets any problem.
var firstUses = []struct {
	name string
	use  func(context.Context, *postgres.Store) error
}{
	{"reading first", func(ctx context.Context, s *postgres.Store) error { _, err := s.Snapshot(ctx); return err }},
	{"writing first", func(ctx context.Context, s *postgres.Store) error {
		_, err := s.Acquire(ctx, "k", "runner-a", time.Minute)
		return err
	}},
}

func TestFirstUseReportsAServerThatIsNotRunning(t *testing.T) {
	for _, first := range firstUses {
		t.Run(first.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			// Port 1 on loopback: nothing listens, the kernel refuses at once.
			s, err := postgres.Open(ctx, "postgres://postgres:"+password+"@127.0.0.1:1/test?sslmode=disable&connect_timeout=10")
			if err != nil {
				t.Fatalf("Open, which sends nothing: %v", err)
			}
			defer s.Close()
			err = first.use(ctx, s)
			wantMessage(t, err, "127.0.0.1:1", "connection refused", "is PostgreSQL running")
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("error %v does not match ECONNREFUSED", err)
			}
			if !errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("error %v does not match audit.ErrUnavailable: a refused connection sent nothing", err)
			}
		})
	}
}

func TestFirstUseReportsAnUnknownDatabaseOrUser(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name   string
		modify func(*pgxpool.Config)
		want   []string
	}{
		{"an unknown database", func(c *pgxpool.Config) { c.ConnConfig.Database = "no_such_db_flamingock" },
			[]string{`database "no_such_db_flamingock" does not exist`, `CREATE DATABASE "no_such_db_flamingock"`}},
		{"an unknown user", func(c *pgxpool.Config) { c.ConnConfig.User = "no_such_user_flamingock" },
			[]string{`role "no_such_user_flamingock" does not exist`, "check the user of postgres://no_such_user_flamingock:xxxxx@", "pg_hba.conf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := pgxpool.ParseConfig(srv.dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnConfig.Password = password
			tt.modify(cfg)
			pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			s, err := postgres.New(t.Context(), pool, postgres.WithSchema(srv.schema(t)))
			if err != nil {
				t.Fatalf("New, which sends nothing: %v", err)
			}
			_, err = s.Snapshot(t.Context())
			wantMessage(t, err, tt.want...)
			if errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("error %v matches audit.ErrUnavailable, but the server answered: retrying cannot help", err)
			}
		})
	}
}

// role creates a login role for the test, dropped with its privileges when
// the test ends, and returns a pool connecting as it.
func (s *server) role(t *testing.T) (name string, pool *pgxpool.Pool) {
	t.Helper()
	name = pgtest.Name(t, "flrole")
	s.exec(t, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN")
	t.Cleanup(func() {
		ctx := context.Background()
		q := pgx.Identifier{name}.Sanitize()
		if _, err := s.admin.Exec(ctx, "DROP OWNED BY "+q+"; DROP ROLE "+q, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	cfg, err := pgxpool.ParseConfig(s.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = name
	pool, err = pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return name, pool
}

func TestPermissionDeniedSaysWhichGrant(t *testing.T) {
	srv := newServer(t)
	var database string
	if err := srv.admin.QueryRow(t.Context(), "SELECT current_database()").Scan(&database); err != nil {
		t.Fatal(err)
	}

	t.Run("creating the schema needs CREATE on the database", func(t *testing.T) {
		role, pool := srv.role(t)
		schema := srv.schema(t)
		s, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Snapshot(t.Context())
		wantMessage(t, err, "permission denied",
			"GRANT CREATE ON DATABASE "+pgx.Identifier{database}.Sanitize()+" TO "+pgx.Identifier{role}.Sanitize())
		var exists bool
		if err := srv.admin.QueryRow(t.Context(), "SELECT to_regnamespace($1) IS NOT NULL", pgx.Identifier{schema}.Sanitize()).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists {
			t.Error("the schema was created")
		}
	})

	t.Run("creating the tables needs CREATE on the schema", func(t *testing.T) {
		role, pool := srv.role(t)
		schema := srv.schema(t)
		q := pgx.Identifier{schema}.Sanitize()
		srv.exec(t, "CREATE SCHEMA "+q)
		srv.exec(t, "GRANT USAGE ON SCHEMA "+q+" TO "+pgx.Identifier{role}.Sanitize())
		s, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Acquire(t.Context(), "k", "runner-a", time.Minute)
		wantMessage(t, err, "permission denied", "GRANT CREATE ON SCHEMA "+q+" TO "+pgx.Identifier{role}.Sanitize())
		if srv.exists(t, schema, "flamingock_audit") || srv.exists(t, schema, "flamingock_lock") {
			t.Error("a table was created")
		}
	})

	t.Run("writing needs the documented grants and nothing is written without them", func(t *testing.T) {
		role, pool := srv.role(t)
		owner, schema := srv.open(t)
		auditTable, lockTable := tables(schema, "flamingock")
		r := pgx.Identifier{role}.Sanitize()
		srv.exec(t, "GRANT USAGE ON SCHEMA "+pgx.Identifier{schema}.Sanitize()+" TO "+r)
		srv.exec(t, "GRANT SELECT ON "+auditTable+", "+lockTable+" TO "+r)

		// Existing tables of the right shape need no DDL, so a reader opens.
		s, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
		if err != nil {
			t.Fatalf("New as a reader: %v", err)
		}
		if _, err := s.Snapshot(t.Context()); err != nil {
			t.Errorf("Snapshot as a reader: %v", err)
		}
		_, err = s.Acquire(t.Context(), "k", "runner-a", time.Minute)
		wantMessage(t, err, "permission denied", "GRANT SELECT, INSERT, UPDATE ON "+lockTable+" TO "+r)

		lease, err := owner.Acquire(t.Context(), "k", "runner-a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Append(t.Context(), lease, validEntry("a"))
		wantMessage(t, err, "permission denied", "GRANT SELECT, INSERT ON "+auditTable+" TO "+r,
			"GRANT SELECT, UPDATE ON "+lockTable+" TO "+r)
		if errors.Is(err, audit.ErrFenced) {
			t.Errorf("a permission error matches ErrFenced: %v", err)
		}
		if n := srv.count(t, auditTable); n != 0 {
			t.Errorf("the audit table holds %d rows, want none", n)
		}

		// Exactly the grants the errors name are enough for everything.
		srv.exec(t, "GRANT SELECT, INSERT ON "+auditTable+" TO "+r)
		srv.exec(t, "GRANT SELECT, INSERT, UPDATE ON "+lockTable+" TO "+r)
		if _, err := s.Append(t.Context(), lease, validEntry("a")); err != nil {
			t.Errorf("Append with the grants: %v", err)
		}
		if err := owner.Release(t.Context(), lease); err != nil {
			t.Fatal(err)
		}
		own, err := s.Acquire(t.Context(), "k", "runner-b", time.Minute)
		if err != nil {
			t.Fatalf("Acquire with the grants: %v", err)
		}
		if own, err = s.Refresh(t.Context(), own); err != nil {
			t.Errorf("Refresh with the grants: %v", err)
		}
		if err := s.Release(t.Context(), own); err != nil {
			t.Errorf("Release with the grants: %v", err)
		}
	})
}
