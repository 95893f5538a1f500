package adoptproof

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// pgDump is the schema of the application's tables in dsn as pg_dump -s
// prints it. The tools' own tables are left out: flamingock's are in
// schema flamingock (only public is dumped), goose's goose_db_version and
// golang-migrate's schema_migrations are excluded by name (-T). The random
// key of pg_dump's \restrict lines is dropped.
func pgDump(t *testing.T, dsn string) string {
	t.Helper()
	out, err := exec.Command("pg_dump", "-s", "--no-owner", "--no-privileges", "-n", "public",
		"-T", "public.goose_db_version", "-T", "public.schema_migrations", "-d", dsn).Output()
	if err != nil {
		var stderr []byte
		if e, ok := err.(*exec.ExitError); ok {
			stderr = e.Stderr
		}
		t.Fatalf("pg_dump: %v\n%s", err, stderr)
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if !strings.HasPrefix(line, `\restrict `) && !strings.HasPrefix(line, `\unrestrict `) {
			b.WriteString(line)
		}
	}
	if !strings.Contains(b.String(), "CREATE TABLE public.users") {
		t.Fatalf("pg_dump -s holds no table users:\n%s", b.String())
	}
	return b.String()
}

// sqliteSchema is the schema of the application's tables in db: the SQL
// of every table, index, trigger and view, sorted, without SQLite's own
// (sqlite_%), flamingock's (flamingock%), goose's and golang-migrate's.
func sqliteSchema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	schema := queryRows(t, db, `SELECT sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND tbl_name NOT LIKE 'flamingock%'
		AND tbl_name NOT IN ('goose_db_version', 'schema_migrations')
		ORDER BY sql`)
	if len(schema) == 0 {
		t.Fatal("the database holds no table")
	}
	return schema
}

// queryRows returns every row of query, its columns separated by blanks.
func queryRows(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(' ')
			}
			if s, ok := v.([]byte); ok {
				v = string(s)
			}
			fmt.Fprint(&b, v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// trail returns every entry of the store's trail, in its order.
func trail(t *testing.T, store audit.Store) []audit.Entry {
	t.Helper()
	entries, err := store.History(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// imported is the origin an importer records in an entry's metadata.
type imported struct {
	Tool      string `json:"tool"`
	Table     string `json:"table"`
	Version   string `json:"version"`
	AppliedAt string `json:"applied_at"`
}

// wantAdopted checks that entries are exactly one mark per migration of
// old, in order, imported from tool's table with its version (and, where
// the old tool kept one, its time: appliedAt by version), then one APPLIED
// entry per migration of added.
func wantAdopted(t *testing.T, entries []audit.Entry, tool, table string, appliedAt map[string]time.Time, old, added history) {
	t.Helper()
	var got, want []string
	for _, e := range entries {
		got = append(got, e.ChangeID+" "+string(e.State))
	}
	for _, m := range old {
		want = append(want, m.id()+" "+string(audit.StateManualApplied))
	}
	for _, m := range added {
		want = append(want, m.id()+" "+string(audit.StateApplied))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("trail (-want +got):\n%s", diff)
	}
	for i, m := range old {
		e := entries[i]
		var md struct{ Imported imported }
		if err := json.Unmarshal(e.Metadata, &md); err != nil {
			t.Errorf("%s: metadata %s: %v", m.id(), e.Metadata, err)
			continue
		}
		wantOrigin := imported{Tool: tool, Table: table, Version: m.version, AppliedAt: md.Imported.AppliedAt}
		if diff := cmp.Diff(wantOrigin, md.Imported); diff != "" {
			t.Errorf("%s: imported origin (-want +got):\n%s", m.id(), diff)
		}
		if at, ok := appliedAt[m.version]; ok {
			got, err := time.Parse(time.RFC3339Nano, md.Imported.AppliedAt)
			if err != nil || !got.Equal(at) {
				t.Errorf("%s: applied_at %q, want %s, the time in %s (%v)", m.id(), md.Imported.AppliedAt, at.Format(time.RFC3339Nano), table, err)
			}
		}
		if e.Operator == "" || !strings.Contains(e.Reason, table) || !strings.Contains(e.Reason, m.version) {
			t.Errorf("%s: operator %q, reason %q: want an operator and a reason naming %s and version %s", m.id(), e.Operator, e.Reason, table, m.version)
		}
	}
}

// gooseTimes returns the time goose recorded for each version it applied.
func gooseTimes(t *testing.T, db *sql.DB) map[string]time.Time {
	t.Helper()
	rows, err := db.Query("SELECT version_id, tstamp FROM goose_db_version WHERE version_id > 0 AND is_applied")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	times := map[string]time.Time{}
	for rows.Next() {
		var v int64
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		times[fmt.Sprint(v)] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return times
}
