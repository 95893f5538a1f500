package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/digest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// generatedStage is stage name as flamingock-gen writes it: its digest and
// length computed beforehand, its changes built by build, which counts its
// calls in *builds.
func generatedStage(name string, builds *int, uses []pipeline.TargetUse, build func() []pipeline.Change) pipeline.Stage {
	changes := build()
	d := digest.NewStage()
	for _, c := range changes {
		d.Add(c.Meta().ID, c.Meta().Checksum)
	}
	return pipeline.Stage{Name: name, Generated: &pipeline.Generated{
		Digest: d.Sum(), Len: len(changes), Targets: uses,
		Changes: func() []pipeline.Change { *builds++; return build() },
	}}
}

func (e *env) generated(name string, builds *int, specs ...spec) pipeline.Stage {
	uses := []pipeline.TargetUse{
		pipeline.Uses("appdb", pipeline.Target[*sql.Tx](e.shared), true),
		pipeline.Uses("otherdb", pipeline.Target[*sql.Tx](e.separate), true),
		pipeline.Uses("flags", pipeline.NonTransactional(e.rec), false),
	}
	return generatedStage(name, builds, uses, func() []pipeline.Change { return e.stage(name, specs...).Changes })
}

// TestAnUpToDateStartBuildsNoChangeOfAGeneratedStage: New checks a
// generated stage without building its changes, a start that finds the
// checkpoint current builds none either, and a run with work builds them
// once.
func TestAnUpToDateStartBuildsNoChangeOfAGeneratedStage(t *testing.T) {
	e := newEnv(t)
	builds := 0
	specs := []spec{
		{id: "a", strategy: audit.StrategySharedTx},
		{id: "b", order: 2, strategy: audit.StrategySeparateTx},
		{id: "c", order: 3, strategy: audit.StrategyNonTx},
	}
	stages := []pipeline.Stage{e.generated("s1", &builds, specs...)}

	first := e.runner(stages)
	if builds != 0 {
		t.Fatalf("New built the changes %d times", builds)
	}
	if res := e.mustRun(first); len(res.Applied()) != 3 || builds != 1 {
		t.Fatalf("first run: %d applied, changes built %d times; want 3 and 1", len(res.Applied()), builds)
	}
	res := e.mustRun(e.runner(stages))
	if builds != 1 {
		t.Errorf("the up-to-date start built the changes (%d builds)", builds)
	}
	if res.Len() != 3 || len(res.Skipped()) != 3 || builds != 2 {
		t.Errorf("up-to-date start: Len %d, %d skipped, %d builds; want 3, 3 and 2 (listing builds them)", res.Len(), len(res.Skipped()), builds)
	}
	if !fromCheckpoint(res) {
		t.Errorf("the up-to-date start did not say it trusted the checkpoint: %+v", res.Changes())
	}
	// A generated stage and the same changes listed by hand are one
	// pipeline: the checkpoint the generated one saved is theirs too.
	if res := e.mustRun(e.runner([]pipeline.Stage{e.stage("s1", specs...)})); !fromCheckpoint(res) {
		t.Errorf("the listed stage did not start from the generated stage's checkpoint: %+v", res.Changes())
	}
}

// TestNewChecksTheTargetsOfAGeneratedStage: what New reports for a listed
// change's target it reports for a generated stage's, unbuilt.
func TestNewChecksTheTargetsOfAGeneratedStage(t *testing.T) {
	e := newEnv(t)
	builds := 0
	uses := []pipeline.TargetUse{
		pipeline.Uses("appdb", pipeline.Target[*sql.Tx](nil), true),
		pipeline.Uses("otherdb", pipeline.Target[*sql.Tx](e.separate), false),
	}
	st := generatedStage("s1", &builds, uses, func() []pipeline.Change { return e.stage("s1", spec{id: "a", strategy: audit.StrategyNonTx}).Changes })

	_, err := pipeline.New(e.store, []pipeline.Stage{st})

	want := []string{
		"invalid pipeline:",
		`stage "s1": target "appdb" is not wired: set Targets.Appdb`,
		`stage "s1": target "otherdb": database/sql target cannot run a change outside a transaction (its handle is *sql.Tx)`,
	}
	if err == nil {
		t.Fatal("New accepted a stage with a target not wired")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("New error lines (-want +got):\n%s", diff)
	}
	if builds != 0 {
		t.Errorf("New built the changes %d times", builds)
	}
}

// TestWhatOnlyTheChangesShowFailsTheRunBeforeAnythingRuns: a change id
// that two generated stages use, and a generated file whose digest is not
// its changes', are found when the changes are built, and nothing runs.
func TestWhatOnlyTheChangesShowFailsTheRunBeforeAnythingRuns(t *testing.T) {
	for _, tt := range []struct {
		name   string
		stages func(e *env, builds *int) []pipeline.Stage
		want   string
	}{
		{"an id in two stages", func(e *env, builds *int) []pipeline.Stage {
			return []pipeline.Stage{
				e.generated("s1", builds, spec{id: "a", strategy: audit.StrategyNonTx}),
				e.generated("s2", builds, spec{id: "a", strategy: audit.StrategyNonTx}),
			}
		}, `stage "s2": change "a" (a.go:3): id already used in stage "s1"`},
		{"a generated file edited by hand", func(e *env, builds *int) []pipeline.Stage {
			st := e.generated("s1", builds, spec{id: "a", strategy: audit.StrategyNonTx}, spec{id: "b", order: 2, strategy: audit.StrategyNonTx})
			st.Generated.Len = 1
			return []pipeline.Stage{st}
		}, `stage "s1": its generated file says 1 changes of digest`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			builds := 0
			r := e.runner(tt.stages(e, &builds))

			res, err := r.Run(context.Background())

			if !errors.Is(err, pipeline.ErrInvalidPipeline) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run error = %v; want ErrInvalidPipeline saying %q", err, tt.want)
			}
			if len(res.Applied()) != 0 || e.ran("a") != 0 || len(e.history("", "")) != 0 {
				t.Errorf("something ran: %d applied, a ran %d times, %d entries", len(res.Applied()), e.ran("a"), len(e.history("", "")))
			}
			if _, err := r.Plan(context.Background()); !errors.Is(err, pipeline.ErrInvalidPipeline) {
				t.Errorf("Plan error = %v; want ErrInvalidPipeline", err)
			}
			if _, err := r.RollbackTo(context.Background(), "a"); !errors.Is(err, pipeline.ErrInvalidPipeline) {
				t.Errorf("RollbackTo error = %v; want ErrInvalidPipeline", err)
			}
		})
	}
}

// TestAnUpToDateStartStillReportsEveryChangeToItsObservers: events and
// debug logs name every skipped change, as before: whoever asks for them
// pays for building the changes.
func TestAnUpToDateStartStillReportsEveryChangeToItsObservers(t *testing.T) {
	e := newEnv(t)
	builds := 0
	stages := []pipeline.Stage{e.generated("s1", &builds, spec{id: "a", strategy: audit.StrategyNonTx}, spec{id: "b", order: 2, strategy: audit.StrategyNonTx})}
	e.mustRun(e.runner(stages))
	var skipped []string
	e.mustRun(e.runner(stages, pipeline.WithEvents(func(ev pipeline.Event) {
		if ev.Kind == pipeline.EventSkipped {
			skipped = append(skipped, ev.ChangeID)
		}
	})))
	if diff := cmp.Diff([]string{"a", "b"}, skipped); diff != "" {
		t.Errorf("skipped events (-want +got):\n%s", diff)
	}
}
