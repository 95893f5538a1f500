package crash_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/internal/crash"
)

func TestHitWithoutAHookDoesNothingAndAllocatesNothing(t *testing.T) {
	ctx := context.WithValue(context.Background(), struct{ name string }{"other"}, 1)
	if n := testing.AllocsPerRun(100, func() { crash.Hit(ctx, crash.AfterStarted) }); n != 0 {
		t.Errorf("Hit without a hook allocates %v times per call, want 0", n)
	}
}

func TestTheHookSeesEveryPointThroughDerivedContexts(t *testing.T) {
	var got []crash.Point
	ctx := crash.With(context.Background(), func(p crash.Point) { got = append(got, p) })
	// The lease refresher runs on a context detached from the run's
	// cancellation; the hook must still reach it.
	detached, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	crash.Hit(ctx, crash.BeforeStarted)
	crash.Hit(detached, crash.DuringRefresh)
	crash.Hit(context.Background(), crash.AfterApplied) // no hook: not seen
	want := []crash.Point{crash.BeforeStarted, crash.DuringRefresh}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("points seen (-want +got):\n%s", diff)
	}
}

func TestPointsHaveDistinctNames(t *testing.T) {
	seen := map[crash.Point]bool{}
	for _, p := range crash.Points() {
		if p == "" || seen[p] {
			t.Errorf("point %q is empty or listed twice", p)
		}
		seen[p] = true
	}
}
