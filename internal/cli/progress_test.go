package cli_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/cli"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqlscript"
)

// A script run without a transaction fails at its fourth statement; the
// runtime records its progress, and issue get and issue list say it.
func TestIssueGetSaysHowFarAScriptGot(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	text := "-- +goose Up\n" + strings.Repeat("\n", 15) + "S1;\nS2;\nS3;\nS4;\nS5;\nS6;\n"
	var spans []sqlscript.Span
	for i := range 6 {
		start := strings.Index(text, "S1;") + 4*i
		spans = append(spans, sqlscript.Span{Start: start, End: start + 3, Line: 17 + i, Col: 1})
	}
	up := sqlscript.Script{File: "0012_split.sql", Text: text, Statements: spans}
	type system struct{}
	m := pipeline.Meta{ID: "0012_split", Order: audit.OrderOf(12), Author: "alice", Target: "appdb", WithoutTransaction: true, Checksum: "sum"}
	c := pipeline.NewChange(m, pipeline.NonTransactional(system{}), func(ctx context.Context, _ system) error {
		return up.Exec(ctx, func(_ context.Context, sql string) error {
			if sql == "S4;" {
				return errors.New(`relation "t" does not exist`)
			}
			return nil
		})
	}, nil)
	r, err := pipeline.New(store, []pipeline.Stage{{Name: "app", Changes: []pipeline.Change{c}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx); err == nil {
		t.Fatal("Run succeeded")
	}
	store.Close()

	env := cli.Env{Getenv: func(k string) string { return map[string]string{"FLAMINGOCK_STORE": "sqlite:" + path}[k] }}
	do := func(want int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if got := cli.Do(ctx, args, strings.NewReader(""), &stdout, &stderr, env); got != want {
			t.Fatalf("flamingock %s: exit status %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, want, &stdout, &stderr)
		}
		return stdout.String()
	}
	const words = "statements 1–3 applied, 4 failed at 0012_split.sql:20"
	out := do(0, "issue", "get", "0012_split", "--guidance")
	for _, want := range []string{
		"\nprogress:   " + words + "\n",
		"\nIt failed without a transaction, so it partly took effect: " + words + ".\n",
		"0012_split.sql:20:1: statement 4 of 6 failed: relation \"t\" does not exist",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("issue get printed\n%s\nwant it to contain %q", out, want)
		}
	}
	if out := do(3, "issue", "list"); !strings.Contains(out, "PROGRESS") || !strings.Contains(out, words) {
		t.Errorf("issue list printed\n%s\nwant a PROGRESS column saying %q", out, words)
	}
}
