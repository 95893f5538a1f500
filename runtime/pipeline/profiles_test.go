package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// profiledStage is a stage of one change for every environment, one for
// dev and test, one for everywhere but prod and one for prod.
func profiledStage(e *env) []pipeline.Stage {
	return []pipeline.Stage{e.stage("s1",
		spec{id: "schema", order: 1, strategy: audit.StrategySharedTx},
		spec{id: "seed", order: 2, strategy: audit.StrategyNonTx, rollback: true, profiles: []string{"dev", "test"}},
		spec{id: "sample", order: 3, strategy: audit.StrategySeparateTx, profiles: []string{"!prod"}},
		spec{id: "prod-only", order: 4, strategy: audit.StrategyNonTx, rollback: true, profiles: []string{"prod"}},
	)}
}

func outcomes(res *pipeline.Result) map[string]pipeline.Status {
	out := map[string]pipeline.Status{}
	for _, o := range res.Changes() {
		out[o.ChangeID] = o.Status
	}
	return out
}

func TestProfilesDecideWhichChangesARunnerRuns(t *testing.T) {
	tests := []struct {
		name     string
		profiles []string
		want     map[string]pipeline.Status
	}{
		{"without profiles only the changes that declare none run", nil, map[string]pipeline.Status{
			"schema": pipeline.StatusApplied, "seed": pipeline.StatusExcluded, "sample": pipeline.StatusExcluded, "prod-only": pipeline.StatusExcluded}},
		{"WithProfiles() with no name is no profile", []string{}, map[string]pipeline.Status{
			"schema": pipeline.StatusApplied, "seed": pipeline.StatusExcluded, "sample": pipeline.StatusExcluded, "prod-only": pipeline.StatusExcluded}},
		{"dev runs its changes and those not for prod", []string{"dev"}, map[string]pipeline.Status{
			"schema": pipeline.StatusApplied, "seed": pipeline.StatusApplied, "sample": pipeline.StatusApplied, "prod-only": pipeline.StatusExcluded}},
		{"prod runs its own and never a dev or !prod change", []string{"prod"}, map[string]pipeline.Status{
			"schema": pipeline.StatusApplied, "seed": pipeline.StatusExcluded, "sample": pipeline.StatusExcluded, "prod-only": pipeline.StatusApplied}},
		{"one matching profile of several is enough", []string{"staging", "test"}, map[string]pipeline.Status{
			"schema": pipeline.StatusApplied, "seed": pipeline.StatusApplied, "sample": pipeline.StatusApplied, "prod-only": pipeline.StatusExcluded}},
		{"a negated profile wins over a matching one", []string{"prod", "test"}, map[string]pipeline.Status{
			"schema": pipeline.StatusApplied, "seed": pipeline.StatusApplied, "sample": pipeline.StatusExcluded, "prod-only": pipeline.StatusApplied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var opts []pipeline.Option
			if tt.profiles != nil {
				opts = append(opts, pipeline.WithProfiles(tt.profiles...))
			}
			r := e.runner(profiledStage(e), opts...)
			res, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, outcomes(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			for id, st := range tt.want {
				if n := e.ran(id); (st == pipeline.StatusApplied) != (n == 1) || n > 1 {
					t.Errorf("change %s ran %d times, outcome %s", id, n, st)
				}
			}
			if err := r.Validate(context.Background()); err != nil {
				t.Errorf("Validate after the run = %v, want nil: excluded changes are not pending", err)
			}
			if n := res.Count(pipeline.StatusExcluded); n != len(res.Excluded()) {
				t.Errorf("Count(excluded) = %d, Excluded() lists %d", n, len(res.Excluded()))
			}
		})
	}
}

func TestAnExcludedChangeIsNeitherPendingNorAnIssue(t *testing.T) {
	e := newEnv(t)
	// A dev runner died inside the non-transactional seed change: an
	// issue for dev, none of prod's business.
	e.seed(seedEntry("s1", "seed", audit.StateStarted, audit.StrategyNonTx, audit.RecoveryManual))
	prod := e.runner(profiledStage(e), pipeline.WithProfiles("prod"))
	p, err := prod.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.ChangeID+"="+string(c.Action))
		if c.Action == pipeline.ActionExclude && !strings.HasPrefix(c.Reason, "excluded by profile: the change declares profile=") {
			t.Errorf("reason of excluded %s = %q", c.ChangeID, c.Reason)
		}
	}
	if want := []string{"schema=apply", "seed=exclude", "sample=exclude", "prod-only=apply"}; !cmp.Equal(want, got) {
		t.Errorf("plan = %v, want %v", got, want)
	}
	if len(p.Issues()) != 0 || len(p.Pending()) != 2 {
		t.Errorf("plan: %d issues, %d pending; want 0 and 2", len(p.Issues()), len(p.Pending()))
	}
	var pending *pipeline.PendingError
	if err := prod.Validate(context.Background()); !errors.As(err, &pending) || len(pending.Changes) != 2 {
		t.Fatalf("Validate = %v, want the two changes of prod pending", err)
	}
	if _, err := prod.Run(context.Background()); err != nil {
		t.Fatalf("prod run: %v", err)
	}
	if err := prod.Validate(context.Background()); err != nil {
		t.Errorf("Validate after prod's run = %v, want nil", err)
	}
	// The dev runner still sees its issue.
	var issues *pipeline.IssuesError
	if err := e.runner(profiledStage(e), pipeline.WithProfiles("dev")).Validate(context.Background()); !errors.As(err, &issues) {
		t.Errorf("dev Validate = %v, want its issue", err)
	}
}

func TestAChangeAppliedUnderOtherProfilesStaysAppliedAndIsNotRolledBack(t *testing.T) {
	e := newEnv(t)
	if _, err := e.runner(profiledStage(e), pipeline.WithProfiles("dev")).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	prod := e.runner(profiledStage(e), pipeline.WithProfiles("prod"))
	p, err := prod.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seed := p.Changes[1]
	if seed.Action != pipeline.ActionExclude || seed.Latest == nil || seed.Latest.State != audit.StateApplied ||
		!strings.Contains(seed.Reason, "applied under profiles dev") || !strings.Contains(seed.Reason, "it stays applied") {
		t.Errorf("seed under prod: %s, latest %v, %q; want excluded, applied under dev and staying so", seed.Action, seed.Latest, seed.Reason)
	}
	if _, err := prod.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Roll back the whole pipeline under prod: the dev changes are left
	// as they are, applied.
	res, err := prod.RollbackTo(context.Background(), "seed", pipeline.Inclusive())
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	want := map[string]pipeline.Status{"prod-only": pipeline.StatusRolledBack, "sample": pipeline.StatusExcluded, "seed": pipeline.StatusExcluded}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("rollback outcomes (-want +got):\n%s", diff)
	}
	if got := states(e.history("s1", "seed")); !cmp.Equal(got, []audit.State{audit.StateStarted, audit.StateApplied}) {
		t.Errorf("seed's trail = %v, want it left applied", got)
	}
	if n := e.rec.count("seed:rollback"); n != 0 {
		t.Errorf("seed's rollback ran %d times under prod", n)
	}
}

func TestTheTrailRecordsTheProfilesAChangeRanUnder(t *testing.T) {
	e := newEnv(t)
	if _, err := e.runner(profiledStage(e), pipeline.WithProfiles("test", "dev", "test")).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"schema", "seed", "sample"} {
		for _, en := range e.history("s1", id) {
			var md map[string]json.RawMessage
			if err := json.Unmarshal(en.Metadata, &md); err != nil {
				t.Fatalf("%s %s: metadata %s: %v", id, en.State, en.Metadata, err)
			}
			if got := string(md[audit.MetadataProfiles]); got != `["dev","test"]` {
				t.Errorf("%s %s: profiles %s, want [\"dev\",\"test\"]", id, en.State, got)
			}
		}
	}
	// A runner without profiles records none.
	e2 := newEnv(t)
	if _, err := e2.runner(profiledStage(e2)).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, en := range e2.history("s1", "schema") {
		if len(en.Metadata) != 0 {
			t.Errorf("schema %s: metadata %s, want none", en.State, en.Metadata)
		}
	}
}

// TestACheckpointCoversTheProfilesItWasSavedUnder: a checkpoint saved by a
// runner of one profile set, which left the other set's changes out, never
// makes a runner of another set skip them, either way round.
func TestACheckpointCoversTheProfilesItWasSavedUnder(t *testing.T) {
	e := newEnv(t)
	dev := func() *pipeline.Runner { return e.runner(profiledStage(e), pipeline.WithProfiles("dev")) }
	prod := func() *pipeline.Runner { return e.runner(profiledStage(e), pipeline.WithProfiles("prod")) }

	e.mustRun(dev())
	again := e.mustRun(dev())
	if got := outcomes(again); got["seed"] != pipeline.StatusSkipped || got["prod-only"] != pipeline.StatusExcluded {
		t.Fatalf("dev's second run: %v", statuses(again))
	}
	if r := again.Changes()[3].Reason; !strings.Contains(r, "decided from the checkpoint") {
		t.Errorf("dev's second run did not start from its checkpoint: prod-only %q", r)
	}
	if n := again.Count(pipeline.StatusSkipped); n != 3 {
		t.Errorf("Count(skipped) from the checkpoint = %d, want 3", n)
	}

	// dev's checkpoint is current, and prod-only is pending for prod.
	res := e.mustRun(prod())
	if got := outcomes(res)["prod-only"]; got != pipeline.StatusApplied || e.ran("prod-only") != 1 {
		t.Fatalf("prod after dev's checkpoint: prod-only %s, ran %d times; want applied once", got, e.ran("prod-only"))
	}
	if res := e.mustRun(prod()); !strings.Contains(res.Changes()[0].Reason, "has not changed since") {
		t.Errorf("prod's second run did not start from its own checkpoint: %+v", res.Changes()[0])
	}

	// The reverse: prod saved the latest checkpoint; a new dev change is
	// pending for dev, and a runner without profiles has its own.
	e2 := newEnv(t)
	e2.mustRun(e2.runner(profiledStage(e2), pipeline.WithProfiles("prod")))
	e2.mustRun(e2.runner(profiledStage(e2), pipeline.WithProfiles("prod")))
	res = e2.mustRun(e2.runner(profiledStage(e2), pipeline.WithProfiles("dev")))
	if got := outcomes(res); got["seed"] != pipeline.StatusApplied || got["sample"] != pipeline.StatusApplied {
		t.Errorf("dev after prod's checkpoint: %v, want seed and sample applied", statuses(res))
	}
	if err := e2.runner(profiledStage(e2), pipeline.WithProfiles("dev")).Validate(context.Background()); err != nil {
		t.Errorf("dev Validate: %v", err)
	}
}

// TestAChangeThatLosesItsProfileIsPendingDespiteTheCheckpoint: the stage
// digest covers each change's profiles, so that a checkpoint saved while a
// change was excluded is not current once it runs everywhere.
func TestAChangeThatLosesItsProfileIsPendingDespiteTheCheckpoint(t *testing.T) {
	e := newEnv(t)
	withProfile := []pipeline.Stage{e.stage("s1",
		spec{id: "schema", order: 1, strategy: audit.StrategySharedTx},
		spec{id: "seed", order: 2, strategy: audit.StrategySharedTx, profiles: []string{"dev"}},
	)}
	e.mustRun(e.runner(withProfile))
	e.mustRun(e.runner(withProfile)) // from the checkpoint
	everywhere := []pipeline.Stage{e.stage("s1",
		spec{id: "schema", order: 1, strategy: audit.StrategySharedTx},
		spec{id: "seed", order: 2, strategy: audit.StrategySharedTx},
	)}
	res := e.mustRun(e.runner(everywhere))
	if got := outcomes(res)["seed"]; got != pipeline.StatusApplied || e.ran("seed") != 1 {
		t.Errorf("seed without its profile: %s, ran %d times; want applied once", got, e.ran("seed"))
	}
}

func TestProfilesAreValidated(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name string
		opt  pipeline.Option
		meta []string
		want string
	}{
		{"an empty runner profile", pipeline.WithProfiles("dev", ""), nil, `WithProfiles: invalid profile ""`},
		{"a negated runner profile", pipeline.WithProfiles("!prod"), nil, `'!' excludes a profile in a change's profile= only`},
		{"a runner profile with a dot", pipeline.WithProfiles("eu.prod"), nil, `WithProfiles: invalid profile "eu.prod"`},
		{"a change's profile listed twice", nil, []string{"dev", "dev"}, `change "a" (a.go:3): profile "dev" is listed twice`},
		{"a change's profile both plain and negated", nil, []string{"dev", "!dev"}, `profile "!dev" contradicts "dev"`},
		{"a change's empty profile", nil, []string{""}, `invalid profile ""`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var opts []pipeline.Option
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			_, err := pipeline.New(e.store, []pipeline.Stage{e.stage("s1", spec{id: "a", strategy: audit.StrategySharedTx, profiles: tt.meta})}, opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
