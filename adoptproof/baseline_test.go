package adoptproof

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

// proveBaseline (issue 14, item 2): a database an operator migrated by
// hand, each old file's up section through psql, as the project of the
// issue was, is baselined by the application (-baseline, Runner.Baseline)
// up to the last old change: those are marked applied with the operator
// and the reason, not run, and the same start applies exactly the new
// ones, ending with the schema of goose applying every file; a second
// baseline and start change nothing.
func proveBaseline(t *testing.T, a app, h history, srv *pgtest.Server) {
	if _, err := exec.LookPath("psql"); err != nil {
		unavailable(t, "psql is not installed: %v", err)
	}
	ref := postgresDatabase(t, srv)
	gooseTool(goose.DialectPostgres).migrate(t, ref.db, h.gooseFS())
	want := ref.schema(t)

	db := postgresDatabase(t, srv)
	for _, m := range h.old() {
		script := filepath.Join(t.TempDir(), m.id()+".sql")
		if err := os.WriteFile(script, []byte(m.up+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := run(t, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.arg, "-f", script); r.code != 0 {
			t.Fatalf("psql %s: exit status %d\n%s%s", m.id(), r.code, r.stdout, r.stderr)
		}
	}
	through := h.old()[len(h.old())-1].id()
	args := []string{"-store", db.arg, "-baseline", through, "-operator", "ops@example.com", "-reason", "migrated by hand with psql before flamingock"}
	if out, want := a.startOK(t, args...), fmt.Sprintf("baseline marked %d\n", len(h.old()))+applied(h, newCount); out != want {
		t.Errorf("first start printed %q, want %q", out, want)
	}
	entries := trail(t, db.store(t))
	var got, wantTrail []string
	for _, e := range entries {
		got = append(got, e.ChangeID+" "+string(e.State))
	}
	for _, m := range h.old() {
		wantTrail = append(wantTrail, m.id()+" "+string(audit.StateManualApplied))
	}
	for _, m := range h[len(h)-newCount:] {
		wantTrail = append(wantTrail, m.id()+" "+string(audit.StateApplied))
	}
	if diff := cmp.Diff(wantTrail, got); diff != "" {
		t.Fatalf("trail (-want +got):\n%s", diff)
	}
	for _, e := range entries[:len(h.old())] {
		var md struct {
			Baseline struct{ Through string }
		}
		if err := json.Unmarshal(e.Metadata, &md); err != nil || md.Baseline.Through != through || e.Operator != "ops@example.com" || e.Reason == "" {
			t.Errorf("%s: operator %q, reason %q, metadata %s: want ops@example.com, the reason and baseline through %s (%v)", e.ChangeID, e.Operator, e.Reason, e.Metadata, through, err)
		}
	}
	if diff := cmp.Diff(want, db.schema(t)); diff != "" {
		t.Errorf("schema of the baselined database (-goose applying all %d, +baselined):\n%s", len(h), diff)
	}
	if out, want := a.startOK(t, args...), "baseline marked 0\n"+applied(h, 0); out != want {
		t.Errorf("second start printed %q, want %q", out, want)
	}
	if n := len(trail(t, db.store(t))); n != len(entries) {
		t.Errorf("second start: the trail went from %d entries to %d, want none added", len(entries), n)
	}
}
