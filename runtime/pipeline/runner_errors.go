package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

var (
	// ErrManualInterventionRequired matches the *IssuesError Run returns
	// when the audit trail holds changes whose outcome only an operator can
	// decide. Nothing was applied.
	ErrManualInterventionRequired = errors.New("manual intervention required")
	// ErrLockNotAcquired matches the *LockError Run returns when another
	// runner held the pipeline's lock for longer than the lock wait.
	// Nothing was applied.
	ErrLockNotAcquired = errors.New("lock not acquired")
	// ErrLockLost matches the *LockLostError Run returns when its lease
	// expired, could not be refreshed, or was taken over by another runner.
	// The run stopped; no later change was started.
	ErrLockLost = errors.New("lock lost")
	// ErrChangeFailed matches the *ChangeError Run returns when a change
	// failed. Later changes were not run.
	ErrChangeFailed = errors.New("change failed")
	// ErrStageRenamed matches the *StageRenamedError Run, Plan, Validate
	// and RollbackTo return when the audit trail records changes of the
	// pipeline under another stage name. Nothing was run or recorded, and
	// no lock was taken unless the trail changed while Run waited for it.
	ErrStageRenamed = errors.New("stage renamed")
	// ErrStoreFailed matches the *StoreError Run, Plan, Validate and
	// RollbackTo return when a read or write they need failed, after the
	// retries the runtime makes where they are safe: of the audit store
	// (reading the trail, taking the lock, recording a step of a change or
	// of its rollback) or of a target (reading a change's marker). Before
	// any change ran nothing was applied; otherwise the error names the
	// change whose step could not be recorded and says whether it took
	// effect.
	ErrStoreFailed = errors.New("store failed")
	// ErrImport matches the error Run returns when the importer set with
	// WithImport failed: the old tool's history could not be read, or it
	// disagrees with the pipeline (the error, the importer's, says which
	// table, version and change). Nothing was run; what the importer
	// recorded before failing, if anything, stays in the trail, and the
	// next start imports the rest.
	ErrImport = errors.New("import failed")
)

// IssuesError lists every change of the pipeline that blocks the run. Run
// applies nothing when it returns one.
type IssuesError struct {
	Issues []Issue
}

func (e *IssuesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s before anything can run", ErrManualInterventionRequired, len(e.Issues),
		plural(len(e.Issues), "change needs an operator", "changes need an operator"))
	for _, is := range e.Issues {
		b.WriteString("\n")
		is.write(&b, "  ")
	}
	return b.String()
}

// Unwrap makes the error match ErrManualInterventionRequired.
func (e *IssuesError) Unwrap() error { return ErrManualInterventionRequired }

// Issue is a change whose state the runtime cannot prove: a STARTED or
// FAILED change that ran without a transaction, or a ROLLBACK_FAILED one,
// whose recorded recovery is manual.
type Issue struct {
	Stage    string
	ChangeID string
	// Latest is the audit entry that makes the change an issue: its state,
	// time, runner, execution, strategy, recovery and error.
	Latest audit.Entry
	// Problem says what is uncertain.
	Problem string
	// Resolutions are the operator commands that resolve the issue, one
	// per possible truth.
	Resolutions []Resolution
}

// Resolution is one way an operator can resolve an issue.
type Resolution struct {
	// Name is the value of --resolution: "applied" or "rolled-back".
	Name string
	// Command is the exact flamingock CLI command line.
	Command string
	// Effect says what the next run does after the command.
	Effect string
}

func (is Issue) String() string {
	var b strings.Builder
	is.write(&b, "")
	return b.String()
}

func (is Issue) write(b *strings.Builder, indent string) {
	e := is.Latest
	fmt.Fprintf(b, "%schange %q (stage %q): %s at %s by runner %s (execution %s, %s, recovery %s)",
		indent, is.ChangeID, is.Stage, e.State, e.Time.UTC().Format(time.RFC3339), orUnknown(e.RunnerID),
		orUnknown(e.ExecutionID), e.Strategy.Phrase(), e.Recovery)
	if e.ErrorMessage != "" {
		fmt.Fprintf(b, "\n%s  error: %s", indent, e.ErrorMessage)
		if e.ErrorKind != "" {
			fmt.Fprintf(b, " (%s)", e.ErrorKind)
		}
	}
	fmt.Fprintf(b, "\n%s  %s", indent, is.Problem)
	for _, r := range is.Resolutions {
		fmt.Fprintf(b, "\n%s  %s\n%s    %s", indent, r.Effect, indent, r.Command)
	}
}

// ChangeError reports a change that failed during Run. Later changes were
// not run.
type ChangeError struct {
	Stage    string
	ChangeID string
	// State is the change's state in the audit trail after the failure:
	// FAILED, ROLLED_BACK or ROLLBACK_FAILED; STARTED when the failure
	// itself could not be recorded; empty when, under a shared
	// transaction, nothing of the run could be recorded.
	State audit.State
	// Err is what the change (or its rollback, or the target) returned. A
	// panic inside the change is a *PanicError.
	Err error
	// RollbackErr is the rollback's error when State is ROLLBACK_FAILED.
	RollbackErr error
	// Next says what the next run does and what, if anything, an operator
	// must do first.
	Next string
}

func (e *ChangeError) Error() string {
	msg := fmt.Sprintf("change %q (stage %q) failed: %v", e.ChangeID, e.Stage, e.Err)
	if e.RollbackErr != nil {
		msg += fmt.Sprintf("; rollback failed: %v", e.RollbackErr)
	}
	if e.State != "" {
		msg += "; state " + string(e.State)
	}
	return msg + "; " + e.Next
}

// Unwrap makes the error match ErrChangeFailed and the change's error.
func (e *ChangeError) Unwrap() []error {
	errs := []error{ErrChangeFailed, e.Err}
	if e.RollbackErr != nil {
		errs = append(errs, e.RollbackErr)
	}
	return errs
}

// LockError reports that the pipeline's lock could not be acquired within
// the lock wait: another runner held it, or the store stayed busy (Err).
type LockError struct {
	// Holder is the lock as the store saw it at the last attempt.
	Holder audit.LockInfo
	// Waited is how long Run waited.
	Waited time.Duration
	// Err is set when the store, rather than a runner, kept the start
	// waiting: the store's last error, matching audit.ErrBusy (on SQLite,
	// another connection held the database's write lock, as a change that
	// shares its transaction with the store does while it runs). Holder
	// then names the runner that held the pipeline's lock, if any: the
	// likely holder of the write lock.
	Err error
}

func (e *LockError) Error() string {
	if e.Err != nil {
		msg := fmt.Sprintf("%s: the audit store stayed busy for the whole wait: another transaction held its write lock", ErrLockNotAcquired)
		if e.Holder.Owner != "" {
			msg += fmt.Sprintf(" (runner %s holds lock %q, epoch %d, lease until %s: it may be running a change that shares its transaction with the store)",
				e.Holder.Owner, e.Holder.Key, e.Holder.Epoch, e.Holder.ExpiresAt.UTC().Format(time.RFC3339))
		}
		return msg + fmt.Sprintf("; waited %s: %v", e.Waited.Round(time.Millisecond), e.Err)
	}
	return fmt.Sprintf("%s: lock %q is held by runner %s (epoch %d) until %s; waited %s",
		ErrLockNotAcquired, e.Holder.Key, e.Holder.Owner, e.Holder.Epoch,
		e.Holder.ExpiresAt.UTC().Format(time.RFC3339), e.Waited.Round(time.Millisecond))
}

// Unwrap makes the error match ErrLockNotAcquired and either
// audit.ErrLockHeld or, when the store stayed busy, Err (audit.ErrBusy).
func (e *LockError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrLockNotAcquired, e.Err}
	}
	return []error{ErrLockNotAcquired, audit.ErrLockHeld}
}

// LockLostError reports that the run stopped because its lease no longer
// held the lock.
type LockLostError struct {
	// Stage and ChangeID name the change being executed or about to be
	// started; empty when the lease was lost between changes.
	Stage    string
	ChangeID string
	// Err is the refused write or the failed refresh.
	Err error
}

func (e *LockLostError) Error() string {
	if e.ChangeID == "" {
		return fmt.Sprintf("%s: %v", ErrLockLost, e.Err)
	}
	return fmt.Sprintf("%s at change %q (stage %q): %v; another runner may hold the lock now, the next run decides from the audit trail",
		ErrLockLost, e.ChangeID, e.Stage, e.Err)
}

// Unwrap makes the error match ErrLockLost and its cause (for a refused
// write, audit.ErrFenced).
func (e *LockLostError) Unwrap() []error { return []error{ErrLockLost, e.Err} }

// StoreError reports a read or write of the audit store, or of a target's
// marker, that failed after the retries the runtime makes where they are
// safe (see retry.go). Its message starts with what failed.
type StoreError struct {
	// Op is what failed: "read audit trail", "read lock", "acquire lock",
	// "read marker", or "record" for a step of a change that the audit
	// trail could not record.
	Op string
	// Stage and ChangeID name the change concerned; empty for reads of the
	// whole trail and for the lock.
	Stage    string
	ChangeID string
	// Err is the store's or the target's error, with what it means for the
	// change (whether it took effect, what the next run does).
	Err error
}

func (e *StoreError) Error() string {
	if e.Op == opRecord {
		// Err names the change and what it means for it.
		return fmt.Sprintf("%s: %v", ErrStoreFailed, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", ErrStoreFailed, e.Op, e.Err)
}

// Unwrap makes the error match ErrStoreFailed and the store's error (for
// example audit.ErrCorrupt, audit.ErrUnavailable).
func (e *StoreError) Unwrap() []error { return []error{ErrStoreFailed, e.Err} }

// failed returns err, the error of the call named op, as a *StoreError
// that also matches ctx's error when ctx ended meanwhile; a *LockError (a
// store busy for the whole wait) and a *StageRenamedError are returned as
// they are.
func (r *Runner) failed(ctx context.Context, op string, err error) error {
	var (
		le *LockError
		se *StoreError
		re *StageRenamedError
	)
	if errors.As(err, &le) || errors.As(err, &se) || errors.As(err, &re) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	return &StoreError{Op: op, Err: err}
}

// The Ops of StoreError.
const (
	opReadTrail  = "read audit trail"
	opReadLock   = "read lock"
	opAcquire    = "acquire lock"
	opReadMarker = "read marker"
	opRecord     = "record"
)

// PanicError is a panic recovered inside a change or its rollback. The run
// treats it as the change's failure instead of crashing the process.
type PanicError struct {
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// errorKind names the kind of err for the audit trail and events:
// audit.ErrorKindPanic, audit.ErrorKindCancelled or
// audit.ErrorKindDeadline when err is a panic or a context's error (a
// change stopped, not broken), otherwise the Go type of the innermost
// error of its chain, which says more than a wrapper's type.
func errorKind(err error) string {
	if err == nil {
		return ""
	}
	var p *PanicError
	switch {
	case errors.As(err, &p):
		return audit.ErrorKindPanic
	case errors.Is(err, context.Canceled):
		return audit.ErrorKindCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return audit.ErrorKindDeadline
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return fmt.Sprintf("%T", err)
		}
		err = next
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// StageRenamedError lists the changes of the pipeline that the audit trail
// records under another stage name and never under their own. A stage's
// name is part of every change's key in the trail (audit.Key), so run
// under a new name these changes would all be applied again; and which
// name is right cannot be guessed. The usual cause is a package renamed
// without its stage name pinned: flamingock-gen names a stage after its
// package unless -stage or the stage recorded in flamingock.ledger says
// otherwise (-stage NAME -rename-stage replaces a recorded name). Also reported: a change moved to another stage of the
// pipeline, and, on an audit store shared by several pipelines, a new
// change whose id another pipeline already recorded.
type StageRenamedError struct {
	// Changes are the renamed changes in pipeline order; a change recorded
	// under several other stages is listed once for each.
	Changes []RenamedChange

	declared map[string]bool // the pipeline's stage names; nil when unknown
}

// RenamedChange is a change of the pipeline recorded under another stage.
type RenamedChange struct {
	ChangeID string
	// Stage is the stage that declares the change in the pipeline.
	Stage string
	// RecordedStage is the stage the audit trail records it under.
	RecordedStage string
}

func (e *StageRenamedError) Error() string {
	ids := make(map[string]bool, len(e.Changes))
	for _, c := range e.Changes {
		ids[c.ChangeID] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s recorded in the audit trail under another stage name; "+
		"a stage's name is part of every change's identity there, so under another name %s would be applied again, "+
		"and which name is right cannot be guessed: nothing was run",
		ErrStageRenamed, len(ids), plural(len(ids), "change is", "changes are"), plural(len(ids), "it", "they"))
	for _, c := range e.Changes {
		fmt.Fprintf(&b, "\n  change %q of stage %q is recorded under stage %q", c.ChangeID, c.Stage, c.RecordedStage)
	}
	// One resolution per stage the trail records changes under, in the
	// order of the changes: give a renamed stage its name back, or move a
	// change back to the stage of the pipeline that holds its history.
	type group struct {
		recorded, stage string
		ids             []string
	}
	var groups []*group
	find := func(recorded, stage string) *group {
		for _, g := range groups {
			if g.recorded == recorded && g.stage == stage {
				return g
			}
		}
		g := &group{recorded: recorded, stage: stage}
		groups = append(groups, g)
		return g
	}
	for _, c := range e.Changes {
		stage := c.Stage
		if e.declared[c.RecordedStage] {
			stage = "" // moved: whichever stage it is in now, it goes back
		}
		g := find(c.RecordedStage, stage)
		g.ids = append(g.ids, c.ChangeID)
	}
	for _, g := range groups {
		if g.stage == "" {
			quoted := make([]string, len(g.ids))
			for i, id := range g.ids {
				quoted[i] = fmt.Sprintf("%q", id)
			}
			fmt.Fprintf(&b, "\n  to keep the history of %s %s, declare %s in stage %q again",
				plural(len(g.ids), "change", "changes"), strings.Join(quoted, ", "), plural(len(g.ids), "it", "them"), g.recorded)
			continue
		}
		fmt.Fprintf(&b, "\n  to keep the history of stage %q, give stage %q that name again: "+
			"regenerate it with flamingock-gen -stage %s -rename-stage, or restore \"stage %s\" in its flamingock.ledger "+
			"(if stage %q is another pipeline's, on the same audit store, give %s)",
			g.recorded, g.stage, g.recorded, g.recorded, g.recorded,
			plural(len(g.ids), "this change an id of its own", "these changes ids of their own"))
	}
	return b.String()
}

// Unwrap makes the error match ErrStageRenamed.
func (e *StageRenamedError) Unwrap() error { return ErrStageRenamed }
