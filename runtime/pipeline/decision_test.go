package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// decision is one row of DESIGN §6 for one change "c1" of stage "s1".
type decision struct {
	name     string
	strategy audit.Strategy // declared
	recovery audit.Recovery // declared
	latest   *audit.Entry   // seeded latest entry (after a STARTED one when it is not STARTED)
	marker   string         // execution id of a marker seeded in the separate target
	wantRan  int
	wantNew  []audit.State
	want     pipeline.Status
	wantErr  error
}

var (
	shared   = audit.StrategySharedTx
	separate = audit.StrategySeparateTx
	nonTx    = audit.StrategyNonTx
	manual   = audit.RecoveryManual
	retry    = audit.RecoveryRetry
)

func latest(st audit.State, s audit.Strategy, r audit.Recovery) *audit.Entry {
	e := seedEntry("s1", "c1", st, s, r)
	return &e
}

// appliedEntries is what a fresh execution records under strategy s.
func appliedEntries(s audit.Strategy) []audit.State {
	if s == audit.StrategySharedTx {
		return []audit.State{audit.StateApplied}
	}
	return []audit.State{audit.StateStarted, audit.StateApplied}
}

func decisionTable() []decision {
	var rows []decision
	for _, s := range []audit.Strategy{shared, separate, nonTx} {
		apply := func(name string, l *audit.Entry) decision {
			return decision{name: fmt.Sprintf("%s: %s is applied", s, name), strategy: s, recovery: manual,
				latest: l, wantRan: 1, wantNew: appliedEntries(s), want: pipeline.StatusApplied}
		}
		skip := func(name string, l *audit.Entry) decision {
			return decision{name: fmt.Sprintf("%s: %s is skipped", s, name), strategy: s, recovery: manual,
				latest: l, want: pipeline.StatusSkipped}
		}
		rows = append(rows,
			apply("a change never applied", nil),
			skip("an APPLIED change", latest(audit.StateApplied, s, manual)),
			skip("a MANUAL_MARKED_AS_APPLIED change", latest(audit.StateManualApplied, s, manual)),
			apply("a ROLLED_BACK change", latest(audit.StateRolledBack, nonTx, manual)),
			apply("a MANUAL_MARKED_AS_ROLLED_BACK change", latest(audit.StateManualRolledBack, s, manual)),
		)
	}
	rows = append(rows,
		// FAILED in a transaction: the database rolled it back.
		decision{name: "SHARED_TX: a change FAILED in a shared transaction is applied again, even with recovery manual",
			strategy: shared, recovery: manual, latest: latest(audit.StateFailed, shared, manual),
			wantRan: 1, wantNew: appliedEntries(shared), want: pipeline.StatusApplied},
		decision{name: "SEPARATE_TX: a change FAILED in a separate transaction is applied again, even with recovery manual",
			strategy: separate, recovery: manual, latest: latest(audit.StateFailed, separate, manual),
			wantRan: 1, wantNew: appliedEntries(separate), want: pipeline.StatusApplied},

		// ROLLBACK_FAILED in a transaction: the database rolled the undo
		// back, so the change is still applied (a crash between that entry
		// and the APPLIED that follows it leaves it latest). Applying it
		// again, under recovery retry, would run it twice.
		decision{name: "SHARED_TX: a change whose undo failed in a shared transaction is skipped, even with recovery retry",
			strategy: shared, recovery: retry, latest: latest(audit.StateRollbackFailed, shared, retry), want: pipeline.StatusSkipped},
		decision{name: "SEPARATE_TX: a change whose undo failed in a separate transaction is skipped, even with recovery retry",
			strategy: separate, recovery: retry, latest: latest(audit.StateRollbackFailed, separate, retry), want: pipeline.StatusSkipped},

		// STARTED in a separate transaction: the marker decides.
		decision{name: "SEPARATE_TX: a STARTED change whose marker is present is recorded APPLIED without running",
			strategy: separate, recovery: manual, latest: latest(audit.StateStarted, separate, manual), marker: seedExec,
			wantNew: []audit.State{audit.StateApplied}, want: pipeline.StatusRecovered},
		decision{name: "SEPARATE_TX: a STARTED change without a marker is applied again",
			strategy: separate, recovery: manual, latest: latest(audit.StateStarted, separate, manual),
			wantRan: 1, wantNew: appliedEntries(separate), want: pipeline.StatusApplied},
		decision{name: "SEPARATE_TX: a STARTED change with the marker of another execution is applied again",
			strategy: separate, recovery: manual, latest: latest(audit.StateStarted, separate, manual), marker: "another-execution",
			wantRan: 1, wantNew: appliedEntries(separate), want: pipeline.StatusApplied},
	)
	// Without a transaction the recorded recovery decides.
	for _, st := range []audit.State{audit.StateStarted, audit.StateFailed, audit.StateRollbackFailed} {
		rows = append(rows,
			decision{name: fmt.Sprintf("NON_TX: a %s change with recovery retry is applied again", st),
				strategy: nonTx, recovery: retry, latest: latest(st, nonTx, retry),
				wantRan: 1, wantNew: appliedEntries(nonTx), want: pipeline.StatusApplied},
			decision{name: fmt.Sprintf("NON_TX: a %s change with recovery manual is an issue and nothing runs", st),
				strategy: nonTx, recovery: manual, latest: latest(st, nonTx, manual),
				want: pipeline.StatusNotRun, wantErr: pipeline.ErrManualInterventionRequired},
		)
	}
	rows = append(rows,
		decision{name: "the recorded recovery manual decides over a declared retry",
			strategy: nonTx, recovery: retry, latest: latest(audit.StateStarted, nonTx, manual),
			want: pipeline.StatusNotRun, wantErr: pipeline.ErrManualInterventionRequired},
		decision{name: "the recorded recovery retry decides over a declared manual",
			strategy: nonTx, recovery: manual, latest: latest(audit.StateFailed, nonTx, retry),
			wantRan: 1, wantNew: appliedEntries(nonTx), want: pipeline.StatusApplied},
		decision{name: "the recorded strategy decides: a change FAILED without a transaction is an issue though it is now transactional",
			strategy: shared, recovery: manual, latest: latest(audit.StateFailed, nonTx, manual),
			want: pipeline.StatusNotRun, wantErr: pipeline.ErrManualInterventionRequired},
		decision{name: "the recorded strategy decides: a change FAILED in a transaction is applied though it is now non-transactional",
			strategy: nonTx, recovery: manual, latest: latest(audit.StateFailed, shared, manual),
			wantRan: 1, wantNew: appliedEntries(nonTx), want: pipeline.StatusApplied},
		decision{name: "a STARTED separate-transaction change whose target keeps no markers now is an issue with recovery manual",
			strategy: nonTx, recovery: manual, latest: latest(audit.StateStarted, separate, manual),
			want: pipeline.StatusNotRun, wantErr: pipeline.ErrManualInterventionRequired},
		decision{name: "a STARTED separate-transaction change whose target keeps no markers now is applied with recovery retry",
			strategy: nonTx, recovery: manual, latest: latest(audit.StateStarted, separate, retry),
			wantRan: 1, wantNew: appliedEntries(nonTx), want: pipeline.StatusApplied},
		decision{name: "a STARTED entry under a shared transaction, which no runner writes, is an issue with recovery manual",
			strategy: shared, recovery: manual, latest: latest(audit.StateStarted, shared, manual),
			want: pipeline.StatusNotRun, wantErr: pipeline.ErrManualInterventionRequired},
	)
	return rows
}

func TestDecisionTable(t *testing.T) {
	for _, d := range decisionTable() {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			if d.latest != nil {
				var seeded []audit.Entry
				if d.latest.State != audit.StateStarted && d.latest.Strategy != shared {
					seeded = append(seeded, seedEntry("s1", "c1", audit.StateStarted, d.latest.Strategy, d.latest.Recovery))
				}
				e.seed(append(seeded, *d.latest)...)
			}
			if d.marker != "" {
				e.seedMarker("s1", "c1", d.marker)
			}
			before := len(e.history("s1", "c1"))
			r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "c1", strategy: d.strategy, recovery: d.recovery})})

			res, err := r.Run(ctx)

			if d.wantErr == nil && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if d.wantErr != nil && !errors.Is(err, d.wantErr) {
				t.Fatalf("Run error = %v, want one matching %v", err, d.wantErr)
			}
			if diff := cmp.Diff([]string{"s1/c1=" + string(d.want)}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if got := e.ran("c1"); got != d.wantRan {
				t.Errorf("the change ran %d times, want %d", got, d.wantRan)
			}
			added := e.history("s1", "c1")[before:]
			if diff := cmp.Diff(d.wantNew, states(added)); diff != "" {
				t.Errorf("entries recorded by the run (-want +got):\n%s", diff)
			}
			for _, en := range added {
				if en.ExecutionID != res.ExecutionID || en.RunnerID != "test-runner" {
					t.Errorf("entry %s: execution %q runner %q, want %q and test-runner", en.State, en.ExecutionID, en.RunnerID, res.ExecutionID)
				}
				wantStrategy := d.strategy
				if d.want == pipeline.StatusRecovered {
					wantStrategy = separate
				}
				if en.Strategy != wantStrategy {
					t.Errorf("entry %s: strategy %s, want %s", en.State, en.Strategy, wantStrategy)
				}
			}
			if d.marker != "" && d.want == pipeline.StatusRecovered && e.hasMarker("s1", "c1", d.marker) {
				t.Error("the marker is still there after recovery")
			}
			if d.strategy == separate && e.hasMarker("s1", "c1", res.ExecutionID) {
				t.Error("the run left its marker behind")
			}
			var ie *pipeline.IssuesError
			if errors.As(err, &ie) {
				if len(ie.Issues) != 1 || ie.Issues[0].ChangeID != "c1" || ie.Issues[0].Latest.State != d.latest.State {
					t.Errorf("issues = %+v, want one for c1 in state %s", ie.Issues, d.latest.State)
				}
			}
		})
	}
}
