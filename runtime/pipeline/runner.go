package pipeline

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flamingock/flamingock-go/audit"
)

// Runner runs a pipeline of stages against an audit store. Build one with
// New; it is safe to call Plan and Run more than once, also concurrently:
// the lock lets one run at a time execute.
type Runner struct {
	store   audit.Store
	changes []*boundChange // every change of every stage, in pipeline order
	cfg     config
	host    string
	// digest identifies the pipeline in checkpoints (audit.Checkpoint);
	// empty when the store keeps none.
	digest string
	// stageOf is the stage that declares each change id, and stages the
	// set of stage names, for finding changes the trail records under
	// another stage (renamed).
	stageOf map[string]string
	stages  map[string]bool
}

// boundChange is a change of the pipeline bound to the store.
type boundChange struct {
	stage       string
	meta        Meta
	hasRollback bool
	b           binding
}

func (c *boundChange) key() audit.Key { return audit.Key{Stage: c.stage, ChangeID: c.meta.ID} }

// New validates the pipeline and returns its runner. It reports every
// problem at once: a bad option, an empty or repeated stage name, an empty
// or repeated change id (ids are unique across the whole pipeline), a
// stage name, change id or target id longer than audit.MaxIDLen or an
// author longer than audit.MaxAuthorLen (no store takes them), orders
// not strictly increasing within a stage, an unknown recovery, a target or a
// dependency not wired, a target that cannot run a change as declared. Nothing touches the
// store or the targets.
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
	if isNil(store) {
		return nil, errors.Join(append(errs, errors.New("audit store is nil"))...)
	}
	if len(stages) == 0 {
		errs = append(errs, errors.New("pipeline has no stages"))
	}
	// New runs at every start over every change: one allocation for all
	// of them rather than one each.
	total := 0
	for _, st := range stages {
		total += len(st.Changes)
	}
	bound := make([]boundChange, 0, total)
	r := &Runner{store: store, cfg: cfg, changes: make([]*boundChange, 0, total)}
	stageSeen := make(map[string]bool, len(stages))
	idSeen := make(map[string]string, total) // change id -> stage that declares it
	for i, st := range stages {
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
		for j, c := range st.Changes {
			m := c.meta
			// where names the change in errors; built only for one, since New
			// runs at every start over every change.
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
			if j > 0 && m.Order <= st.Changes[j-1].meta.Order {
				errs = append(errs, fmt.Errorf("%s: order %d does not follow order %d of change %q",
					where(), m.Order, st.Changes[j-1].meta.Order, clip(st.Changes[j-1].meta.ID)))
			}
			if !m.recovery().Valid() {
				errs = append(errs, fmt.Errorf("%s: unknown recovery %q (want %s or %s)",
					where(), m.Recovery, audit.RecoveryManual, audit.RecoveryRetry))
			}
			if m.Compensate && !c.hasRollback {
				errs = append(errs, fmt.Errorf("%s: Compensate is set, but the change has no rollback to compensate with", where()))
			}
			if c.fn == nil {
				errs = append(errs, fmt.Errorf("%s: not built with NewChange", where()))
				continue
			}
			b, err := c.fn.bind(store, m)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where(), err))
				continue
			}
			b.leaseTTL = cfg.leaseTTL
			m.Recovery = m.recovery()
			bound = append(bound, boundChange{stage: st.Name, meta: m, hasRollback: c.hasRollback, b: b})
			r.changes = append(r.changes, &bound[len(bound)-1])
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid pipeline:\n%w", err)
	}
	r.stageOf, r.stages = idSeen, stageSeen
	if _, ok := store.(audit.Checkpointer); ok {
		r.digest = digest(r.changes)
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

// digest returns the digest of a pipeline of changes: the stage, id and
// checksum of every change, in pipeline order, each field prefixed with its
// length so that no two pipelines share one. Only these decide whether a
// run has anything to do (and the checksum whether Plan reports a changed
// source), so a pipeline that differs in them never trusts the checkpoint
// of another.
func digest(changes []*boundChange) string {
	h := sha256.New()
	// Hashed in blocks of a few KiB: one Write per change costs more than
	// the hashing, and one buffer for the whole pipeline grows and is
	// copied, at every start.
	buf := make([]byte, 0, 8<<10)
	buf = append(buf, "flamingock-go pipeline digest 1\n"...)
	for _, c := range changes {
		for _, f := range [...]string{c.stage, c.meta.ID, c.meta.Checksum} {
			buf = binary.AppendUvarint(buf, uint64(len(f)))
			buf = append(buf, f...)
		}
		if len(buf) >= 4<<10 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
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
