package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

// server is the test database: its DSN and a pool for setting up and
// inspecting it behind the store's back.
type server struct {
	dsn   string
	admin *pgxpool.Pool
}

// newServer skips t without a configured PostgreSQL (see testenv).
func newServer(t *testing.T) *server {
	t.Helper()
	dsn := testenv.Postgres(t)
	admin, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatalf("admin pool: %v", err)
	}
	t.Cleanup(admin.Close)
	return &server{dsn: dsn, admin: admin}
}

// schema returns the name of a schema that does not exist yet and is
// dropped, with whatever the test put in it, when the test ends.
func (s *server) schema(t *testing.T) string {
	t.Helper()
	return s.schemaNamed(t, pgtest.Name(t, "fl"))
}

// schemaNamed is schema with a name of the caller's choosing.
func (s *server) schemaNamed(t *testing.T, name string) string {
	t.Helper()
	t.Cleanup(func() {
		// t.Context is done during cleanup.
		if _, err := s.admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// open opens a store on a fresh schema, closed when the test ends, and
// has it create its tables (a store does on its first use).
func (s *server) open(t *testing.T, opts ...postgres.Option) (*postgres.Store, string) {
	t.Helper()
	schema := s.schema(t)
	st, err := postgres.Open(t.Context(), s.dsn, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Snapshot(t.Context()); err != nil {
		t.Fatalf("first use: %v", err)
	}
	return st, schema
}

// exec runs SQL as the admin.
func (s *server) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := s.admin.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// tables returns the quoted names of the store's tables in schema.
func tables(schema, prefix string) (auditTable, lockTable string) {
	return pgx.Identifier{schema, prefix + "_audit"}.Sanitize(), pgx.Identifier{schema, prefix + "_lock"}.Sanitize()
}

// count returns the number of rows of table.
func (s *server) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := s.admin.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// exists reports whether schema.name is a relation.
func (s *server) exists(t *testing.T, schema, name string) bool {
	t.Helper()
	var ok bool
	err := s.admin.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, name}.Sanitize()).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
