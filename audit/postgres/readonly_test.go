package postgres_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit/postgres"
)

// relations lists what schema holds, and whether it exists.
func (s *server) relations(t *testing.T, schema string) (exists bool, names []string) {
	t.Helper()
	err := s.admin.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
		coalesce((SELECT array_agg(relname::text ORDER BY relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1), '{}')`,
		schema).Scan(&exists, &names)
	if err != nil {
		t.Fatal(err)
	}
	return exists, names
}

func TestOpenRefusesAnEmptyDSN(t *testing.T) {
	for _, dsn := range []string{"", "  "} {
		s, err := postgres.Open(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded: it would connect with libpq's defaults", dsn)
		}
		if !strings.Contains(err.Error(), "empty DSN") {
			t.Errorf("Open(%q) = %v, want it to say the DSN is empty", dsn, err)
		}
	}
}

func TestReadOnlyOpenCreatesNothing(t *testing.T) {
	srv := newServer(t)
	t.Run("in a schema that does not exist", func(t *testing.T) {
		schema := srv.schema(t)
		s, err := postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema), postgres.WithReadOnly())
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded")
		}
		if !errors.Is(err, postgres.ErrNotStore) || !strings.Contains(err.Error(), `the database has no schema "`+schema+`"`) {
			t.Errorf("Open: %v, want ErrNotStore saying the schema is missing", err)
		}
		if exists, _ := srv.relations(t, schema); exists {
			t.Errorf("Open created schema %s", schema)
		}
	})
	t.Run("in a schema without the tables", func(t *testing.T) {
		schema := srv.schema(t)
		srv.exec(t, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
		srv.exec(t, "CREATE TABLE "+pgx.Identifier{schema, "customers"}.Sanitize()+" (id int)")
		_, err := postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema), postgres.WithReadOnly())
		if !errors.Is(err, postgres.ErrNotStore) || !strings.Contains(err.Error(), "the database has no table "+pgx.Identifier{schema, "flamingock_audit"}.Sanitize()) {
			t.Errorf("Open: %v, want ErrNotStore saying the audit table is missing", err)
		}
		if _, names := srv.relations(t, schema); len(names) != 1 {
			t.Errorf("schema %s holds %v after Open, want only customers", schema, names)
		}
	})
	t.Run("on a caller's pool", func(t *testing.T) {
		schema := srv.schema(t)
		pool, err := pgxpool.New(t.Context(), srv.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema), postgres.WithReadOnly()); !errors.Is(err, postgres.ErrNotStore) {
			t.Errorf("New: %v, want ErrNotStore", err)
		}
		if exists, _ := srv.relations(t, schema); exists {
			t.Errorf("New created schema %s", schema)
		}
	})
}

func TestReadOnlyOpenReadsAStore(t *testing.T) {
	srv := newServer(t)
	w, schema := srv.open(t)
	lease, err := w.Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(t.Context(), lease, validEntry("c1")); err != nil {
		t.Fatal(err)
	}
	// A store of an older release, without the checkpoint table, reads too.
	srv.exec(t, "DROP TABLE "+pgx.Identifier{schema, "flamingock_checkpoint"}.Sanitize())
	_, before := srv.relations(t, schema)

	r, err := postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema), postgres.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if latest, err := r.Snapshot(t.Context()); err != nil || len(latest) != 1 {
		t.Errorf("Snapshot = %v, %v; want c1", latest, err)
	}
	if info, err := r.Lock(t.Context(), "k"); err != nil || info.Owner != "runner-a" {
		t.Errorf("Lock = %+v, %v; want runner-a's", info, err)
	}
	if _, after := srv.relations(t, schema); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("reading changed schema %s: %v, then %v", schema, before, after)
	}

	t.Run("without its lock table, it is incomplete", func(t *testing.T) {
		srv.exec(t, "DROP TABLE "+pgx.Identifier{schema, "flamingock_lock"}.Sanitize())
		_, err := postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema), postgres.WithReadOnly())
		if err == nil || errors.Is(err, postgres.ErrNotStore) || !strings.Contains(err.Error(), "is missing beside") {
			t.Errorf("Open: %v, want an incomplete store, not ErrNotStore", err)
		}
	})
}
