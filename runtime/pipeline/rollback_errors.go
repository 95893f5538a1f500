package pipeline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flamingock/flamingock-go/audit"
)

var (
	// ErrUnknownChange matches the error RollbackTo returns when no stage
	// of the pipeline declares the change it is given. Nothing was read or
	// written.
	ErrUnknownChange = errors.New("unknown change")
	// ErrRollbackRefused matches the *RollbackRefusedError RollbackTo
	// returns when a change it would have to roll back cannot be. Nothing
	// was rolled back.
	ErrRollbackRefused = errors.New("rollback refused")
	// ErrRollbackFailed matches the *RollbackError RollbackTo returns when
	// a change's rollback failed. Older changes were not rolled back.
	ErrRollbackFailed = errors.New("rollback failed")
)

// RollbackRefusedError lists every change that keeps RollbackTo from
// starting.
type RollbackRefusedError struct {
	Refusals []Refusal
}

// Refusal is a change in the range of a rollback that cannot be rolled
// back.
type Refusal struct {
	Stage    string
	ChangeID string
	// Reason says why, and what to do first.
	Reason string
}

func (e *RollbackRefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s, so nothing was rolled back", ErrRollbackRefused, len(e.Refusals),
		plural(len(e.Refusals), "change cannot be rolled back", "changes cannot be rolled back"))
	for _, r := range e.Refusals {
		fmt.Fprintf(&b, "\n  change %q (stage %q): %s", r.ChangeID, r.Stage, r.Reason)
	}
	return b.String()
}

// Unwrap makes the error match ErrRollbackRefused.
func (e *RollbackRefusedError) Unwrap() error { return ErrRollbackRefused }

// RollbackError reports a change whose rollback failed during RollbackTo.
// Older changes were not rolled back.
type RollbackError struct {
	Stage    string
	ChangeID string
	// State is the change's state in the audit trail after the failure:
	// APPLIED when the rollback failed inside a transaction, which the
	// database rolled back; ROLLBACK_FAILED when it ran without one (or
	// when recording APPLIED after it failed); STARTED when the failure
	// itself could not be recorded.
	State audit.State
	// Err is what the rollback (or its target) returned. A panic inside
	// the rollback is a *PanicError.
	Err error
	// Next says what the next run does and what, if anything, an operator
	// must do first.
	Next string
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("rollback of change %q (stage %q) failed: %v; state %s; %s", e.ChangeID, e.Stage, e.Err, e.State, e.Next)
}

// Unwrap makes the error match ErrRollbackFailed and the rollback's
// error.
func (e *RollbackError) Unwrap() []error { return []error{ErrRollbackFailed, e.Err} }
