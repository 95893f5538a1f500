package postgres_test

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
)

func TestFirstUseConcurrently(t *testing.T) {
	srv := newServer(t)
	schema := srv.schema(t)
	// Half the stores have pools of their own, like separate processes;
	// the others share two pools, like replicas of one process. Half of
	// them read first, the others write first: both create the tables.
	shared := make([]*pgxpool.Pool, 2)
	for i := range shared {
		p, err := pgxpool.New(t.Context(), srv.dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		shared[i] = p
	}
	const n = 16
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				stores[i], errs[i] = postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema))
			} else {
				stores[i], errs[i] = postgres.New(t.Context(), shared[i/2%2], postgres.WithSchema(schema))
			}
			if errs[i] != nil {
				return
			}
			if i%4 < 2 {
				_, errs[i] = stores[i].Snapshot(t.Context())
			} else {
				// A lease nobody holds: refused, after the tables are there.
				errs[i] = stores[i].Release(t.Context(), audit.Lease{Key: "k", Owner: "nobody", Epoch: 1})
				if errors.Is(errs[i], audit.ErrFenced) {
					errs[i] = nil
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if stores[i] != nil {
			t.Cleanup(func() { stores[i].Close() })
		}
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	var tables []string
	rows, err := srv.admin.Query(t.Context(), "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"flamingock_audit", "flamingock_checkpoint", "flamingock_lock", "flamingock_version"}; strings.Join(tables, ",") != strings.Join(want, ",") {
		t.Errorf("schema holds tables %v, want %v", tables, want)
	}
	l, err := stores[0].Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stores[1].Append(t.Context(), l, validEntry("a")); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if got, err := s.Snapshot(t.Context()); err != nil || len(got) != 1 {
			t.Errorf("store %d: Snapshot = %d entries, %v; want the one appended", i, len(got), err)
		}
	}
}

func TestFirstUseCreatesWhatIsMissingOnly(t *testing.T) {
	srv := newServer(t)
	s, schema := srv.open(t)
	auditTable, lockTable := tables(schema, "flamingock")
	l, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), l, validEntry("a")); err != nil {
		t.Fatal(err)
	}
	// A table with an extra column is still the store's: a later release
	// may add columns that this one ignores.
	srv.exec(t, "ALTER TABLE "+auditTable+" ADD COLUMN note text")
	srv.exec(t, "DROP TABLE "+lockTable)
	// A user that may create tables but does not own the audit table: the
	// store must not touch the table it finds (COMMENT ON needs its owner).
	role, pool := srv.role(t)
	r := pgx.Identifier{role}.Sanitize()
	srv.exec(t, "GRANT USAGE, CREATE ON SCHEMA "+pgx.Identifier{schema}.Sanitize()+" TO "+r)
	srv.exec(t, "GRANT SELECT, INSERT ON "+auditTable+" TO "+r)

	again, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("reopen with the lock table missing: %v", err)
	}
	if info, err := again.Lock(t.Context(), "k"); err != nil || info.Epoch != 0 {
		t.Fatalf("Lock with the lock table missing = %+v, %v; want a key never acquired", info, err)
	}
	if !srv.exists(t, schema, "flamingock_lock") {
		t.Fatal("the missing lock table was not created")
	}
	if got, err := again.Snapshot(t.Context()); err != nil || len(got) != 1 {
		t.Errorf("after reopening, Snapshot = %d entries, %v; want the entry appended before", len(got), err)
	}
	if _, err := again.Acquire(t.Context(), "k", "runner-b", time.Minute); err != nil {
		t.Errorf("Acquire on the recreated lock table: %v", err)
	}
}

func TestATableDroppedAfterFirstUseIsReportedNotCreatedAgain(t *testing.T) {
	srv := newServer(t)
	s, schema := srv.open(t)
	auditTable, _ := tables(schema, "flamingock")
	l, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), l, validEntry("a")); err != nil {
		t.Fatal(err)
	}
	srv.exec(t, "DROP TABLE "+auditTable)

	_, err = s.Snapshot(t.Context())
	for _, want := range []string{"table " + auditTable + " no longer exists", "was it dropped?", "every change applied again"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Snapshot after the drop: got %v, want an error saying %q", err, want)
		}
	}
	if srv.exists(t, schema, "flamingock_audit") {
		t.Error("the store created the dropped audit table again")
	}
}

func TestTablesOfAnotherShapeAreRefused(t *testing.T) {
	tests := []struct {
		name string
		// setup runs against the schema; with open set, after the store
		// created its tables there.
		open    bool
		setup   string
		problem string
		// lockAbsent: the lock table was missing and must not have been
		// created beside the wrong table.
		lockAbsent bool
		// readFails: the shape breaks the snapshot too, which then says
		// why; other differences leave reads working until the first write.
		readFails bool
	}{
		{name: "a column of another type", open: true,
			setup:   "ALTER TABLE {audit} ALTER COLUMN state TYPE varchar(20)",
			problem: "column state is character varying(20), want text"},
		{name: "a missing column", open: true,
			setup:     "ALTER TABLE {audit} DROP COLUMN reason",
			problem:   "column reason is missing",
			readFails: true},
		{name: "a nullable column", open: true,
			setup:   "ALTER TABLE {audit} ALTER COLUMN host DROP NOT NULL",
			problem: "column host allows NULL"},
		{name: "a seq the store would have to supply", open: true,
			setup:   "ALTER TABLE {audit} ALTER COLUMN seq DROP IDENTITY",
			problem: "column seq has no default or identity"},
		{name: "a lock key that is not unique", open: true,
			setup:   "ALTER TABLE {lock} DROP CONSTRAINT flamingock_lock_pkey",
			problem: "column key is not a primary key or unique"},
		{name: "a time stored without a zone", open: true,
			setup:   "ALTER TABLE {lock} ALTER COLUMN expires_at TYPE timestamp",
			problem: "column expires_at is timestamp without time zone, want timestamp with time zone"},
		{name: "another program's table",
			setup:      "CREATE TABLE {audit} (id serial PRIMARY KEY, name text)",
			problem:    "column seq is missing; column schema_version is missing",
			lockAbsent: true, readFails: true},
		{name: "a view",
			setup:      "CREATE VIEW {audit} AS SELECT 1 AS seq",
			problem:    `it is not a table (pg_class.relkind "v")`,
			lockAbsent: true, readFails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			schema := srv.schema(t)
			auditTable, lockTable := tables(schema, "flamingock")
			if tt.open {
				s, err := postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Snapshot(t.Context()); err != nil {
					t.Fatal(err)
				}
				s.Close()
			} else {
				srv.exec(t, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
			}
			srv.exec(t, strings.NewReplacer("{audit}", auditTable, "{lock}", lockTable).Replace(tt.setup))
			wantRefusal := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s accepted the table", op)
				}
				for _, want := range []string{"exists but is not a flamingock table", tt.problem, "WithTablePrefix"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: error %q does not say %q", op, err, want)
					}
				}
			}
			open := func() *postgres.Store {
				t.Helper()
				s, err := postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema))
				if err != nil {
					t.Fatalf("Open, which sends nothing: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}

			_, err := open().Acquire(t.Context(), "k", "runner-a", time.Minute)
			wantRefusal("the first write", err)
			if srv.exists(t, schema, "flamingock_lock") {
				if n := srv.count(t, lockTable); n != 0 {
					t.Errorf("the refused write left %d lock rows", n)
				}
			} else if !tt.lockAbsent {
				t.Error("the lock table is gone")
			}
			if tt.lockAbsent && srv.exists(t, schema, "flamingock_lock") {
				t.Error("the store refused the audit table but created the lock table")
			}
			if tt.readFails {
				_, err := open().Snapshot(t.Context())
				wantRefusal("a first read", err)
			}
		})
	}
}

func TestOpenRejectsInvalidNames(t *testing.T) {
	tests := []struct {
		name string
		opt  postgres.Option
		want string
	}{
		{"an empty schema", postgres.WithSchema(""), "invalid schema: empty"},
		{"a schema starting with a digit", postgres.WithSchema("1st"), `invalid schema "1st"`},
		{"a schema with a dash", postgres.WithSchema("my-schema"), `invalid schema "my-schema"`},
		{"a schema smuggling SQL", postgres.WithSchema(`x"; DROP TABLE t; --`), "invalid schema"},
		{"a reserved schema", postgres.WithSchema("pg_flamingock"), "reserved"},
		{"a schema PostgreSQL would truncate", postgres.WithSchema(strings.Repeat("s", 64)), "longer than 63 bytes"},
		{"an empty prefix", postgres.WithTablePrefix(""), "invalid table prefix: empty"},
		{"a prefix with a space", postgres.WithTablePrefix("my app"), `invalid table prefix "my app"`},
		{"a prefix with non-ASCII letters", postgres.WithTablePrefix("flamingö"), "invalid table prefix"},
		{"a prefix whose index name PostgreSQL would truncate", postgres.WithTablePrefix(strings.Repeat("p", 47)), "longer than 46 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Nothing listens there: a name check that let the call through
			// would report a connection error instead.
			_, err := postgres.Open(t.Context(), "postgres://u@127.0.0.1:1/db?connect_timeout=5", tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestLongestPrefixIsNotTruncated(t *testing.T) {
	srv := newServer(t)
	prefix := strings.Repeat("p", 46)
	_, schema := srv.open(t, postgres.WithTablePrefix(prefix))
	for _, name := range []string{prefix + "_audit", prefix + "_lock", prefix + "_audit_change_idx"} {
		if !srv.exists(t, schema, name) {
			t.Errorf("%s was not created under its full name", name)
		}
	}
}

func TestCloseLeavesTheCallersPoolOpen(t *testing.T) {
	srv := newServer(t)
	schema := srv.schema(t)
	s, err := postgres.New(t.Context(), srv.admin, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if s.Pool() != srv.admin {
		t.Error("Pool() is not the pool given to New")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.admin.Ping(t.Context()); err != nil {
		t.Errorf("the caller's pool no longer works after Close: %v", err)
	}

	opened, err := postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := opened.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if err := opened.Pool().Ping(t.Context()); err == nil {
		t.Error("the pool Open created still works after Close")
	}
}

func TestStringHasNoPassword(t *testing.T) {
	srv := newServer(t)
	u, err := url.Parse(srv.dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skipf("%s is not a URL; the redaction of other forms is tested in TestRedactDSN", srv.dsn)
	}
	// The test server trusts loopback, so a password is accepted and unused.
	u.User = url.UserPassword(u.User.Username(), "s3cret-pw")
	q := u.Query()
	q.Set("application_name", "flamingock-test")
	u.RawQuery = q.Encode()
	dsn := u.String()
	want := strings.Replace(u.String(), ":s3cret-pw@", ":xxxxx@", 1)

	schema := srv.schema(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	onPool, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if got := onPool.String(); got != want {
		t.Errorf("String() of a store on the caller's pool = %q, want %q", got, want)
	}
}

// validEntry is an entry of change id that passes audit.Entry.Validate.
func validEntry(id string) audit.Entry {
	return audit.Entry{
		ExecutionID: "exec-1",
		Stage:       "s1",
		ChangeID:    id,
		Order:       audit.OrderOf(1),
		State:       audit.StateApplied,
		Time:        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Strategy:    audit.StrategySharedTx,
		Recovery:    audit.RecoveryManual,
	}
}
