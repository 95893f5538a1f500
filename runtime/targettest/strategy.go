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

// sharedTarget returns fx's target as the SharedTxTarget of its strategy.
func sharedTarget[H any](t *testing.T, fx Fixture[H], transactional bool) pipeline.SharedTxTarget[H] {
	t.Helper()
	checkName(t, fx, transactional, audit.StrategySharedTx)
	st, ok := fx.Target.(pipeline.SharedTxTarget[H])
	if !ok {
		t.Fatalf("%T reports %s but does not implement pipeline.SharedTxTarget itself (see the package documentation)",
			fx.Target, audit.StrategySharedTx)
	}
	return st
}

// separateTarget returns fx's target as the SeparateTxTarget of its
// strategy.
func separateTarget[H any](t *testing.T, fx Fixture[H], transactional bool) pipeline.SeparateTxTarget[H] {
	t.Helper()
	checkName(t, fx, transactional, audit.StrategySeparateTx)
	st, ok := fx.Target.(pipeline.SeparateTxTarget[H])
	if !ok {
		t.Fatalf("%T reports %s but does not implement pipeline.SeparateTxTarget itself (see the package documentation)",
			fx.Target, audit.StrategySeparateTx)
	}
	return st
}

// nonTxTarget returns fx's target as the NonTxTarget of its strategy.
func nonTxTarget[H any](t *testing.T, fx Fixture[H], transactional bool) pipeline.NonTxTarget[H] {
	t.Helper()
	checkName(t, fx, transactional, audit.StrategyNonTx)
	st, ok := fx.Target.(pipeline.NonTxTarget[H])
	if !ok {
		t.Fatalf("%T reports %s but does not implement pipeline.NonTxTarget itself (see the package documentation)",
			fx.Target, audit.StrategyNonTx)
	}
	return st
}

func checkName[H any](t *testing.T, fx Fixture[H], transactional bool, name audit.Strategy) {
	t.Helper()
	st, err := fx.Target.Strategy(transactional)
	if err != nil {
		t.Fatalf("Strategy(%v): %v; the harness says the target claims %s", transactional, err, name)
	}
	if st.Name() != name {
		t.Fatalf("Strategy(%v) = %s; the harness says the target claims %s", transactional, st.Name(), name)
	}
}
