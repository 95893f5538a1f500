package pipeline

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/digest"
	"github.com/flamingock/flamingock-go/internal/isnil"
)

// Runner runs a pipeline of stages against an audit store. Build one with
// New; it is safe to call Plan and Run more than once, also concurrently:
// the lock lets one run at a time execute.
type Runner struct {
	store  audit.Store
	caps   *audit.Extended // what the store can do besides audit.Store, asked once
	stages []Stage
	total  int // changes in every stage
	// profiled is the number of changes, in every stage, that declare
	// profiles.
	profiled int
	cfg      config
	host     string
	// digest identifies the pipeline in checkpoints (audit.Checkpoint);
	// empty when the store keeps none.
	digest string

	// built is the pipeline's changes, bound to the store: built by New
	// unless a stage is Generated, then by the first operation that needs
	// them (see changes).
	once  sync.Once
	built built
}

// built is a pipeline's changes bound to its store.
type built struct {
	changes []*boundChange // every change of every stage, in pipeline order
	// stageOf is the stage that declares each change id, and stages the
	// set of stage names, for finding changes the trail records under
	// another stage (renamed).
	stageOf map[string]string
	stages  map[string]bool
	err     error
}

// boundChange is a change of the pipeline bound to the store.
type boundChange struct {
	stage       string
	meta        Meta
	hasRollback bool
	b           binding
}

func (c *boundChange) key() audit.Key { return audit.Key{Stage: c.stage, ChangeID: c.meta.ID} }

// ErrInvalidPipeline reports a pipeline that New could not check without
// building its changes (a change id used in two generated stages, a
// generated file edited by hand) and that the first run needing them
// refused. New returns the same problems, for the changes it builds.
var ErrInvalidPipeline = errors.New("invalid pipeline")

// New validates the pipeline and returns its runner. It reports every
// problem at once: a bad option, an empty or repeated stage name, an empty
// or repeated change id (ids are unique across the whole pipeline), a
// stage name, change id or target id longer than audit.MaxIDLen or an
// author longer than audit.MaxAuthorLen (no store takes them), orders
// not strictly increasing within a stage, an unknown recovery, a target or a
// dependency not wired, a target that cannot run a change as declared.
// Nothing touches the store or the targets.
//
// A Generated stage was checked by flamingock-gen: New checks its targets
// and dependencies and leaves its changes unbuilt, so that a start with
// nothing to do costs the same at any number of changes. What only its
// changes can show (a change id another stage uses too) is reported, as
// ErrInvalidPipeline, by the first Run, Plan, Validate or RollbackTo that
// builds them; no change runs before.
func New(store audit.Store, stages []Stage, opts ...Option) (*Runner, error) {
	var errs []error
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("nil option"))
			continue
		}
		if err := o.apply(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if isnil.Value(store) {
		return nil, errors.Join(append(errs, errors.New("audit store is nil"))...)
	}
	if len(stages) == 0 {
		errs = append(errs, errors.New("pipeline has no stages"))
	}
	r := &Runner{store: store, caps: audit.Extend(store), stages: stages, cfg: cfg}
	lazy := false
	stageErrs := make([][]error, len(stages))
	stageSeen := make(map[string]bool, len(stages))
	for i, st := range stages {
		var errs []error
		switch {
		case st.Name == "":
			errs = append(errs, fmt.Errorf("stage #%d has no name", i+1))
		case stageSeen[st.Name]:
			errs = append(errs, fmt.Errorf("stage %q is listed twice", clip(st.Name)))
		case len(st.Name) > audit.MaxIDLen:
			errs = append(errs, fmt.Errorf("stage %q: %s", clip(st.Name), tooLong("name", st.Name, audit.MaxIDLen)))
		}
		stageSeen[st.Name] = true
		for _, d := range st.Deps {
			if unset(d.Value) {
				errs = append(errs, fmt.Errorf("stage %q: dependency %s is not set (%s it): set it", clip(st.Name), d.Name, quoteList("change", d.Changes)))
			}
		}
		if st.Generated != nil {
			lazy = true
			errs = append(errs, checkGenerated(store, st)...)
			r.total += st.Generated.Len
			r.profiled += st.Generated.Profiled
		} else {
			r.total += len(st.Changes)
			for _, c := range st.Changes {
				if len(c.meta.Profiles) > 0 {
					r.profiled++
				}
			}
		}
		stageErrs[i] = errs
	}
	if !lazy {
		// Every stage is listed by hand: build and check every change now,
		// and report its problems with the stages'.
		b, changeErrs := r.build()
		for i := range stageErrs {
			errs = append(errs, stageErrs[i]...)
			errs = append(errs, changeErrs[i]...)
		}
		r.once.Do(func() { r.built = b })
	} else {
		errs = append(errs, slices.Concat(stageErrs...)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid pipeline:\n%w", err)
	}
	if r.caps.KeepsCheckpoints() {
		r.digest = pipelineDigest(stages, r.cfg.profiles)
	}
	r.host, _ = os.Hostname()
	if r.host == "" {
		r.host = "unknown-host"
	}
	if r.cfg.runnerID == "" {
		r.cfg.runnerID = fmt.Sprintf("%s-%d-%s", r.host, os.Getpid(), rand.Text()[:8])
	}
	return r, nil
}

// changes returns the pipeline's changes bound to the store, building and
// checking them at the first call. The error matches ErrInvalidPipeline.
func (r *Runner) changes() (*built, error) {
	r.once.Do(func() {
		var errs [][]error
		r.built, errs = r.build()
		if err := errors.Join(slices.Concat(errs...)...); err != nil {
			r.built = built{err: &invalidError{err}}
		}
	})
	if r.built.err != nil {
		return nil, r.built.err
	}
	return &r.built, nil
}

// build builds and checks every change of the pipeline, the part of New
// that a Generated stage defers, and returns the problems of each stage.
func (r *Runner) build() (built, [][]error) {
	stageErrs := make([][]error, len(r.stages))
	// One allocation for all of the changes rather than one each.
	bound := make([]boundChange, 0, r.total)
	out := built{changes: make([]*boundChange, 0, r.total), stages: make(map[string]bool, len(r.stages))}
	idSeen := make(map[string]string, r.total) // change id -> stage that declares it
	for i, st := range r.stages {
		var errs []error
		out.stages[st.Name] = true
		changes := st.Changes
		if g := st.Generated; g != nil {
			changes = g.Changes()
			if sum := stageDigest(changes); len(changes) != g.Len || sum != g.Digest {
				stageErrs[i] = append(errs, fmt.Errorf("stage %q: its generated file says %d changes of digest %s, and builds %d of digest %s: "+
					"it was edited by hand; run go generate", clip(st.Name), g.Len, g.Digest, len(changes), sum))
				continue
			}
			if n := countProfiled(changes); n != g.Profiled {
				stageErrs[i] = append(errs, fmt.Errorf("stage %q: its generated file says %d changes declare profiles, and builds %d that do: "+
					"it was edited by hand; run go generate", clip(st.Name), g.Profiled, n))
				continue
			}
		}
		for j, c := range changes {
			m := c.meta
			// where names the change in errors; built only for one, since
			// this runs over every change.
			where := func() string {
				if m.Source != "" {
					return fmt.Sprintf("stage %q: change %q (%s)", clip(st.Name), clip(m.ID), m.Source)
				}
				return fmt.Sprintf("stage %q: change %q", clip(st.Name), clip(m.ID))
			}
			if m.ID == "" {
				errs = append(errs, fmt.Errorf("stage %q: change #%d has no id", clip(st.Name), j+1))
			} else if prev, dup := idSeen[m.ID]; dup {
				errs = append(errs, fmt.Errorf("%s: id already used in stage %q", where(), clip(prev)))
			} else {
				idSeen[m.ID] = st.Name
			}
			// What no store takes would fail every run at its first append.
			for _, f := range [...]struct {
				name, value string
				bound       int
			}{
				{"id", m.ID, audit.MaxIDLen},
				{"target id", m.Target, audit.MaxIDLen},
				{"author", m.Author, audit.MaxAuthorLen},
			} {
				if len(f.value) > f.bound {
					errs = append(errs, fmt.Errorf("%s: %s", where(), tooLong(f.name, f.value, f.bound)))
				}
			}
			if j > 0 && m.Order.Compare(changes[j-1].meta.Order) <= 0 {
				errs = append(errs, fmt.Errorf("%s: order %s does not follow order %s of change %q",
					where(), m.Order, changes[j-1].meta.Order, clip(changes[j-1].meta.ID)))
			}
			if !m.recovery().Valid() {
				errs = append(errs, fmt.Errorf("%s: unknown recovery %q (want %s or %s)",
					where(), m.Recovery, audit.RecoveryManual, audit.RecoveryRetry))
			}
			if msg := profilesProblem(m.Profiles); msg != "" {
				errs = append(errs, fmt.Errorf("%s: %s", where(), msg))
			}
			if m.Compensate && !c.hasRollback {
				errs = append(errs, fmt.Errorf("%s: Compensate is set, but the change has no rollback to compensate with", where()))
			}
			if c.fn == nil {
				errs = append(errs, fmt.Errorf("%s: not built with NewChange", where()))
				continue
			}
			b, err := c.fn.bind(r.store, m)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where(), err))
				continue
			}
			b.leaseTTL = r.cfg.leaseTTL
			m.Recovery = m.recovery()
			bound = append(bound, boundChange{stage: st.Name, meta: m, hasRollback: c.hasRollback, b: b})
			out.changes = append(out.changes, &bound[len(bound)-1])
		}
		stageErrs[i] = errs
	}
	out.stageOf = idSeen
	return out, stageErrs
}

// invalidError is a pipeline refused when its changes were built.
type invalidError struct{ err error }

func (e *invalidError) Error() string   { return "invalid pipeline:\n" + e.err.Error() }
func (e *invalidError) Unwrap() []error { return []error{ErrInvalidPipeline, e.err} }

// tooLong says that value, the named field, is longer than bound bytes, in
// the words of audit.Entry.CheckBounds.
func tooLong(field, value string, bound int) string {
	return fmt.Sprintf("%s of %d bytes is longer than the %d every store takes", field, len(value), bound)
}

// clip shortens, for messages, a name longer than any store takes: its
// first 32 bytes or fewer, cut before a character, and "…".
func clip(s string) string {
	if len(s) <= audit.MaxIDLen {
		return s
	}
	n := 32
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// pipelineDigest returns the digest of a pipeline run by a runner of
// active profiles: its stages' names and the digests of their changes
// (stageDigest), in order, which a Generated stage brings computed, and
// the active profiles. Only the stage, id, checksum and profiles of each
// change and the runner's profiles decide whether a run has anything to do
// (and the checksum whether Plan reports a changed source), so a pipeline
// that differs in them never trusts the checkpoint of another: a
// checkpoint saved by a dev runner, which left the prod changes out, is not
// current for a prod runner, nor the reverse.
func pipelineDigest(stages []Stage, profiles []string) string {
	names, sums := make([]string, len(stages)), make([]string, len(stages))
	for i, st := range stages {
		names[i] = st.Name
		if st.Generated != nil {
			sums[i] = st.Generated.Digest
		} else {
			sums[i] = stageDigest(st.Changes)
		}
	}
	return digest.Pipeline(names, sums, profiles...)
}

// stageDigest returns the digest of a stage's changes, as flamingock-gen
// computes it for a Generated stage.
func stageDigest(changes []Change) string {
	d := digest.NewStage()
	for _, c := range changes {
		d.AddProfiled(c.meta.ID, c.meta.Checksum, c.meta.Profiles)
	}
	return d.Sum()
}

// countProfiled is the number of changes that declare profiles.
func countProfiled(changes []Change) int {
	n := 0
	for _, c := range changes {
		if len(c.meta.Profiles) > 0 {
			n++
		}
	}
	return n
}

// RunnerID is the identity this runner records and locks as.
func (r *Runner) RunnerID() string { return r.cfg.runnerID }

// quoteList names ids after noun as the subject of "take": change "a"
// takes, changes "a", "b" take.
func quoteList(noun string, ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	if len(ids) == 1 {
		return noun + " " + q[0] + " takes"
	}
	return noun + "s " + strings.Join(q, ", ") + " take"
}
