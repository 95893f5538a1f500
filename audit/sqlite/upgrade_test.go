package sqlite_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
)

// The fixture's checkpoint, saved by the release that wrote it over its
// whole trail (testdata/layout1/gen.go.txt).
const (
	fixtureDigest = "sha256:pipeline-of-the-fixture"
	fixtureMaxSeq = 15
)

// layout1 copies the store written by flamingock-go 1448d82 (layout 1:
// orders in an INTEGER column, no version table) to a temporary directory
// and returns its path.
func layout1(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "layout1", "trail.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trail.db")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantGolden fails unless entries, encoded as the fixture's generator
// encoded what its release read back, are the golden file byte for byte:
// every seq and every field.
func wantGolden(t *testing.T, entries []audit.Entry) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", "layout1", "trail.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(entries, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
		t.Errorf("entries differ from the golden trail (-want +got):\n%s", diff)
	}
}

func history(t *testing.T, s audit.Store) []audit.Entry {
	t.Helper()
	entries, err := s.History(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return entries
}

// readOnlyDB opens path with the driver, read-only, closed when the test
// ends.
func readOnlyDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dump renders everything the database file holds: its schema and every
// row of every table, with the storage class of every value.
func dump(t *testing.T, path string) string {
	t.Helper()
	db := readOnlyDB(t, path)
	defer db.Close()
	var out strings.Builder
	rows, err := db.QueryContext(t.Context(), `SELECT "type", "name", coalesce("sql", '') FROM sqlite_schema ORDER BY "type", "name"`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var kind, name, stmt string
		if err := rows.Scan(&kind, &name, &stmt); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %s: %s\n", kind, name, stmt)
		if kind == "table" {
			tables = append(tables, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for _, table := range tables {
		rows, err := db.QueryContext(t.Context(), `SELECT * FROM "`+table+`"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%s:", table)
			for _, v := range vals {
				fmt.Fprintf(&out, " %T(%v)", v, v)
			}
			out.WriteString("\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out.String()
}

// layoutOf returns the layout the store's version table records, failing
// unless it holds exactly one row.
func layoutOf(t *testing.T, path string) int {
	t.Helper()
	var layout, n int
	err := readOnlyDB(t, path).QueryRowContext(t.Context(), `SELECT coalesce(max("layout"), 0), count(*) FROM "flamingock_version"`).Scan(&layout, &n)
	if err != nil {
		t.Fatalf("read the version table: %v", err)
	}
	if n != 1 {
		t.Fatalf("the version table has %d rows, want 1", n)
	}
	return layout
}

func TestUpgradeFromLayout1(t *testing.T) {
	path := layout1(t)
	// The application's own objects in the same file, including some on
	// the trail, survive the upgrade.
	exec(t, rawDB(t, path, ""),
		`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)`,
		`INSERT INTO customers (name) VALUES ('ada')`,
		`CREATE INDEX app_trail_by_time ON flamingock_audit ("time")`,
		`CREATE VIEW app_changes AS SELECT "stage", "change_id", "change_order" FROM flamingock_audit`)

	s := open(t, path)
	if got := layoutOf(t, path); got != 2 {
		t.Fatalf("layout after Open = %d, want 2", got)
	}
	wantGolden(t, history(t, s))
	want := []string{
		"index app_trail_by_time", "index flamingock_audit_by_change",
		"table customers", "table flamingock_audit", "table flamingock_checkpoint", "table flamingock_lock", "table flamingock_version", "table sqlite_sequence",
		"trigger flamingock_audit_delete_voids_checkpoints", "trigger flamingock_audit_update_voids_checkpoints",
		"view app_changes",
	}
	if diff := cmp.Diff(want, schemaNames(t, s.DB())); diff != "" {
		t.Errorf("schema after the upgrade (-want +got):\n%s", diff)
	}
	var customers int
	if err := s.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM customers WHERE name = 'ada'`).Scan(&customers); err != nil || customers != 1 {
		t.Errorf("the application's table after the upgrade: %d rows, %v", customers, err)
	}

	t.Run("the checkpoint over the unchanged trail stays current", func(t *testing.T) {
		if _, current, err := s.SnapshotUnlessCurrent(t.Context(), fixtureDigest); err != nil || !current {
			t.Errorf("SnapshotUnlessCurrent = current %v, %v; want current", current, err)
		}
	})

	t.Run("reopening writes nothing", func(t *testing.T) {
		before := dump(t, path)
		again := open(t, path)
		wantGolden(t, history(t, again))
		if err := again.Close(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, dump(t, path)); diff != "" {
			t.Errorf("reopening changed the database (-before +after):\n%s", diff)
		}
	})

	orders := []string{"20150101000001000000", "100000000000000000000", "9", "10"}
	t.Run("orders of any length are appended after the old seqs", func(t *testing.T) {
		lease := acquire(t, s)
		for i, o := range orders {
			e := validEntry(fmt.Sprintf("new-%d", i))
			e.Order = audit.MustParseOrder(o)
			stored, err := s.Append(t.Context(), lease, e)
			if err != nil {
				t.Fatalf("Append order %s: %v", o, err)
			}
			if want := int64(fixtureMaxSeq + 1 + i); stored.Seq != want {
				t.Errorf("order %s got seq %d, want %d", o, stored.Seq, want)
			}
			got, err := s.History(t.Context(), audit.Filter{Stage: e.Stage, ChangeID: e.ChangeID})
			if err != nil || len(got) != 1 || got[0].Order != e.Order {
				t.Errorf("order %s read back as %v, %v", o, got, err)
			}
		}
		wantGolden(t, history(t, s)[:fixtureMaxSeq])
	})

	t.Run("the documented ORDER BY sorts orders as numbers", func(t *testing.T) {
		rows, err := s.DB().QueryContext(t.Context(), `SELECT "change_order", typeof("change_order") FROM flamingock_audit WHERE "seq" > ? ORDER BY length("change_order"), "change_order"`, fixtureMaxSeq)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var o, typ string
			if err := rows.Scan(&o, &typ); err != nil {
				t.Fatal(err)
			}
			got = append(got, o+" "+typ)
		}
		want := []string{"9 text", "10 text", "20150101000001000000 text", "100000000000000000000 text"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sorted orders (-want +got):\n%s", diff)
		}
		var integers int
		if err := s.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM flamingock_audit WHERE typeof("change_order") <> 'text'`).Scan(&integers); err != nil || integers != 0 {
			t.Errorf("%d orders are not text after the upgrade (%v)", integers, err)
		}
	})

	t.Run("the checkpoint is void once the trail changes", func(t *testing.T) {
		if _, current, err := s.SnapshotUnlessCurrent(t.Context(), fixtureDigest); err != nil || current {
			t.Errorf("after appends: current %v, %v; want not current", current, err)
		}
		last := int64(fixtureMaxSeq + len(orders))
		if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: fixtureDigest, Seq: last}); err != nil {
			t.Fatal(err)
		}
		exec(t, s.DB(), `UPDATE flamingock_audit SET "reason" = 'edited' WHERE "seq" = 3`)
		if _, current, err := s.SnapshotUnlessCurrent(t.Context(), fixtureDigest); err != nil || current {
			t.Errorf("after an edit by hand: current %v, %v; want not current (the triggers were not recreated)", current, err)
		}
	})
}

// A seq is never reused: entries deleted by hand at the end of a layout-1
// trail keep their seqs taken after the upgrade.
func TestUpgradeKeepsTheSeqCounter(t *testing.T) {
	path := layout1(t)
	exec(t, rawDB(t, path, ""), `DELETE FROM flamingock_audit WHERE "seq" > 12`)
	s := open(t, path)
	stored, err := s.Append(t.Context(), acquire(t, s), validEntry("after"))
	if err != nil {
		t.Fatal(err)
	}
	if stored.Seq != fixtureMaxSeq+1 {
		t.Errorf("the first entry after the upgrade got seq %d, want %d", stored.Seq, fixtureMaxSeq+1)
	}
}

// A failure half-way through the upgrade leaves layout 1 as it was: here
// a table of the application refers to an entry with a foreign key, so the
// old trail cannot be dropped once it is copied.
func TestFailedUpgradeLeavesLayout1(t *testing.T) {
	path := layout1(t)
	exec(t, rawDB(t, path, ""),
		`CREATE TABLE app_notes (entry INTEGER REFERENCES flamingock_audit ("seq"), note TEXT)`,
		`INSERT INTO app_notes VALUES (3, 'see INC-311')`)
	before := dump(t, path)
	s, err := sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded")
	}
	wantErrContains(t, err, "sqlite: open "+path+": ", "upgrade the store from layout 1 to 2 (the store is left at layout 1)", `rebuild table "flamingock_audit"`, "FOREIGN KEY constraint failed")
	if diff := cmp.Diff(before, dump(t, path)); diff != "" {
		t.Errorf("the failed upgrade changed the database (-before +after):\n%s", diff)
	}
	wantGolden(t, history(t, open(t, path, sqlite.WithReadOnly())))
}

// Twenty processes starting at once on a layout-1 store: one upgrades it,
// all of them open it, nothing is lost or doubled.
func TestConcurrentUpgrade(t *testing.T) {
	path := layout1(t)
	const openers = 20
	stores := make([]*sqlite.Store, openers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range stores {
		wg.Go(func() {
			<-start
			s, err := sqlite.Open(t.Context(), path, sqlite.WithBusyTimeout(30*time.Second))
			if err != nil {
				t.Errorf("opener %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	close(start)
	wg.Wait()
	for i, s := range stores {
		if s == nil {
			continue
		}
		wantGolden(t, history(t, s))
		if err := s.Close(); err != nil {
			t.Errorf("opener %d: Close: %v", i, err)
		}
	}
	if got := layoutOf(t, path); got != 2 {
		t.Errorf("layout = %d, want 2", got)
	}
}

// A store whose version table records a layout this release does not know
// is refused, by a writable and a read-only open alike, and left alone,
// whatever its tables look like.
func TestNewerLayoutIsRefused(t *testing.T) {
	path := layout1(t)
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	exec(t, rawDB(t, path, ""),
		`UPDATE flamingock_version SET "layout" = 3`,
		`ALTER TABLE flamingock_audit ADD COLUMN "added_by_layout_3" TEXT`,
		`DROP TABLE flamingock_checkpoint`)
	before := dump(t, path)
	for name, opts := range map[string][]sqlite.Option{"writable": nil, "read-only": {sqlite.WithReadOnly()}} {
		t.Run(name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), path, opts...)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			wantErrContains(t, err, "sqlite: open "+path+": ", `"flamingock_version"`, "layout 3", "a newer flamingock-go", "up to layout 2", "upgrade flamingock-go")
			if diff := cmp.Diff(before, dump(t, path)); diff != "" {
				t.Errorf("Open changed the database (-before +after):\n%s", diff)
			}
		})
	}
}

func TestReadOnlyOpenReadsLayout1(t *testing.T) {
	path := layout1(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	beforeDump := dump(t, path)
	r := open(t, path, sqlite.WithReadOnly())
	wantGolden(t, history(t, r))
	if latest, err := r.Snapshot(t.Context()); err != nil || len(latest) != 8 {
		t.Errorf("Snapshot = %d entries, %v; want the latest of 8 changes", len(latest), err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the read-only open changed the database file")
	}
	if diff := cmp.Diff(beforeDump, dump(t, path)); diff != "" {
		t.Errorf("the read-only open changed the database (-before +after):\n%s", diff)
	}
}

// A store created by this release starts at layout 2: orders beyond int64
// need no upgrade.
func TestNewStoreKeepsOrdersOfAnyLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := open(t, path)
	if got := layoutOf(t, path); got != 2 {
		t.Fatalf("layout of a new store = %d, want 2", got)
	}
	lease := acquire(t, s)
	want := []audit.Order{audit.MustParseOrder("100000000000000000000"), audit.OrderOf(0), audit.MustParseOrder("9223372036854775808")}
	for i, o := range want {
		e := validEntry(fmt.Sprint(i))
		e.Order = o
		if _, err := s.Append(t.Context(), lease, e); err != nil {
			t.Fatalf("Append order %s: %v", o, err)
		}
	}
	var got []audit.Order
	for _, e := range history(t, s) {
		got = append(got, e.Order)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("orders read back (-want +got):\n%s", diff)
	}
}
