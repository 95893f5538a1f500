package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// bareTarget chooses a strategy but begins Work that implements neither
// AuditAppender nor MarkerWriter: a target that cannot carry out what it
// chose.
type bareTarget struct {
	strategy audit.Strategy
	aborted  int
}

func (t *bareTarget) Strategy(audit.Store, bool) (audit.Strategy, error) { return t.strategy, nil }

func (t *bareTarget) Begin(context.Context, pipeline.BeginRequest) (pipeline.Work[struct{}], error) {
	return bareWork{t}, nil
}

// HasMarker and ClearMarker make it pipeline.Markers, as a separate
// transaction requires at New.
func (t *bareTarget) HasMarker(context.Context, pipeline.Marker) (bool, error) { return false, nil }
func (t *bareTarget) ClearMarker(context.Context, audit.Key) error             { return nil }

type bareWork struct{ t *bareTarget }

func (bareWork) Handle() struct{} { return struct{}{} }
func (bareWork) Commit(context.Context) error {
	return errors.New("committed without its entry or marker")
}
func (w bareWork) Abort(context.Context) error { w.t.aborted++; return nil }

func TestAWorkWithoutWhatItsStrategyNeedsIsRefused(t *testing.T) {
	for _, tt := range []struct {
		strategy audit.Strategy
		missing  string
	}{
		{audit.StrategySharedTx, "pipeline.AuditAppender"},
		{audit.StrategySeparateTx, "pipeline.MarkerWriter"},
	} {
		t.Run(string(tt.strategy), func(t *testing.T) {
			e := newEnv(t)
			target := &bareTarget{strategy: tt.strategy}
			applied := 0
			ch := pipeline.NewChange(pipeline.Meta{ID: "a", Order: 1, Target: "bare"},
				pipeline.Target[struct{}](target), func(context.Context, struct{}) error { applied++; return nil }, nil)
			r, err := pipeline.New(e.store, []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{ch}}})
			if err != nil {
				t.Fatal(err)
			}

			_, err = r.Run(context.Background())

			if err == nil || !strings.Contains(err.Error(), `target "bare": its work does not implement `+tt.missing) {
				t.Fatalf("Run error = %v, want the missing %s named", err, tt.missing)
			}
			if applied != 0 || target.aborted != 1 {
				t.Errorf("the change ran %d times and its work was aborted %d times, want 0 and 1", applied, target.aborted)
			}
		})
	}
}
