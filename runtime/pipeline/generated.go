package pipeline

import (
	"context"
	"fmt"

	"github.com/flamingock/flamingock-go/audit"
)

// Generated is a stage as flamingock-gen built and checked it: what a start
// needs to know of the stage without building its changes. An up-to-date
// start then does the same work at 10 changes as at 10,000: New checks the
// targets and dependencies, Run compares the pipeline's digest with the
// store's checkpoint, and the changes are built only by a run that has
// something to do (or by Plan, Validate, RollbackTo and Result.Changes).
// Hand-written stages list their Changes instead.
type Generated struct {
	// Digest identifies the stage's changes: their ids and checksums, in
	// order (see internal/digest). When the changes are built, a digest
	// that is not theirs fails the run: the generated file was edited.
	Digest string
	// Len is the number of changes.
	Len int
	// Profiled is the number of changes that declare profiles (the
	// generated file sets it only when there are some): a start that found
	// the pipeline's checkpoint current counts its skipped changes without
	// building them only when no change of it may be excluded by profile.
	Profiled int
	// Targets are the targets the changes run on, once per way a change is
	// declared on each (transactional or not).
	Targets []TargetUse
	// Changes builds the changes, in order: once for a run that needs
	// them, and again for Result.Changes of a start that did not.
	Changes func() []Change
}

// TargetUse is a target that changes of a generated stage run on, as New
// checks it without building the changes. Build one with Uses.
type TargetUse struct {
	check func(store audit.Store) error
}

// Uses says that changes declared transactional (or not) run on target t,
// of id id: New checks that t is wired and can run them, as it would for
// each of the changes.
func Uses[H any](id string, t Target[H], transactional bool) TargetUse {
	return TargetUse{check: func(store audit.Store) error {
		f := changeFunc[H]{target: t, apply: func(context.Context, H) error { return nil }}
		_, err := f.bind(store, Meta{Target: id, WithoutTransaction: !transactional})
		return err
	}}
}

// checkGenerated reports what New can tell of a generated stage without
// building its changes.
func checkGenerated(store audit.Store, st Stage) []error {
	g := st.Generated
	var errs []error
	if g.Changes == nil || g.Digest == "" || g.Len < 0 {
		errs = append(errs, fmt.Errorf("stage %q: Generated needs Changes, a Digest and a Len, as flamingock-gen writes them: run go generate", clip(st.Name)))
	}
	if len(st.Changes) > 0 {
		errs = append(errs, fmt.Errorf("stage %q: both Changes and Generated are set", clip(st.Name)))
	}
	for _, u := range g.Targets {
		if u.check == nil {
			errs = append(errs, fmt.Errorf("stage %q: a target use not built with pipeline.Uses", clip(st.Name)))
			continue
		}
		if err := u.check(store); err != nil {
			errs = append(errs, fmt.Errorf("stage %q: %w", clip(st.Name), err))
		}
	}
	return errs
}
