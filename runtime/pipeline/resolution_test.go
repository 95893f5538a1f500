package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestResolutionCommandsNameTheStoreTablesAndLockKeyOfThePipeline(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"), sqlite.WithTablePrefix("billing"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l, err := store.Acquire(ctx, "billing-lock", "old-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, l, seedEntry("s1", "c1", audit.StateStarted, audit.StrategyNonTx, audit.RecoveryManual)); err != nil {
		t.Fatal(err)
	}
	if err := store.Release(ctx, l); err != nil {
		t.Fatal(err)
	}

	ran := false
	st := pipeline.Stage{Name: "s1", Changes: []pipeline.Change{
		pipeline.NewChange(pipeline.Meta{ID: "c1", Order: audit.OrderOf(1), Target: "flags"}, pipeline.NonTransactional(0),
			func(context.Context, int) error { ran = true; return nil }, nil),
	}}
	r, err := pipeline.New(store, []pipeline.Stage{st}, pipeline.WithLockKey("billing-lock"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(ctx)
	var ie *pipeline.IssuesError
	if !errors.As(err, &ie) || len(ie.Issues) != 1 {
		t.Fatalf("Run = %v; want one issue", err)
	}
	if ran {
		t.Error("the change ran despite the issue")
	}
	want := "--store " + store.String() + " --table-prefix billing --lock-key billing-lock"
	for _, res := range ie.Issues[0].Resolutions {
		if !strings.HasSuffix(res.Command, want) {
			t.Errorf("resolution %s: command %q; want it to end with %q, so that it acts on the pipeline's own tables and lock", res.Name, res.Command, want)
		}
	}
}
