package targettest

import (
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// answer is what Strategy said, comparable across calls.
type answer struct {
	name audit.Strategy
	err  bool
}

func (s *suite[H]) ask(t *testing.T, tg pipeline.Target[H], transactional bool) answer {
	t.Helper()
	st, err := tg.Strategy(transactional)
	if err == nil && st.Name() == "" {
		t.Errorf("Strategy(%v) returned the zero Strategy without an error", transactional)
	}
	return answer{name: st.Name(), err: err != nil}
}

// want is the answer the harness says the target gives.
func want(claimed audit.Strategy) answer {
	if claimed == "" {
		return answer{err: true}
	}
	return answer{name: claimed}
}

func (a answer) String() string {
	if a.err {
		return "an error"
	}
	return "strategy " + string(a.name)
}

func (s *suite[H]) testStrategyStable(t *testing.T) {
	fx := s.fixture(t)
	for _, c := range []struct {
		transactional bool
		claimed       audit.Strategy
	}{{true, s.h.Transactional}, {false, s.h.NonTransactional}} {
		first := s.ask(t, fx.Target, c.transactional)
		if second := s.ask(t, fx.Target, c.transactional); second != first {
			t.Errorf("Strategy(%v) answered %s, then %s", c.transactional, first, second)
		}
		if w := want(c.claimed); first != w {
			t.Errorf("Strategy(%v) answered %s; the harness says the target claims %s", c.transactional, first, w)
		}
	}
	if fx.Disconnect == nil {
		return
	}
	fx.Disconnect()
	for _, c := range []struct {
		transactional bool
		claimed       audit.Strategy
	}{{true, s.h.Transactional}, {false, s.h.NonTransactional}} {
		if got, w := s.ask(t, fx.Target, c.transactional), want(c.claimed); got != w {
			t.Errorf("Strategy(%v) answered %s once the target's server was unreachable, %s before: it must do no I/O",
				c.transactional, got, w)
		}
	}
}

func (s *suite[H]) testStrategyNonTransactional(t *testing.T) {
	fx := s.fixture(t)
	st, err := fx.Target.Strategy(false)
	if err == nil && st.Name() != audit.StrategyNonTx {
		t.Errorf("Strategy(false) = %s, want %s or an error: a change declared transactional=false never runs in a transaction",
			st.Name(), audit.StrategyNonTx)
	}
}

// sharedTarget returns the SharedTxTarget of fx's strategy, as the
// runner reaches it.
func sharedTarget[H any](t *testing.T, fx Fixture[H], transactional bool) pipeline.SharedTxTarget[H] {
	t.Helper()
	st, _ := checkName(t, fx, transactional, audit.StrategySharedTx).SharedTx()
	return st
}

// separateTarget returns the SeparateTxTarget of fx's strategy.
func separateTarget[H any](t *testing.T, fx Fixture[H], transactional bool) pipeline.SeparateTxTarget[H] {
	t.Helper()
	st, _ := checkName(t, fx, transactional, audit.StrategySeparateTx).SeparateTx()
	return st
}

// nonTxTarget returns the NonTxTarget of fx's strategy.
func nonTxTarget[H any](t *testing.T, fx Fixture[H], transactional bool) pipeline.NonTxTarget[H] {
	t.Helper()
	st, _ := checkName(t, fx, transactional, audit.StrategyNonTx).NonTx()
	return st
}

// checkName returns fx's strategy for a change declared transactional (or
// not), which must be name.
func checkName[H any](t *testing.T, fx Fixture[H], transactional bool, name audit.Strategy) pipeline.Strategy[H] {
	t.Helper()
	st, err := fx.Target.Strategy(transactional)
	if err != nil {
		t.Fatalf("Strategy(%v): %v; the harness says the target claims %s", transactional, err, name)
	}
	if st.Name() != name {
		t.Fatalf("Strategy(%v) = %s; the harness says the target claims %s", transactional, st.Name(), name)
	}
	return st
}
