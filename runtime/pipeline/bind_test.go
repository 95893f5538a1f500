package pipeline_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// boundKey marks the contexts a bindingWork binds.
type boundKey struct{}

// bindingTarget runs changes without a transaction, in works that bind
// the context their change receives, as a MongoDB session does.
type bindingTarget struct{}

func (t bindingTarget) Strategy(bool) (pipeline.Strategy[string], error) {
	return pipeline.NonTx[string](t), nil
}

func (bindingTarget) BeginNonTx(context.Context, pipeline.BeginRequest) (pipeline.Work[string], error) {
	return bindingWork{}, nil
}

type bindingWork struct{}

func (bindingWork) Handle() string               { return "handle" }
func (bindingWork) Commit(context.Context) error { return nil }
func (bindingWork) Abort(context.Context) error  { return nil }
func (bindingWork) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, boundKey{}, "bound")
}

func TestWorkContext(t *testing.T) {
	e := newEnv(t)
	var got []string
	see := func(what string) func(context.Context, string) error {
		return func(ctx context.Context, _ string) error {
			v, _ := ctx.Value(boundKey{}).(string)
			got = append(got, what+": "+v)
			if what == "apply" {
				return errors.New("boom")
			}
			return nil
		}
	}
	st := pipeline.Stage{Name: "s1", Changes: []pipeline.Change{
		pipeline.NewChange(pipeline.Meta{ID: "c1", Order: audit.OrderOf(1), Target: "t", Compensate: true}, pipeline.Target[string](bindingTarget{}), see("apply"), see("rollback")),
	}}
	r, err := pipeline.New(e.store, []pipeline.Stage{st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(t.Context()); !errors.Is(err, pipeline.ErrChangeFailed) {
		t.Fatalf("Run = %v; want the change's failure", err)
	}
	if diff := cmp.Diff([]string{"apply: bound", "rollback: bound"}, got); diff != "" {
		t.Errorf("contexts the change and its rollback received (-want +got):\n%s", diff)
	}
}
