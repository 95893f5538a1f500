package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// A change in a transaction shared with the SQLite store holds SQLite's
// write lock, so the runner cannot refresh its lease while the change
// runs. The change must still be recorded when it outlasts the lease,
// since no other runner can have taken the lock over meanwhile.
func TestASharedTransactionChangeThatOutlastsTheLeaseIsApplied(t *testing.T) {
	e := newEnv(t)
	const lease = 300 * time.Millisecond
	outlast := func(ctx context.Context) error {
		deadline := time.Now().Add(time.Minute)
		for {
			info, err := e.store.Lock(ctx, lockKey)
			if err != nil {
				return err
			}
			if !info.Held() {
				return nil // the lease ran out by the store's clock
			}
			if time.Now().After(deadline) {
				return errors.New("the lease never ran out")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	st := e.stage("s1",
		spec{id: "long", order: 1, strategy: audit.StrategySharedTx, hook: outlast},
		spec{id: "next", order: 2, strategy: audit.StrategySharedTx},
	)
	res, err := e.runner([]pipeline.Stage{st}, pipeline.WithLease(lease)).Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := len(res.Applied()); got != 2 {
		t.Errorf("applied %d changes; want 2", got)
	}
	for _, id := range []string{"long", "next"} {
		if n := e.ran(id); n != 1 {
			t.Errorf("change %s took effect %d times; want once", id, n)
		}
		if got := states(e.history("s1", id)); len(got) != 1 || got[0] != audit.StateApplied {
			t.Errorf("change %s: states %v; want [APPLIED]", id, got)
		}
	}
}
