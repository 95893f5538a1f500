package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// noStrategy answers Strategy with the zero Strategy: no strategy at all.
type noStrategy struct{}

func (noStrategy) Strategy(bool) (pipeline.Strategy[struct{}], error) {
	return pipeline.Strategy[struct{}]{}, nil
}

func TestATargetThatReturnsNoStrategyIsRefusedByNew(t *testing.T) {
	e := newEnv(t)
	ch := pipeline.NewChange(pipeline.Meta{ID: "a", Order: audit.OrderOf(1), Target: "bare"},
		pipeline.Target[struct{}](noStrategy{}), func(context.Context, struct{}) error { return nil }, nil)

	_, err := pipeline.New(e.store, []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{ch}}})

	if err == nil || !strings.Contains(err.Error(), `target "bare": Strategy returned no strategy`) {
		t.Fatalf("New error = %v, want the missing strategy named", err)
	}
}

// sharingTarget shares the transactions of store.
type sharingTarget struct{ store audit.Store }

func (t sharingTarget) Strategy(bool) (pipeline.Strategy[struct{}], error) {
	return pipeline.SharedTx[struct{}](t), nil
}

func (t sharingTarget) AuditStore() audit.Store { return t.store }

func (sharingTarget) BeginShared(context.Context, pipeline.BeginRequest) (pipeline.SharedWork[struct{}], error) {
	panic("a change began on a target sharing another store's transactions")
}

// TestASharedTargetOfAnotherStoreIsRefused: appending a change's APPLIED
// entry in the transaction of a store the runner does not read would
// record it in a trail nobody consults.
func TestASharedTargetOfAnotherStoreIsRefused(t *testing.T) {
	e, other := newEnv(t), newEnv(t)
	ch := pipeline.NewChange(pipeline.Meta{ID: "a", Order: audit.OrderOf(1), Target: "appdb"},
		pipeline.Target[struct{}](sharingTarget{other.store}), func(context.Context, struct{}) error { return nil }, nil)

	_, err := pipeline.New(e.store, []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{ch}}})

	if err == nil || !strings.Contains(err.Error(), `target "appdb" shares the transactions of another audit store than the pipeline's`) {
		t.Fatalf("New error = %v, want the other store refused", err)
	}
	// The same target on its own store is accepted.
	if _, err := pipeline.New(other.store, []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{ch}}}); err != nil {
		t.Fatalf("New on the target's own store: %v", err)
	}
}
