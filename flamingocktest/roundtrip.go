package flamingocktest

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// Snapshot returns the state of what the changes under test change (the
// tables they create, the rows, the flags), as plain data that go-cmp
// compares: maps, slices, strings, numbers, structs of exported fields. It
// says what "the same state" means for the test: a flag file rewritten with
// a flag off may count as the file without it.
type Snapshot func(ctx context.Context) (any, error)

// RoundTripReport is what RoundTrip checked.
type RoundTripReport struct {
	// Checked are the changes whose rollback was run, in pipeline order:
	// each one either passed or failed the test with a message naming it.
	Checked []string
	// Unchecked are the changes whose rollback was not run, in pipeline
	// order, each with why: it declares none, or it was applied before the
	// round trip (given, or by an earlier run), so that what it changed is
	// not known.
	Unchecked []Unchecked
}

// Unchecked is a change RoundTrip did not roll back.
type Unchecked struct {
	ChangeID string
	Reason   string
}

// RoundTrip applies stages one change at a time, in pipeline order, and
// checks that each change's rollback is the inverse of the change: right
// after applying a change that declares a rollback, it rolls the change back
// (RollbackTo with Inclusive, on the pipeline cut after the change, so that
// the rollback runs in the state where RollbackTo runs it in production,
// every later change rolled back first) and applies it again. With snapshot,
// the state after the rollback must be the state before the change, and the
// state after the second application the state after the first; each
// difference fails the test with a diff naming the change. Without one,
// RoundTrip checks that each rollback and the application after it succeed.
//
// A change without a rollback is applied and listed as unchecked (t.Log and
// the report), as is a change already applied when RoundTrip starts. The
// first run or rollback that fails stops the round trip, failing the test.
// At the end, when nothing failed, every change of stages is applied.
func (k *Kit) RoundTrip(snapshot Snapshot, stages ...pipeline.Stage) RoundTripReport {
	k.check()
	k.tb.Helper()
	var rep RoundTripReport
	if snapshot == nil {
		k.tb.Log("flamingocktest: RoundTrip without a snapshot: it checks that each rollback and the application after it succeed, not that they restore the state")
	}
	ctx := k.ctx()
	snap := func(when string) (any, bool) {
		k.tb.Helper()
		if snapshot == nil {
			return nil, true
		}
		s, err := snapshot(ctx)
		if err != nil {
			k.tb.Errorf("flamingocktest: RoundTrip: snapshot %s: %v", when, err)
			return nil, false
		}
		return s, true
	}
	var done []pipeline.Stage // the stages wholly applied
	for _, st := range stages {
		changes := k.changesOf(st)
		for i, c := range changes {
			id := c.Meta().ID
			cut := pipeline.Stage{Name: st.Name, Changes: changes[: i+1 : i+1], Deps: st.Deps}
			r := k.Runner(append(slices.Clone(done), cut)...)
			p, err := r.Plan(ctx)
			if err != nil {
				k.tb.Errorf("flamingocktest: RoundTrip: plan before change %q: %v\n%s", id, err, k.table())
				return rep
			}
			if a := p.Changes[len(p.Changes)-1].Action; a == pipeline.ActionSkip || a == pipeline.ActionRecover {
				rep.unchecked(k, id, "applied before the round trip")
				continue
			}
			before, ok := snap(fmt.Sprintf("before change %q", id))
			if !ok {
				return rep
			}
			if _, err := r.Run(ctx); err != nil {
				k.tb.Errorf("flamingocktest: RoundTrip: apply change %q: %v\n%s", id, err, k.table())
				return rep
			}
			if !c.HasRollback() {
				rep.unchecked(k, id, "declares no rollback")
				continue
			}
			after, ok := snap(fmt.Sprintf("after change %q", id))
			if !ok {
				return rep
			}
			rep.Checked = append(rep.Checked, id)
			if _, err := r.RollbackTo(ctx, id, pipeline.Inclusive()); err != nil {
				k.tb.Errorf("flamingocktest: RoundTrip: roll back change %q: %v\n%s", id, err, k.table())
				return rep
			}
			undone, ok := snap(fmt.Sprintf("after rolling back change %q", id))
			if !ok {
				return rep
			}
			if diff, err := compare(before, undone); err != nil || diff != "" {
				k.tb.Errorf("flamingocktest: RoundTrip: the rollback of change %q is not its inverse: the state after it differs from the state before the change (-before the change +after its rollback):\n%s%s",
					id, diff, errText(err))
			}
			if _, err := r.Run(ctx); err != nil {
				k.tb.Errorf("flamingocktest: RoundTrip: apply change %q again after its rollback: %v\n%s", id, err, k.table())
				return rep
			}
			again, ok := snap(fmt.Sprintf("after applying change %q again", id))
			if !ok {
				return rep
			}
			if diff, err := compare(after, again); err != nil || diff != "" {
				k.tb.Errorf("flamingocktest: RoundTrip: change %q applied again after its rollback gives another state than its first application (-first +again):\n%s%s",
					id, diff, errText(err))
			}
		}
		done = append(done, st)
	}
	return rep
}

func (rep *RoundTripReport) unchecked(k *Kit, id, reason string) {
	k.tb.Helper()
	rep.Unchecked = append(rep.Unchecked, Unchecked{ChangeID: id, Reason: reason})
	k.tb.Logf("flamingocktest: RoundTrip: change %q not checked: %s", id, reason)
}

// compare diffs two snapshots; go-cmp panics on what it cannot compare
// (unexported fields), which is the test's snapshot to fix.
func compare(x, y any) (diff string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the snapshots cannot be compared: %v: return plain data (maps, slices, structs of exported fields)", p)
		}
	}()
	return cmp.Diff(x, y), nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
