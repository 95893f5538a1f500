package main

import (
	"bytes"
	"database/sql"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/internal/mysqltest"
)

func TestMySQLExampleAppliesEverythingOnceThenNothing(t *testing.T) {
	srv := mysqltest.New(t) // skips without FLAMINGOCK_TEST_MYSQL
	name := srv.Database(t, "example")
	url := srv.URL(name)

	var first bytes.Buffer
	if err := run(t.Context(), url, &first); err != nil {
		t.Fatalf("first run: %v\n%s", err, &first)
	}
	if !strings.Contains(first.String(), "applied 4 change(s), 0 already applied") {
		t.Errorf("first run output:\n%s\nwant 4 applied", &first)
	}
	// How each ran: data only in a transaction shared with the trail, DDL
	// without one.
	want := map[string]string{
		"0001_create_accounts": "APPLIED NON_TX",
		"0002_seed_accounts":   "APPLIED SHARED_TX",
		"normalise-emails":     "APPLIED SHARED_TX",
		"add-signup-column":    "APPLIED NON_TX",
	}
	got := map[string]string{}
	for _, l := range strings.Split(first.String(), "\n") {
		if f := strings.Fields(l); len(f) == 6 && f[0] == "migrations" {
			got[f[1]] = f[2] + " " + f[5]
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first run summary (-want +got):\n%s\n%s", diff, &first)
	}

	db := srv.Open(t, name)
	if diff := cmp.Diff([]string{"ada@example.com", "grace@example.com"}, emails(t, db)); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	var column int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'accounts' AND COLUMN_NAME = 'signed_up_at'`).Scan(&column); err != nil || column != 1 {
		t.Errorf("accounts.signed_up_at: %d columns, %v; want it added", column, err)
	}

	var second bytes.Buffer
	if err := run(t.Context(), url, &second); err != nil {
		t.Fatalf("second run: %v\n%s", err, &second)
	}
	if !strings.Contains(second.String(), "applied 0 change(s), 4 already applied") {
		t.Errorf("second run output:\n%s\nwant none applied", &second)
	}
	if n := len(emails(t, db)); n != 2 {
		t.Errorf("%d accounts after the second run, want 2", n)
	}
}

func TestMySQLExampleRefusesAnotherStore(t *testing.T) {
	for _, url := range []string{"", "sqlite:x.db", "postgres://u:secret@h/db"} {
		err := run(t.Context(), url, new(bytes.Buffer))
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("run(%q) = %v, want a refusal that does not print the password", url, err)
		}
	}
}

func emails(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT email FROM accounts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
