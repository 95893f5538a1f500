package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/flamingock/flamingock-go/audit"
)

// importHistory calls the runner's importer with p, the plan decided under
// the lock, and returns the plan to run: decided again when the importer
// recorded marks, so that imported changes are skipped, an uncertain one
// is an issue, and the checkpoint counts the entries appended. An error of
// the importer matches ErrImport; then nothing has run.
//
// Marks are appended one by one, in pipeline order, each under the lease:
// audit.Store appends one entry at a time. A store able to append them in
// one transaction (SQLite, PostgreSQL) is not asked to: the import is all
// or nothing where it matters, since no change runs until every mark is
// recorded, and a capability for it would only save the next start from
// completing it. A crash between two appends leaves the first marks recorded and
// the others not; the changes not recorded still have no entry, so the
// next start calls the importer again, which sees the recorded ones with
// their entries and records only the rest. Meanwhile the changes not
// recorded are never run: the lock is held until the importer returns,
// and a run stopped by the crash runs nothing.
func (x *execution) importHistory(ctx context.Context, p *Plan) (*Plan, error) {
	rec := x.marker(p)
	err := x.r.cfg.importer.Import(ctx, ImportRequest{Changes: slices.Clone(p.Changes), Record: rec.record})
	wrote := rec.close()
	if err != nil {
		if wrote > 0 {
			// What the importer recorded before failing is in the trail:
			// report it as the next start will see it.
			if q, perr := x.r.plan(ctx); perr == nil {
				p = q
			}
		}
		return p, fmt.Errorf("%w: %w", ErrImport, err)
	}
	if wrote == 0 {
		return p, nil
	}
	x.log.Info("imported", "marks", wrote)
	return x.r.plan(ctx)
}

// unrecorded reports whether a change of p has no entry in the trail.
func (p *Plan) unrecorded() bool {
	return slices.ContainsFunc(p.Changes, func(c PlannedChange) bool { return c.Latest == nil })
}

// marks records Marks for an execution holding the lock: the Record of an
// ImportRequest, and Baseline's.
type marks struct {
	x *execution
	p *Plan // decided under the lock; p.Changes[i] is x.r.built.changes[i]

	mu       sync.Mutex
	index    map[audit.Key]int
	recorded map[audit.Key]bool // by this execution
	wrote    int
	closed   bool
}

// marker returns the recorder of marks against p.
func (x *execution) marker(p *Plan) *marks {
	m := &marks{x: x, p: p, index: make(map[audit.Key]int, len(p.Changes)), recorded: make(map[audit.Key]bool)}
	for i, c := range p.Changes {
		m.index[audit.Key{Stage: c.Stage, ChangeID: c.ChangeID}] = i
	}
	return m
}

// close ends recording (a Record called afterwards is refused) and returns
// how many marks were recorded.
func (m *marks) close() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return m.wrote
}

// record checks every mark and, when all are valid, appends one entry per
// mark in pipeline order (see importHistory for a crash between two).
func (m *marks) record(ctx context.Context, ms []Mark) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("record marks: the import is over: Record must be called before Import returns")
	}
	at, err := m.check(ms)
	if err != nil {
		return fmt.Errorf("record marks: nothing recorded:\n%w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record marks: nothing recorded: %w", err)
	}
	slices.SortFunc(at, func(a, b int) int { return m.index[ms[a].key()] - m.index[ms[b].key()] })
	for n, i := range at {
		mk := ms[i]
		c := m.x.r.built.changes[m.index[mk.key()]]
		if _, err := m.x.lease.valid(ctx); err != nil {
			return m.stopped(n, len(at), &LockLostError{Stage: c.stage, ChangeID: c.meta.ID, Err: err})
		}
		e := m.x.markEntry(c, mk)
		if err := m.x.record(ctx, c, e); err != nil {
			return m.stopped(n, len(at), err)
		}
		m.recorded[mk.key()] = true
		m.wrote++
		m.x.log.Info("marked", "stage", c.stage, "change", c.meta.ID, "state", e.State, "operator", mk.Operator, "reason", mk.Reason)
		m.x.emit(Event{Kind: EventMarked, Stage: c.stage, ChangeID: c.meta.ID, State: e.State, Reason: mk.Reason})
	}
	return nil
}

// stopped is the error of a record that appended n of total marks.
func (m *marks) stopped(n, total int, err error) error {
	if n == 0 {
		return fmt.Errorf("record marks: nothing recorded: %w", err)
	}
	return fmt.Errorf("record marks: %d of %d recorded, the next start records the rest: %w", n, total, err)
}

// check returns the indexes of ms, or every problem of ms at once: a
// change not in the pipeline, one that already has an entry, one named
// twice, an empty operator or reason, metadata that is not a JSON object.
func (m *marks) check(ms []Mark) ([]int, error) {
	var errs []error
	seen := make(map[audit.Key]int, len(ms))
	at := make([]int, 0, len(ms))
	for i, mk := range ms {
		k := mk.key()
		where := fmt.Sprintf("mark #%d, change %q (stage %q)", i+1, clip(mk.ChangeID), clip(mk.Stage))
		j, ok := m.index[k]
		switch prev, dup := seen[k]; {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: no such change in the pipeline", where))
		case dup:
			errs = append(errs, fmt.Errorf("%s: already named by mark #%d", where, prev+1))
		case m.recorded[k]:
			errs = append(errs, fmt.Errorf("%s: already recorded by this execution", where))
		case m.p.Changes[j].Latest != nil:
			l := m.p.Changes[j].Latest
			errs = append(errs, fmt.Errorf("%s: already has an entry (%s, seq %d): only a change with no entry can be marked", where, l.State, l.Seq))
		}
		seen[k] = i
		if mk.Operator == "" || mk.Reason == "" {
			errs = append(errs, fmt.Errorf("%s: a mark needs an operator and a reason", where))
		}
		if md := bytes.TrimSpace(mk.Metadata); len(md) > 0 && (md[0] != '{' || !json.Valid(md)) {
			errs = append(errs, fmt.Errorf("%s: metadata is not a JSON object: %.64s", where, md))
		}
		at = append(at, i)
	}
	return at, errors.Join(errs...)
}

func (mk Mark) key() audit.Key { return audit.Key{Stage: mk.Stage, ChangeID: mk.ChangeID} }

// markEntry is the entry recording mk for c: MANUAL_MARKED_AS_APPLIED
// with the code's current checksum (so that an edit from then on is a
// drift), or, when the outcome is uncertain, FAILED without a transaction
// and with recovery MANUAL, which the next decision reports as an issue.
func (x *execution) markEntry(c *boundChange, mk Mark) audit.Entry {
	e := x.entry(c, audit.StateManualApplied, c.b.strategy, 0, nil)
	if mk.Uncertain {
		// Without a transaction whatever the change declares: nothing
		// rolled the old tool's attempt back, so only an operator can tell
		// what it did.
		e.State, e.Strategy, e.Recovery = audit.StateFailed, audit.StrategyNonTx, audit.RecoveryManual
		e.ErrorMessage = fmt.Sprintf("outcome unknown: not run by flamingock-go; %s says: %s", mk.Operator, mk.Reason)
	}
	e.Operator, e.Reason = mk.Operator, mk.Reason
	if len(bytes.TrimSpace(mk.Metadata)) > 0 {
		e.Metadata = mk.Metadata
	}
	return e
}
