// Package markertest checks the marker contract of a target that runs its
// changes in separate transactions (pipeline.SeparateTxTarget), for the tests of such targets.
package markertest

import (
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Check drives tg's markers for one change through what the runner relies
// on: none before any was written; a committed marker proves its own
// execution only; an aborted one proves nothing; a later execution's
// committed marker replaces the earlier one; ClearMarker deletes it.
func Check[H any](t *testing.T, tg pipeline.SeparateTxTarget[H]) {
	t.Helper()
	ctx := t.Context()
	key := audit.Key{Stage: "s1", ChangeID: "c1"}
	first := pipeline.Marker{Key: key, ExecutionID: "exec-1"}
	second := pipeline.Marker{Key: key, ExecutionID: "exec-2"}
	has := func(m pipeline.Marker) bool {
		t.Helper()
		ok, err := tg.HasMarker(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	write := func(m pipeline.Marker, commit bool) {
		t.Helper()
		w, err := tg.BeginSeparate(ctx, pipeline.BeginRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMarker(ctx, m); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = w.Commit(ctx)
		} else {
			err = w.Abort(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	if has(first) {
		t.Fatal("a marker before any was written")
	}
	write(first, true)
	if !has(first) || has(second) {
		t.Errorf("after committing exec-1's marker: exec-1 %v, exec-2 %v; want true, false", has(first), has(second))
	}
	write(second, false)
	if !has(first) || has(second) {
		t.Errorf("after aborting exec-2's marker: exec-1 %v, exec-2 %v; want true, false", has(first), has(second))
	}
	write(second, true)
	if has(first) || !has(second) {
		t.Errorf("after committing exec-2's marker: exec-1 %v, exec-2 %v; want false, true", has(first), has(second))
	}
	if err := tg.ClearMarker(ctx, key); err != nil {
		t.Fatal(err)
	}
	if has(second) {
		t.Error("the marker survived ClearMarker")
	}
}
