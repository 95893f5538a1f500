package targettest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// errDeliberate is the error of the change that fails on purpose.
var errDeliberate = errors.New("targettest: the change fails on purpose")

// change declares change id (at order) on fx's target, with its undo as
// rollback; a failing change leaves its effect, then fails.
func change[H any](fx Fixture[H], id string, order uint64, transactional, fails bool) pipeline.Change {
	m := pipeline.Meta{
		ID: id, Order: audit.OrderOf(order), Author: "targettest", Target: "target",
		WithoutTransaction: !transactional,
		Checksum:           "targettest-" + id,
		Source:             "targettest:" + id,
	}
	apply := func(ctx context.Context, h H) error {
		if err := fx.Apply(ctx, h, id); err != nil {
			return err
		}
		if fails {
			return errDeliberate
		}
		return nil
	}
	undo := func(ctx context.Context, h H) error { return fx.Undo(ctx, h, id) }
	return pipeline.NewChange(m, fx.Target, apply, undo)
}

// runner returns a runner of changes on fx's store.
func runner[H any](t *testing.T, fx Fixture[H], changes ...pipeline.Change) *pipeline.Runner {
	t.Helper()
	r, err := pipeline.New(fx.Store, []pipeline.Stage{{Name: stage, Changes: changes}},
		pipeline.WithLogger(logger(t)), pipeline.WithRunnerID("targettest"))
	if err != nil {
		t.Fatalf("pipeline.New: %v", err)
	}
	return r
}

// statuses returns the status of every change of res, by id, through the
// Result's methods of each status.
func statuses(res *pipeline.Result) map[string]pipeline.Status {
	out := map[string]pipeline.Status{}
	if res == nil {
		return out
	}
	for s, os := range map[pipeline.Status][]pipeline.Outcome{
		pipeline.StatusApplied:    res.Applied(),
		pipeline.StatusSkipped:    res.Skipped(),
		pipeline.StatusRecovered:  res.Recovered(),
		pipeline.StatusFailed:     res.Failed(),
		pipeline.StatusNotRun:     res.NotRun(),
		pipeline.StatusRolledBack: res.RolledBack(),
	} {
		for _, o := range os {
			out[o.ChangeID] = s
		}
	}
	return out
}

func wantStatuses(t *testing.T, op string, res *pipeline.Result, want map[string]pipeline.Status) {
	t.Helper()
	got := statuses(res)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: statuses %v, want %v", op, got, want)
	}
}

func (s *suite[H]) testRunOnce(t *testing.T, claimed audit.Strategy, transactional bool) {
	fx := s.fixture(t)
	changes := []pipeline.Change{change(fx, "c1", 1, transactional, false), change(fx, "c2", 2, transactional, false)}
	res, err := runner(t, fx, changes...).Run(t.Context())
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	wantStatuses(t, "first run", res, map[string]pipeline.Status{"c1": pipeline.StatusApplied, "c2": pipeline.StatusApplied})
	for _, id := range []string{"c1", "c2"} {
		wantEffect(t, fx, id, true, "after the first run")
		es := history(t, fx, id)
		if len(es) == 0 || es[len(es)-1].State != audit.StateApplied {
			t.Errorf("after the first run the trail holds %v of %s, want it to end with APPLIED", states(es), id)
			continue
		}
		if got := es[len(es)-1].Strategy; got != claimed {
			t.Errorf("%s's APPLIED entry records strategy %s, want %s, which the target claims", id, got, claimed)
		}
	}
	before := map[string]int{"c1": len(history(t, fx, "c1")), "c2": len(history(t, fx, "c2"))}
	res, err = runner(t, fx, changes...).Run(t.Context())
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	wantStatuses(t, "second run", res, map[string]pipeline.Status{"c1": pipeline.StatusSkipped, "c2": pipeline.StatusSkipped})
	for id, n := range before {
		if es := history(t, fx, id); len(es) != n {
			t.Errorf("the second run recorded %v of %s, want nothing new", states(es[n:]), id)
		}
		wantEffect(t, fx, id, true, "after the second run")
	}
}

func (s *suite[H]) testRunFailing(t *testing.T, claimed audit.Strategy, transactional bool) {
	fx := s.fixture(t)
	res, err := runner(t, fx, change(fx, "c1", 1, transactional, false), change(fx, "c2", 2, transactional, true)).Run(t.Context())
	if !errors.Is(err, pipeline.ErrChangeFailed) || !errors.Is(err, errDeliberate) {
		t.Errorf("a run whose change fails returned %s, want one matching pipeline.ErrChangeFailed and the change's error", describe(err))
	}
	wantStatuses(t, "run", res, map[string]pipeline.Status{"c1": pipeline.StatusApplied, "c2": pipeline.StatusFailed})
	wantEffect(t, fx, "c1", true, "after the run")
	if claimed != audit.StrategyNonTx {
		wantEffect(t, fx, "c2", false, fmt.Sprintf("after the change failed in a transaction (%s)", claimed))
	}
	es := history(t, fx, "c2")
	if len(es) == 0 || es[len(es)-1].State != audit.StateFailed {
		t.Errorf("after the change failed the trail holds %v of it, want it to end with FAILED", states(es))
	} else if got := es[len(es)-1]; got.Strategy != claimed || got.ErrorMessage == "" {
		t.Errorf("the FAILED entry records strategy %s and error %q, want %s and the change's error", got.Strategy, got.ErrorMessage, claimed)
	}
}

func (s *suite[H]) testRollback(t *testing.T, claimed audit.Strategy, transactional bool) {
	fx := s.fixture(t)
	changes := []pipeline.Change{change(fx, "c1", 1, transactional, false), change(fx, "c2", 2, transactional, false)}
	if _, err := runner(t, fx, changes...).Run(t.Context()); err != nil {
		t.Fatalf("run: %v", err)
	}
	res, err := runner(t, fx, changes...).RollbackTo(t.Context(), "c1", pipeline.Inclusive())
	if err != nil {
		t.Fatalf("RollbackTo c1, inclusive: %v", err)
	}
	wantStatuses(t, "rollback", res, map[string]pipeline.Status{"c1": pipeline.StatusRolledBack, "c2": pipeline.StatusRolledBack})
	for _, id := range []string{"c1", "c2"} {
		wantEffect(t, fx, id, false, "after RollbackTo")
		es := history(t, fx, id)
		if len(es) == 0 || es[len(es)-1].State != audit.StateRolledBack {
			t.Errorf("after RollbackTo the trail holds %v of %s, want it to end with ROLLED_BACK", states(es), id)
		} else if got := es[len(es)-1].Strategy; got != claimed {
			t.Errorf("%s's ROLLED_BACK entry records strategy %s, want %s", id, got, claimed)
		}
	}
	res, err = runner(t, fx, changes...).Run(t.Context())
	if err != nil {
		t.Fatalf("run after the rollback: %v", err)
	}
	wantStatuses(t, "run after the rollback", res, map[string]pipeline.Status{"c1": pipeline.StatusApplied, "c2": pipeline.StatusApplied})
	for _, id := range []string{"c1", "c2"} {
		wantEffect(t, fx, id, true, "after the run that followed RollbackTo")
	}
}
