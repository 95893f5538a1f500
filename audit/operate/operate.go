// Package operate is what an operator does to a pipeline's audit store,
// as a library: list every change with its verdict, find one change,
// record that an operator resolved a change's issue, and free the lock of
// a runner that is gone. The flamingock command is a shell over it;
// applications call it to offer the same operations (an admin endpoint, a
// subcommand of their own) without building that command.
//
// Resolving an issue is a protocol, not one write: [Session.Resolve]
// checks the change without the lock (a wrong id or a change without an
// issue costs no lock acquisition), takes the pipeline's lock, checks the
// change again under it (a run may have resolved it meanwhile), appends a
// manual entry that records the operator and the reason, and releases the
// lock with a context of its own, so that a cancelled caller does not
// leave the lock held until its lease expires. With Mark.Force it also
// marks applied a change the trail has no entry of, one that never ran
// and whose effects are in place; an application that knows its pipeline
// marks every change up to one at once with pipeline's Runner.Baseline.
//
// Example:
//
//	s, err := operate.Open(ctx, "sqlite:app.db", operate.Options{})
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	all, _, err := s.Snapshot(ctx) // every change, with its verdict
//	if err != nil {
//		return err
//	}
//	for _, a := range all {
//		if a.Verdict == audit.VerdictIssue {
//			fmt.Println(a.Latest.ChangeID, a.Problem)
//		}
//	}
//	e, err := s.Resolve(ctx, operate.Mark{
//		ChangeID: "add-email",
//		State:    audit.StateManualApplied, // its effects are in place
//		Operator: "alice@ops",
//		Reason:   "column email exists with its index",
//	})
//
// A store already open in the application is wrapped with [New]. Names of
// stores in messages and in [Session.Name] never show a password.
package operate

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/storeurl"
)

// LockTTL is how long a [Session] holds the pipeline's lock for one write.
const LockTTL = time.Minute

// Options say how to open a store with [Open].
type Options struct {
	// TablePrefix and Schema are those of storeurl.Options; empty for the
	// defaults.
	TablePrefix, Schema string
	// LockKey is the pipeline's lock key; empty for audit.DefaultLockKey.
	LockKey string
	// ReadOnly opens the store writing nothing to it, not even its tables
	// (storeurl.Options.ReadOnly); Resolve and ForceRelease then fail.
	ReadOnly bool
}

// Session is an open audit store, the pipeline lock it is operated under,
// and how to name it. Its zero value is not usable: use [Open] or [New].
type Session struct {
	store audit.Store
	// name is the store URL without its password.
	name    string
	lockKey string
	// locator names the store in the commands printed as guidance.
	locator audit.Locator

	// Now is the clock of the entries Resolve writes (time.Now if nil).
	Now func() time.Time
	// Host is the host Resolve records and names its lock owner after
	// (os.Hostname if empty).
	Host string
	// Warn receives what went wrong without failing the operation: a lock
	// that could not be released (it frees itself when its lease ends).
	// Nil drops it.
	Warn func(msg string)
}

// Open opens the existing store url names (sqlite:PATH, postgres://…,
// mongodb://…). It creates no SQLite file: a store is created by its
// application's first run. With opts.ReadOnly it writes nothing, and a
// database without an audit trail is an error (storeurl.ErrNotStore).
// An url that names no store is storeurl.ErrInvalid.
func Open(ctx context.Context, url string, opts Options) (*Session, error) {
	store, err := storeurl.Open(ctx, url, storeurl.Options{
		TablePrefix: opts.TablePrefix,
		Schema:      opts.Schema,
		Existing:    true,
		ReadOnly:    opts.ReadOnly,
	})
	switch {
	case errors.Is(err, storeurl.ErrInvalid), errors.Is(err, storeurl.ErrNotStore):
		return nil, err // "STORE is not an audit store: why"
	case err != nil:
		return nil, fmt.Errorf("open audit store %w", err)
	}
	return New(store, storeurl.Redact(url), opts.LockKey), nil
}

// New operates store, an audit store the application has open, under lock
// key lockKey (audit.DefaultLockKey if empty). name is how messages name
// the store: it must not hold a password (storeurl.Redact). The commands
// printed as guidance name the store by its audit.Locator (URL, schema,
// table prefix); name is their --store only for a store that cannot know
// its URL (a MongoDB store made by mongo.New), so pass its URL then.
func New(store audit.Store, name, lockKey string) *Session {
	if lockKey == "" {
		lockKey = audit.DefaultLockKey
	}
	loc := audit.Extend(store).Locator()
	if loc.URL == "" {
		loc.URL = name
	}
	return &Session{store: store, name: name, lockKey: lockKey, locator: loc}
}

// Store is the audit store operated on.
func (s *Session) Store() audit.Store { return s.store }

// Name is the store as messages name it, without its password.
func (s *Session) Name() string { return s.name }

// LockKey is the pipeline's lock key.
func (s *Session) LockKey() string { return s.lockKey }

// Resolutions are the flamingock commands that resolve a's issue; none
// unless a is an issue.
func (s *Session) Resolutions(a audit.Assessment) []audit.Resolution {
	if a.Verdict != audit.VerdictIssue {
		return nil
	}
	return audit.Resolutions(a.Latest.ChangeID, s.locator.Args(s.lockKey)...)
}

// Close closes the store.
func (s *Session) Close() error { return s.store.Close() }

// History reads the audit trail's entries that f selects, oldest first.
func (s *Session) History(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	h, err := s.store.History(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read the audit trail of %s: %w", s.name, err)
	}
	return h, nil
}

// Snapshot returns the assessment of every change's latest entry under the
// pipeline's lock (audit.Assessment.UnderLock: a change its runner is
// applying now is running, not an issue), sorted by stage, then order, then
// id, and the lock.
func (s *Session) Snapshot(ctx context.Context) ([]audit.Assessment, audit.LockInfo, error) {
	latest, err := s.store.Snapshot(ctx)
	if err != nil {
		return nil, audit.LockInfo{}, fmt.Errorf("read the audit trail of %s: %w", s.name, err)
	}
	// Read after the trail: a change that ended meanwhile is seen with a
	// lock its runner may have released, so it is not shown running.
	lock, err := s.Lock(ctx)
	if err != nil {
		return nil, audit.LockInfo{}, err
	}
	out := make([]audit.Assessment, len(latest))
	for i, e := range latest {
		out[i] = audit.Assess(e).UnderLock(lock)
	}
	slices.SortFunc(out, func(a, b audit.Assessment) int {
		x, y := a.Latest, b.Latest
		return cmp.Or(strings.Compare(x.Stage, y.Stage), x.Order.Compare(y.Order), strings.Compare(x.ChangeID, y.ChangeID))
	})
	return out, lock, nil
}

// AmbiguousError is a change id that is in several stages, looked up
// without a stage.
type AmbiguousError struct {
	ChangeID string
	Stages   []string
}

func (e *AmbiguousError) Error() string {
	var stages []string
	for _, s := range e.Stages {
		stages = append(stages, fmt.Sprintf("%q", s))
	}
	return fmt.Sprintf("change id %q is in stages %s: add --stage NAME", e.ChangeID, strings.Join(stages, ", "))
}

// Find returns the assessment of change id, in stage when it is not empty,
// and the lock it was assessed under. An id that is not in the trail is an
// error; an id in several stages, without a stage, is an *AmbiguousError.
func (s *Session) Find(ctx context.Context, id, stage string) (audit.Assessment, audit.LockInfo, error) {
	all, lock, err := s.Snapshot(ctx)
	if err != nil {
		return audit.Assessment{}, audit.LockInfo{}, err
	}
	return s.find(all, lock, id, stage)
}

// find is Find in all, the assessments read under lock.
func (s *Session) find(all []audit.Assessment, lock audit.LockInfo, id, stage string) (audit.Assessment, audit.LockInfo, error) {
	var found []audit.Assessment
	for _, a := range all {
		if a.Latest.ChangeID == id && (stage == "" || a.Latest.Stage == stage) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		where := ""
		if stage != "" {
			where = fmt.Sprintf(" in stage %q", stage)
		}
		return audit.Assessment{}, lock, fmt.Errorf("no change %q%s in the audit trail of %s: check the id (flamingock audit list shows every change)", id, where, s.name)
	case 1:
		return found[0], lock, nil
	}
	amb := &AmbiguousError{ChangeID: id}
	for _, a := range found {
		amb.Stages = append(amb.Stages, a.Latest.Stage)
	}
	return audit.Assessment{}, lock, amb
}

// Lock reads the pipeline's lock.
func (s *Session) Lock(ctx context.Context) (audit.LockInfo, error) {
	info, err := s.store.Lock(ctx, s.lockKey)
	if err != nil {
		return audit.LockInfo{}, fmt.Errorf("read lock %q of %s: %w", s.lockKey, s.name, err)
	}
	return info, nil
}

// Mark is an operator's resolution of a change's issue.
type Mark struct {
	// ChangeID is the change; Stage its stage, needed only when its id is
	// in several.
	ChangeID, Stage string
	// State is what is true of the change: audit.StateManualApplied (its effects
	// are in place) or audit.StateManualRolledBack (it had no effect, or was
	// undone); see audit.Resolutions.
	State audit.State
	// Operator is who resolves it and Reason what they checked; both are
	// recorded with the mark and both are required.
	Operator, Reason string
	// Force records the mark on a change that has no issue, and marks
	// applied a change the trail has no entry of (a change that never ran
	// whose effects are in place, as in a database migrated by hand). A
	// change being applied now is refused whatever Force says.
	Force bool
	// Order is the change's order, recorded for a change the trail has no
	// entry of (the trail does not know it); zero when not given. The
	// runner decides from the state, never from the order, so a mark
	// whose order is not the code's is applied all the same.
	Order audit.Order
}

// Resolve records m: it checks the change, takes the pipeline's lock,
// checks the change again under it, appends the manual entry and releases
// the lock. It returns the entry stored. A run in progress (the lock is
// held) and a change without an issue (unless m.Force) are refused, and
// nothing is written.
//
// With m.Force, a change the trail has no entry of is marked
// MANUAL_MARKED_AS_APPLIED (marking it rolled back would change nothing:
// the next run applies it anyway). The trail cannot say its stage, order,
// target or checksum: m.Stage is required unless the trail records one
// stage only, m.Order is recorded as given, and the entry has no target,
// no checksum (the runner reports no drift for a manual mark), strategy
// NON_TX and recovery MANUAL. An id the trail records under another stage
// than m.Stage is refused: it is a wrong --stage, not a new change.
func (s *Session) Resolve(ctx context.Context, m Mark) (audit.Entry, error) {
	switch {
	case m.State != audit.StateManualApplied && m.State != audit.StateManualRolledBack:
		return audit.Entry{}, fmt.Errorf("resolve change %q: state %q is not a resolution: use %s or %s", m.ChangeID, m.State, audit.StateManualApplied, audit.StateManualRolledBack)
	case strings.TrimSpace(m.Operator) == "":
		return audit.Entry{}, fmt.Errorf("resolve change %q: no operator: say who resolves it", m.ChangeID)
	case strings.TrimSpace(m.Reason) == "":
		return audit.Entry{}, fmt.Errorf("resolve change %q: no reason: say what was checked", m.ChangeID)
	}
	// Checked without the lock first, so that a wrong id or a change
	// without an issue costs no lock acquisition.
	all, lock, err := s.Snapshot(ctx)
	if err != nil {
		return audit.Entry{}, err
	}
	a, lock, err := s.find(all, lock, m.ChangeID, m.Stage)
	if err != nil {
		if !slices.ContainsFunc(all, func(a audit.Assessment) bool {
			return a.Latest.ChangeID == m.ChangeID && (m.Stage == "" || a.Latest.Stage == m.Stage)
		}) {
			if m.Force {
				return s.markUnrecorded(ctx, m, all)
			}
			return audit.Entry{}, fmt.Errorf("%w; if it never ran and its effects are in place, add --force to mark it applied", err)
		}
		return audit.Entry{}, err
	}
	if a.Verdict == audit.VerdictRunning {
		// Whatever Force says: the lock refuses the mark anyway.
		return audit.Entry{}, s.lockHeld(lock, a.Latest.ChangeID)
	}
	if err := refuseWithoutIssue(a, m.Force); err != nil {
		return audit.Entry{}, err
	}
	return s.mark(ctx, a.Latest.Key(), m)
}

func refuseWithoutIssue(a audit.Assessment, force bool) error {
	if a.Verdict == audit.VerdictIssue || force {
		return nil
	}
	return fmt.Errorf("change %q (stage %q) has no issue (%s; %s): nothing to resolve; to record a manual mark anyway, add --force",
		a.Latest.ChangeID, a.Latest.Stage, a.Latest.State, NextRun(a.Verdict))
}

// mark appends a manual mark of the change key under the pipeline's lock,
// after checking again, under the lock, that the change still needs it.
func (s *Session) mark(ctx context.Context, key audit.Key, m Mark) (audit.Entry, error) {
	return s.append(ctx, key, m, func(h []audit.Entry) (audit.Entry, error) {
		if len(h) == 0 {
			return audit.Entry{}, fmt.Errorf("change %q (stage %q) disappeared from the audit trail of %s", key.ChangeID, key.Stage, s.name)
		}
		latest := h[len(h)-1]
		if err := refuseWithoutIssue(audit.Assess(latest), m.Force); err != nil {
			return audit.Entry{}, fmt.Errorf("while the lock was taken, %w", err)
		}
		return audit.Entry{
			Stage: latest.Stage, ChangeID: latest.ChangeID, Order: latest.Order, Author: latest.Author,
			TargetID: latest.TargetID, Strategy: latest.Strategy, Recovery: latest.Recovery, Checksum: latest.Checksum,
		}, nil
	})
}

// append takes the pipeline's lock, reads the history of change key
// under it, and appends the entry of mark m that check makes of it (the
// change's identity, which append completes with the mark), unless check
// refuses.
func (s *Session) append(ctx context.Context, key audit.Key, m Mark, check func([]audit.Entry) (audit.Entry, error)) (audit.Entry, error) {
	host := s.Host
	if host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "unknown-host"
		}
		host = h
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	owner := fmt.Sprintf("flamingock-cli-%s-%d-%s", host, os.Getpid(), rand.Text()[:8])
	lease, err := s.store.Acquire(ctx, s.lockKey, owner, LockTTL)
	var held *audit.LockHeldError
	if errors.As(err, &held) {
		return audit.Entry{}, s.lockHeld(held.Info, key.ChangeID)
	}
	if err != nil {
		return audit.Entry{}, fmt.Errorf("take lock %q of %s: %w", s.lockKey, s.name, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.store.Release(rctx, lease); err != nil && s.Warn != nil {
			s.Warn(fmt.Sprintf("release lock %q: %v (it frees itself at %s)", s.lockKey, err, when(lease.ExpiresAt)))
		}
	}()
	h, err := s.History(ctx, audit.Filter{Stage: key.Stage, ChangeID: key.ChangeID})
	if err != nil {
		return audit.Entry{}, err
	}
	e, err := check(h)
	if err != nil {
		return audit.Entry{}, err
	}
	e.ExecutionID, e.State, e.Time = rand.Text(), m.State, now().UTC()
	e.Host, e.RunnerID, e.Operator, e.Reason = host, owner, m.Operator, m.Reason
	stored, err := s.store.Append(ctx, lease, e)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("record %s of change %q in %s: %w", m.State, key.ChangeID, s.name, err)
	}
	return stored, nil
}

// markUnrecorded marks applied change m.ChangeID, of which all, the
// trail's latest entries, has none.
func (s *Session) markUnrecorded(ctx context.Context, m Mark, all []audit.Assessment) (audit.Entry, error) {
	if m.State != audit.StateManualApplied {
		return audit.Entry{}, fmt.Errorf("change %q has no entry: the next run applies it anyway; nothing to mark rolled back", m.ChangeID)
	}
	var stages, elsewhere []string
	for _, a := range all {
		if !slices.Contains(stages, a.Latest.Stage) {
			stages = append(stages, a.Latest.Stage)
		}
		if a.Latest.ChangeID == m.ChangeID {
			elsewhere = append(elsewhere, fmt.Sprintf("%q", a.Latest.Stage))
		}
	}
	if len(elsewhere) > 0 {
		return audit.Entry{}, fmt.Errorf("change %q is recorded in stage %s, not %q: check --stage", m.ChangeID, strings.Join(elsewhere, ", "), m.Stage)
	}
	stage := m.Stage
	switch {
	case stage != "":
	case len(stages) == 1:
		stage = stages[0]
	case len(stages) == 0:
		return audit.Entry{}, fmt.Errorf("change %q has no entry, and the audit trail of %s records no stage yet: add --stage NAME (the stage that declares it)", m.ChangeID, s.name)
	default:
		quoted := make([]string, len(stages))
		for i, st := range stages {
			quoted[i] = fmt.Sprintf("%q", st)
		}
		return audit.Entry{}, fmt.Errorf("change %q has no entry, and the audit trail of %s records stages %s: add --stage NAME (the stage that declares it)",
			m.ChangeID, s.name, strings.Join(quoted, ", "))
	}
	key := audit.Key{Stage: stage, ChangeID: m.ChangeID}
	return s.append(ctx, key, m, func(h []audit.Entry) (audit.Entry, error) {
		if len(h) > 0 {
			last := h[len(h)-1]
			return audit.Entry{}, fmt.Errorf("while the lock was taken, change %q (stage %q) got an entry (%s): check it again", key.ChangeID, key.Stage, last.State)
		}
		return audit.Entry{Stage: stage, ChangeID: m.ChangeID, Order: m.Order, Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual}, nil
	})
}

// lockHeld is the refusal to mark change id while a runner holds the lock.
func (s *Session) lockHeld(l audit.LockInfo, id string) error {
	return fmt.Errorf("lock %q of %s is held by runner %s until %s: a run is in progress; wait for it to end, then check change %q again (if that runner is gone, free the lock with flamingock lock release --force)",
		s.lockKey, s.name, l.Owner, when(l.ExpiresAt), id)
}

// ForceRelease frees the pipeline's lock whoever holds it, recording
// operator as who did: the runner that held it can record nothing more.
// Make sure that runner is gone first, or it runs alongside the next one.
// It returns the lock before and after; a lock never acquired is an error
// (the lock key is likely wrong), and nothing is written.
func (s *Session) ForceRelease(ctx context.Context, operator string) (before, after audit.LockInfo, err error) {
	if strings.TrimSpace(operator) == "" {
		return audit.LockInfo{}, audit.LockInfo{}, fmt.Errorf("release lock %q of %s: no operator: say who releases it", s.lockKey, s.name)
	}
	before, err = s.store.ForceRelease(ctx, s.lockKey, operator)
	if err != nil {
		return audit.LockInfo{}, audit.LockInfo{}, fmt.Errorf("release lock %q of %s: %w", s.lockKey, s.name, err)
	}
	if before.Epoch == 0 {
		return before, audit.LockInfo{}, fmt.Errorf("lock %q was never acquired in %s: nothing to release (is --lock-key right?)", s.lockKey, s.name)
	}
	after, err = s.Lock(ctx)
	if err != nil {
		return before, audit.LockInfo{}, err
	}
	return before, after, nil
}

// NextRun says what the next run does under verdict v.
func NextRun(v audit.Verdict) string {
	switch v {
	case audit.VerdictDone:
		return "the next run skips it"
	case audit.VerdictPending:
		return "the next run applies it"
	case audit.VerdictMarkerDecides:
		return "the next run checks the marker in its target"
	case audit.VerdictRunning:
		return "it is being applied now: wait for the run to end"
	default:
		return "it blocks every run until an operator resolves it"
	}
}

// when formats a time for messages: UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
