package ensure

import (
	"errors"
	"fmt"
	"strings"
)

// Outcome says what a helper did to bring a system to the state it was
// asked for. A helper that returns an error reports no outcome.
type Outcome int

const (
	// Unchanged: the state held already; nothing was written. A retry of a
	// change that had taken effect before its crash ends here.
	Unchanged Outcome = iota
	// Created: the resource was absent and was created.
	Created
	// Updated: the resource was in the state the change starts from and
	// was brought to the state it leads to.
	Updated
	// Deleted: the resource was there, as expected, and was removed.
	Deleted
	// Absent: a removal found nothing to remove.
	Absent
	// Declared: the state was declared to a server that applies such a
	// declaration idempotently and does not say whether it held before
	// (a RabbitMQ binding).
	Declared
)

var outcomeNames = [...]string{
	Unchanged: "unchanged",
	Created:   "created",
	Updated:   "updated",
	Deleted:   "deleted",
	Absent:    "absent",
	Declared:  "declared",
}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Wrote reports whether the helper wrote to the system.
func (o Outcome) Wrote() bool { return o != Unchanged && o != Absent }

// ErrConflict is matched (errors.Is) by every *ConflictError.
var ErrConflict = errors.New("the system holds a state the change was not told to expect")

// ErrNotEmpty is matched by the error of a removal that found the resource
// holding data (messages in a stream or a queue): removing it would destroy
// them, which the undo of a create must not do silently.
var ErrNotEmpty = errors.New("the resource holds data")

// ConflictError reports a resource found in neither the state a change
// starts from nor the one it leads to: someone or something else changed
// it. The change stops without writing, so that a person decides.
type ConflictError struct {
	// Resource names what was looked at: "stream ORDERS", "flag checkout".
	Resource string
	// Diffs lists what differs, one line each: "max_age: have 1h0m0s, want 24h0m0s".
	Diffs []string
}

func (e *ConflictError) Error() string {
	if len(e.Diffs) == 0 {
		return e.Resource + ": " + ErrConflict.Error()
	}
	return e.Resource + ": " + ErrConflict.Error() + ": " + strings.Join(e.Diffs, "; ")
}

// Is makes errors.Is(err, ErrConflict) true for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
