package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/generator"
)

func TestQuickstartAppliesEverythingOnceThenNothing(t *testing.T) {
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "quickstart.db")
	ctx := context.Background()

	var first bytes.Buffer
	if err := run(ctx, url, &first); err != nil {
		t.Fatalf("first run: %v\n%s", err, &first)
	}
	if !strings.Contains(first.String(), "applied 3 change(s), 0 already applied") {
		t.Errorf("first run output:\n%s\nwant 3 applied", &first)
	}
	for _, id := range []string{"create-users", "seed-admin", "enable-signup"} {
		if !strings.Contains(first.String(), id) || !strings.Contains(first.String(), "APPLIED") {
			t.Errorf("first run summary lacks %s APPLIED:\n%s", id, &first)
		}
	}
	// The SQL changes commit with their APPLIED entry (sqltarget.Shared);
	// the flag file has no transactions.
	for id, want := range map[string]string{"create-users": "SHARED_TX", "seed-admin": "SHARED_TX", "enable-signup": "NON_TX"} {
		if !slices.ContainsFunc(strings.Split(first.String(), "\n"), func(l string) bool {
			f := strings.Fields(l)
			return len(f) > 2 && f[1] == id && f[len(f)-1] == want
		}) {
			t.Errorf("first run summary lacks %s with strategy %s:\n%s", id, want, &first)
		}
	}
	flags, err := os.ReadFile(filepath.Join(dir, "quickstart-flags.json"))
	if err != nil || !strings.Contains(string(flags), `"self-signup": true`) {
		t.Errorf("flag file = %q, %v; want self-signup on", flags, err)
	}

	var second bytes.Buffer
	if err := run(ctx, url, &second); err != nil {
		t.Fatalf("second run: %v\n%s", err, &second)
	}
	if !strings.Contains(second.String(), "applied 0 change(s), 3 already applied") {
		t.Errorf("second run output:\n%s\nwant nothing applied", &second)
	}
}

func TestQuickstartRefusesAServerStore(t *testing.T) {
	err := run(context.Background(), "postgres://localhost/app", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "sqlite:PATH") {
		t.Fatalf("run with a postgres URL: %v; want an error asking for sqlite:PATH", err)
	}
}

func TestQuickstartRegistryIsUpToDate(t *testing.T) {
	res, err := generator.Generate(context.Background(), generator.Config{Dir: "changes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errs {
		t.Error(e.Format("."))
	}
	if t.Failed() {
		return
	}
	diff, err := res.Diff()
	if err != nil {
		t.Fatal(err)
	}
	if diff != nil {
		t.Errorf("changes/flamingock_gen.go or its ledger is stale: run go generate ./examples/...\n%s", diff)
	}
}

// TestQuickstartMigrateCommand runs "quickstart migrate …", the
// application's own migrate command, around the plain run.
func TestQuickstartMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "quickstart.db")
	ctx := context.Background()
	migrate := func(want int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if got := migrateCommand(ctx, url, args, &stdout, &stderr); got != want {
			t.Fatalf("quickstart migrate %s: exit status %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, want, &stdout, &stderr)
		}
		return stdout.String()
	}

	if out := migrate(0, "status"); !strings.Contains(out, "3 pending") || !strings.Contains(out, "create-users") {
		t.Errorf("status before the first run:\n%s\nwant 3 pending", out)
	}
	migrate(4, "validate")
	if out := migrate(0, "plan"); !strings.Contains(out, "up would apply 3 change(s)") {
		t.Errorf("plan:\n%s\nwant 3 to apply", out)
	}

	var first bytes.Buffer
	if err := run(ctx, url, &first); err != nil {
		t.Fatalf("run: %v\n%s", err, &first)
	}
	if !strings.Contains(first.String(), "applied 3 change(s), 0 already applied") {
		t.Errorf("run after migrate status:\n%s\nwant 3 applied", &first)
	}

	if out := migrate(0, "status"); !strings.Contains(out, "3 applied") {
		t.Errorf("status after the run:\n%s\nwant 3 applied", out)
	}
	migrate(0, "validate")
	if out := migrate(0, "up"); !strings.Contains(out, "applied 0 change(s), 3 already applied") {
		t.Errorf("up after the run:\n%s\nwant nothing applied", out)
	}
	var status struct {
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(migrate(0, "status", "--json")), &status); err != nil || status.Counts["applied"] != 3 {
		t.Errorf("status --json: counts %v, %v; want 3 applied", status.Counts, err)
	}
	migrate(0, "lock", "status")
	migrate(2, "no-such-command")
}
