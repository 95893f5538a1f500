package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// eventLog records the events of a runner.
type eventLog struct {
	events []pipeline.Event
}

func (l *eventLog) add(ev pipeline.Event) { l.events = append(l.events, ev) }

// lines renders every event as "kind stage/change", with "!" when it
// carries an error.
func (l *eventLog) lines() []string {
	var out []string
	for _, ev := range l.events {
		s := string(ev.Kind)
		if ev.Stage != "" || ev.ChangeID != "" {
			s += " " + ev.Stage
		}
		if ev.ChangeID != "" {
			s += "/" + ev.ChangeID
		}
		if ev.Err != nil {
			s += " !"
		}
		out = append(out, s)
	}
	return out
}

type ctxKey struct{}

func TestEventsBracketStagesAndChanges(t *testing.T) {
	tests := []struct {
		name  string
		specs [][]spec // per stage
		seed  []audit.Entry
		store func(e *env) audit.Store
		want  []string
		// wantErr matches the error of the last event, pipeline finished.
		wantErr error
	}{
		{
			name:  "a run reports every stage it runs, with its changes inside",
			specs: [][]spec{{{id: "c1", strategy: shared}, {id: "c2", order: 2, strategy: separate}}, {{id: "c3", strategy: nonTx}}},
			seed:  []audit.Entry{seedEntry("s1", "c1", audit.StateApplied, shared, manual)},
			want: []string{
				"pipeline started",
				"stage started s1", "skipped s1/c1", "started s1/c2", "applied s1/c2", "stage finished s1",
				"stage started s2", "started s2/c3", "applied s2/c3", "stage finished s2",
				"pipeline finished",
			},
		},
		{
			name: "a failure finishes its stage with the error; later stages are not reported",
			specs: [][]spec{
				{{id: "c1", strategy: nonTx}, {id: "c2", order: 2, strategy: nonTx, fail: errBoom, rollback: true, compensate: true}},
				{{id: "c3", strategy: nonTx}},
			},
			want: []string{
				"pipeline started",
				"stage started s1", "started s1/c1", "applied s1/c1", "started s1/c2", "failed s1/c2 !", "rolled back s1/c2", "stage finished s1 !",
				"pipeline finished !",
			},
			wantErr: errBoom,
		},
		{
			name:    "issues are reported before any stage starts",
			specs:   [][]spec{{{id: "c1", strategy: nonTx}, {id: "c2", order: 2, strategy: nonTx}}},
			seed:    []audit.Entry{seedEntry("s1", "c2", audit.StateStarted, nonTx, manual)},
			want:    []string{"pipeline started", "issue found s1/c2", "pipeline finished !"},
			wantErr: pipeline.ErrManualInterventionRequired,
		},
		{
			name:  "a change whose outcome could not be recorded gets a failed event",
			specs: [][]spec{{{id: "c1", strategy: nonTx}, {id: "c2", order: 2, strategy: nonTx}}},
			store: func(e *env) audit.Store { return refusingStore{Store: e.store, refuse: audit.StateApplied} },
			want: []string{
				"pipeline started",
				"stage started s1", "started s1/c1", "failed s1/c1 !", "stage finished s1 !",
				"pipeline finished !",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if len(tt.seed) > 0 {
				e.seed(tt.seed...)
			}
			var stages []pipeline.Stage
			for i, specs := range tt.specs {
				stages = append(stages, e.stage("s"+string(rune('1'+i)), specs...))
			}
			var store audit.Store = e.store
			if tt.store != nil {
				store = tt.store(e)
			}
			log := &eventLog{}
			r, err := pipeline.New(store, stages, pipeline.WithEvents(log.add))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.WithValue(context.Background(), ctxKey{}, "caller")

			res, err := r.Run(ctx)

			if diff := cmp.Diff(tt.want, log.lines()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			last := log.events[len(log.events)-1]
			if last.Err != err || (tt.wantErr != nil && !errors.Is(last.Err, tt.wantErr)) {
				t.Errorf("pipeline finished error = %v, want what Run returned (%v)", last.Err, err)
			}
			for _, ev := range log.events {
				if ev.ExecutionID != res.ExecutionID || ev.Operation != pipeline.OperationRun || ev.Context.Value(ctxKey{}) != "caller" {
					t.Errorf("event %s: execution %q operation %q context %v, want %q, run and the caller's context",
						ev.Kind, ev.ExecutionID, ev.Operation, ev.Context, res.ExecutionID)
				}
				if (ev.ChangeID != "" && ev.Kind != pipeline.EventIssueFound) != (ev.Strategy != "") {
					t.Errorf("event %s %s: strategy %q, want one on change events only", ev.Kind, ev.ChangeID, ev.Strategy)
				}
			}
		})
	}
}

func TestEventsOfARollback(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	log := &eventLog{}
	r := e.runner([]pipeline.Stage{
		{Name: "s1", Changes: []pipeline.Change{e.undoable("a", 1, shared, manual, nil), e.undoable("b", 2, nonTx, manual, nil)}},
		{Name: "s2", Changes: []pipeline.Change{e.undoable("c", 1, separate, manual, nil)}},
	}, pipeline.WithEvents(log.add))
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	log.events = nil

	res, err := r.RollbackTo(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}

	want := []string{
		"pipeline started",
		"stage started s2", "started s2/c", "rolled back s2/c", "stage finished s2",
		"stage started s1", "started s1/b", "rolled back s1/b", "stage finished s1",
		"pipeline finished",
	}
	if diff := cmp.Diff(want, log.lines()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, ev := range log.events {
		if ev.Operation != pipeline.OperationRollback || ev.ExecutionID != res.ExecutionID {
			t.Errorf("event %s: operation %q execution %q, want rollback %q", ev.Kind, ev.Operation, ev.ExecutionID, res.ExecutionID)
		}
		if ev.Kind == pipeline.EventRolledBack && ev.State != audit.StateRolledBack {
			t.Errorf("rolled back event of %s has state %q", ev.ChangeID, ev.State)
		}
	}
	if last := log.events[len(log.events)-1]; !strings.Contains(last.Reason, "2 rolled back") {
		t.Errorf("pipeline finished reason = %q, want the outcomes summed up", last.Reason)
	}
}
