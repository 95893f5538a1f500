package postgres_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
)

// fixtureSchema is the schema testdata/layout1/dump.sql was dumped from.
const fixtureSchema = "flamingock_layout1_fixture"

// fixtureDigest is the pipeline whose checkpoint the fixture saved.
const fixtureDigest = "sha256:pipeline-of-the-fixture"

// loadLayout1 loads the trail written by flamingock-go 1448d82 into a
// fresh schema, dropped when the test ends, and returns the schema.
func (s *server) loadLayout1(t *testing.T) string {
	t.Helper()
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql is not in PATH: it loads the layout-1 fixture")
	}
	dump, err := os.ReadFile("testdata/layout1/dump.sql")
	if err != nil {
		t.Fatal(err)
	}
	schema := s.schema(t)
	cmd := exec.CommandContext(t.Context(), psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", s.dsn)
	cmd.Stdin = bytes.NewReader(bytes.ReplaceAll(dump, []byte(fixtureSchema), []byte(schema)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("load the layout-1 fixture: %v\n%s", err, out)
	}
	return schema
}

// golden returns the fixture's entries as flamingock-go 1448d82 read them.
func golden(t *testing.T) []audit.Entry {
	t.Helper()
	data, err := os.ReadFile("testdata/layout1/trail.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []audit.Entry
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("the golden holds no entry")
	}
	return entries
}

// sameEntries compares entries field by field through their JSON, which
// compacts metadata the way PostgreSQL's jsonb spaces it.
func sameEntries(t *testing.T, what string, got, want []audit.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, err := json.Marshal(got[i])
		if err != nil {
			t.Fatal(err)
		}
		w, err := json.Marshal(want[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g, w) {
			t.Errorf("%s: entry %d\n got %s\nwant %s", what, i, g, w)
		}
	}
}

// history reads every entry of s, as the golden holds them.
func history(t *testing.T, s *postgres.Store) []audit.Entry {
	t.Helper()
	entries, err := s.History(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// firstUse makes s check its tables, as its first write does, and writes
// nothing: releasing a lease that never held the lock is refused as fenced.
func firstUse(t *testing.T, s *postgres.Store) error {
	t.Helper()
	err := s.Release(t.Context(), audit.Lease{Key: "never-acquired", Owner: "nobody", Epoch: 1})
	if errors.Is(err, audit.ErrFenced) {
		return nil
	}
	if err == nil {
		t.Fatal("releasing a lease that never held the lock succeeded")
	}
	return err
}

// layout returns the layout the version table of schema records, 1 when
// there is none.
func (s *server) layout(t *testing.T, schema string) int {
	t.Helper()
	if !s.exists(t, schema, "flamingock_version") {
		return 1
	}
	var layout int
	var rows int
	if err := s.admin.QueryRow(t.Context(), "SELECT max(layout), count(*) FROM "+
		pgx.Identifier{schema, "flamingock_version"}.Sanitize()).Scan(&layout, &rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("the version table holds %d rows, want one", rows)
	}
	return layout
}

// state renders everything stored in schema (every row of every table,
// and the catalog row versions of its relations, which DDL rewrites), so
// that a test can check that nothing was written.
func (s *server) state(t *testing.T, schema string) string {
	t.Helper()
	var b strings.Builder
	rows, err := s.admin.Query(t.Context(), `SELECT c.relname::text, c.xmin::text, c.relkind = 'r'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name, xmin string
		var isTable bool
		if err := rows.Scan(&name, &xmin, &isTable); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s xmin %s\n", name, xmin)
		if isTable {
			tables = append(tables, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range tables {
		q := pgx.Identifier{schema, name}.Sanitize()
		var rowsText string
		if err := s.admin.QueryRow(t.Context(), "SELECT coalesce(string_agg(r::text || ' xmin ' || r.xmin::text, E'\\n' ORDER BY r::text), '') FROM "+
			q+" AS r").Scan(&rowsText); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:\n%s\n", name, rowsText)
	}
	return b.String()
}

// columnType returns the type of the audit table's change_order in schema.
func (s *server) columnType(t *testing.T, schema string) string {
	t.Helper()
	var typ string
	err := s.admin.QueryRow(t.Context(), `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = $1::regclass AND attname = 'change_order'`, pgx.Identifier{schema, "flamingock_audit"}.Sanitize()).Scan(&typ)
	if err != nil {
		t.Fatal(err)
	}
	return typ
}

// enabledTriggers counts the triggers on the audit table that void
// checkpoints and are ENABLE ALWAYS.
func (s *server) enabledTriggers(t *testing.T, schema string) int {
	t.Helper()
	var n int
	err := s.admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_trigger
WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled = 'A'`, pgx.Identifier{schema, "flamingock_audit"}.Sanitize()).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func openSchema(t *testing.T, dsn, schema string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestALayout1TrailIsUpgradedInPlace(t *testing.T) {
	srv := newServer(t)
	schema := srv.loadLayout1(t)
	want := golden(t)
	auditTable, _ := tables(schema, "flamingock")
	if got := srv.columnType(t, schema); got != "bigint" {
		t.Fatalf("the fixture's change_order is %s, want layout 1's bigint", got)
	}

	// A checkpoint saved over the layout-1 trail, current before the
	// upgrade (the one in the dump is stale: restoring rewrote the row
	// versions its guard recorded).
	reader := openSchema(t, srv.dsn, schema, postgres.WithReadOnly())
	if err := reader.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: fixtureDigest, Seq: want[len(want)-1].Seq}); err != nil {
		t.Fatal(err)
	}
	if _, current, err := reader.SnapshotUnlessCurrent(t.Context(), fixtureDigest); err != nil || !current {
		t.Fatalf("before the upgrade: current %v, error %v", current, err)
	}

	s := openSchema(t, srv.dsn, schema)
	if err := firstUse(t, s); err != nil {
		t.Fatalf("first use of the layout-1 trail: %v", err)
	}
	if got := srv.layout(t, schema); got != 2 {
		t.Fatalf("after the first use, layout %d, want 2", got)
	}
	if got := srv.columnType(t, schema); got != "numeric" {
		t.Errorf("after the upgrade, change_order is %s, want numeric", got)
	}
	if n := srv.enabledTriggers(t, schema); n != 3 {
		t.Errorf("after the upgrade, %d triggers are ENABLE ALWAYS, want 3", n)
	}
	sameEntries(t, "after the upgrade", history(t, s), want)

	t.Run("the checkpoint is current over the unchanged trail, or stale and saved again", func(t *testing.T) {
		entries, current, err := s.SnapshotUnlessCurrent(t.Context(), fixtureDigest)
		if err != nil {
			t.Fatal(err)
		}
		if !current {
			t.Logf("the upgrade made the checkpoint stale; the start read %d entries", len(entries))
			if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: fixtureDigest, Seq: want[len(want)-1].Seq}); err != nil {
				t.Fatal(err)
			}
			if _, current, err = s.SnapshotUnlessCurrent(t.Context(), fixtureDigest); err != nil || !current {
				t.Fatalf("saved again after the upgrade: current %v, error %v", current, err)
			}
		}
	})

	var lease audit.Lease
	t.Run("appends get seqs above the old highest and keep orders of any length", func(t *testing.T) {
		var err error
		if lease, err = s.Acquire(t.Context(), "default", "runner-new", time.Minute); err != nil {
			t.Fatal(err)
		}
		orders := []string{"10", "100000000000000000000", "9", "20150101000001000000", "1234567890123456789012345678901234567890"}
		var appended []audit.Entry
		for i, o := range orders {
			e := validEntry(fmt.Sprintf("big_%d", i))
			e.Stage, e.Order = "big", audit.MustParseOrder(o)
			got, err := s.Append(t.Context(), lease, e)
			if err != nil {
				t.Fatalf("append order %s: %v", o, err)
			}
			if got.Seq <= want[len(want)-1].Seq {
				t.Errorf("append after the upgrade got seq %d, not above the old highest %d", got.Seq, want[len(want)-1].Seq)
			}
			appended = append(appended, got)
		}
		read, err := s.History(t.Context(), audit.Filter{Stage: "big"})
		if err != nil {
			t.Fatal(err)
		}
		sameEntries(t, "orders of any length", read, appended)
		for i, e := range read {
			if e.Order.String() != orders[i] {
				t.Errorf("order %s reads back as %s", orders[i], e.Order)
			}
		}
		rows, err := srv.admin.Query(t.Context(), "SELECT change_order::text AS o FROM "+auditTable+" WHERE stage = 'big' ORDER BY change_order")
		if err != nil {
			t.Fatal(err)
		}
		sorted, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if w := []string{"9", "10", "20150101000001000000", "100000000000000000000", "1234567890123456789012345678901234567890"}; strings.Join(sorted, " ") != strings.Join(w, " ") {
			t.Errorf("ORDER BY change_order: %v, want %v", sorted, w)
		}
		sameEntries(t, "the upgraded entries", history(t, s)[:len(want)], want)
	})

	t.Run("the column takes only non-negative integers", func(t *testing.T) {
		for _, bad := range []string{"-1", "1.5"} {
			_, err := srv.admin.Exec(t.Context(), `INSERT INTO `+auditTable+` (schema_version, execution_id, stage, change_id, change_order,
	author, state, occurred_at, duration_ns, host, runner_id, target_id, strategy, recovery, checksum,
	error_message, error_kind, operator, reason) VALUES (1, 'e', 's', 'c', $1::numeric, '', 'APPLIED', now(), 0, '', '', '', 'SHARED_TX', 'MANUAL', '', '', '', '', '')`, bad)
			if err == nil || !strings.Contains(err.Error(), "change_order") {
				t.Errorf("inserting order %s: %v, want a check violation naming change_order", bad, err)
			}
		}
	})

	t.Run("reopening changes nothing", func(t *testing.T) {
		before := srv.state(t, schema)
		again := openSchema(t, srv.dsn, schema)
		if err := firstUse(t, again); err != nil {
			t.Fatal(err)
		}
		if after := srv.state(t, schema); after != before {
			t.Errorf("reopening the upgraded store wrote to it:\nbefore\n%s\nafter\n%s", before, after)
		}
	})

	t.Run("an edit after the upgrade makes the checkpoint stale", func(t *testing.T) {
		if err := s.Release(t.Context(), lease); err != nil {
			t.Fatal(err)
		}
		tip := history(t, s)
		if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: fixtureDigest, Seq: tip[len(tip)-1].Seq}); err != nil {
			t.Fatal(err)
		}
		srv.exec(t, "UPDATE "+auditTable+" SET state = 'STARTED' WHERE seq = 2")
		if _, current, err := s.SnapshotUnlessCurrent(t.Context(), fixtureDigest); err != nil || current {
			t.Errorf("after an edit: current %v, error %v; want stale", current, err)
		}
	})
}

func TestTwentyProcessesOpeningALayout1TrailAtOnce(t *testing.T) {
	srv := newServer(t)
	schema := srv.loadLayout1(t)
	want := golden(t)
	const n = 20
	stores := make([]*postgres.Store, n)
	for i := range stores {
		pool, err := pgxpool.New(t.Context(), srv.dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if stores[i], err = postgres.New(t.Context(), pool, postgres.WithSchema(schema)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Acquire(t.Context(), fmt.Sprintf("key-%d", i), "runner", time.Minute)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("opener %d: %v", i, err)
		}
	}
	if got := srv.layout(t, schema); got != 2 {
		t.Fatalf("layout %d, want 2", got)
	}
	for i, s := range stores {
		sameEntries(t, fmt.Sprintf("opener %d", i), history(t, s), want)
	}
}

func TestAStoreOfANewerLayoutIsRefused(t *testing.T) {
	srv := newServer(t)
	for _, tt := range []struct {
		name string
		load func(t *testing.T) string
	}{
		{"created by this release", func(t *testing.T) string {
			s, schema := srv.open(t)
			appendApplied(t, s, "a")
			if got := srv.layout(t, schema); got != 2 {
				t.Fatalf("a new store has layout %d, want 2", got)
			}
			return schema
		}},
		{"upgraded from layout 1", func(t *testing.T) string {
			schema := srv.loadLayout1(t)
			if err := firstUse(t, openSchema(t, srv.dsn, schema)); err != nil {
				t.Fatal(err)
			}
			return schema
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			schema := tt.load(t)
			srv.exec(t, "UPDATE "+pgx.Identifier{schema, "flamingock_version"}.Sanitize()+" SET layout = 3")
			before := srv.state(t, schema)

			err := firstUse(t, openSchema(t, srv.dsn, schema))
			wantMessage(t, err, "layout 3", "up to 2", "upgrade flamingock-go", `"flamingock_version"`)
			_, err = postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema), postgres.WithReadOnly())
			wantMessage(t, err, "layout 3", "up to 2", "upgrade flamingock-go")
			if after := srv.state(t, schema); after != before {
				t.Errorf("refusing the store wrote to it:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}

func TestReadOnlyOpenReadsALayout1TrailAndWritesNothing(t *testing.T) {
	srv := newServer(t)
	schema := srv.loadLayout1(t)
	before := srv.state(t, schema)
	s := openSchema(t, srv.dsn, schema, postgres.WithReadOnly())
	sameEntries(t, "History", history(t, s), golden(t))
	if _, err := s.Snapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	if after := srv.state(t, schema); after != before {
		t.Errorf("a read-only open wrote to the layout-1 store:\nbefore\n%s\nafter\n%s", before, after)
	}
	if got := srv.layout(t, schema); got != 1 {
		t.Errorf("layout %d after a read-only open, want 1", got)
	}
}

func TestUpgradingNeedsTheAuditTablesOwner(t *testing.T) {
	srv := newServer(t)
	schema := srv.loadLayout1(t)
	auditTable, lockTable := tables(schema, "flamingock")
	role, pool := srv.role(t)
	r := pgx.Identifier{role}.Sanitize()
	// Every grant the package documentation lists, and CREATE on the
	// schema: still not enough to alter a table of another owner.
	srv.exec(t, "GRANT USAGE, CREATE ON SCHEMA "+pgx.Identifier{schema}.Sanitize()+" TO "+r)
	srv.exec(t, "GRANT SELECT, INSERT ON "+auditTable+" TO "+r)
	srv.exec(t, "GRANT SELECT, INSERT, UPDATE ON "+lockTable+", "+pgx.Identifier{schema, "flamingock_checkpoint"}.Sanitize()+" TO "+r)
	before := srv.state(t, schema)

	s, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	err = firstUse(t, s)
	wantMessage(t, err, auditTable, "layout 1", "must be owner", "open the store once as the table's owner")
	if after := srv.state(t, schema); after != before {
		t.Errorf("the refused upgrade wrote to the store:\nbefore\n%s\nafter\n%s", before, after)
	}
	// The trail stays readable meanwhile.
	sameEntries(t, "History as the restricted role", history(t, s), golden(t))

	// The fix the error names: the owner opens it once; the role's grants
	// then suffice (every user may read the new version table).
	if err := firstUse(t, openSchema(t, srv.dsn, schema)); err != nil {
		t.Fatalf("the owner's first use: %v", err)
	}
	again, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := firstUse(t, again); err != nil {
		t.Errorf("the restricted role after the owner upgraded the store: %v", err)
	}
	if _, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema), postgres.WithReadOnly()); err != nil {
		t.Errorf("a read-only open as the restricted role after the upgrade: %v", err)
	}
}

func TestAVersionTableWithoutItsRowIsRefused(t *testing.T) {
	srv := newServer(t)
	_, schema := srv.open(t)
	version := pgx.Identifier{schema, "flamingock_version"}.Sanitize()
	srv.exec(t, "DELETE FROM "+version)
	before := srv.state(t, schema)
	err := firstUse(t, openSchema(t, srv.dsn, schema))
	wantMessage(t, err, version+" records no layout", "GRANT SELECT ON "+version)
	if after := srv.state(t, schema); after != before {
		t.Errorf("refusing the store wrote to it:\nbefore\n%s\nafter\n%s", before, after)
	}
}
