package ensure_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/flamingock/flamingock-go/ensure"
)

func TestConflictError(t *testing.T) {
	err := fmt.Errorf("change x: %w", &ensure.ConflictError{Resource: "flag checkout", Diffs: []string{`have "off", want "on" or "beta"`}})
	if !errors.Is(err, ensure.ErrConflict) {
		t.Fatalf("errors.Is(%v, ErrConflict) = false", err)
	}
	var ce *ensure.ConflictError
	if !errors.As(err, &ce) || ce.Resource != "flag checkout" {
		t.Fatalf("errors.As: %v", ce)
	}
	want := `change x: flag checkout: the system holds a state the change was not told to expect: have "off", want "on" or "beta"`
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant %q", err.Error(), want)
	}
}

func TestOutcome(t *testing.T) {
	for o, wrote := range map[ensure.Outcome]bool{
		ensure.Unchanged: false, ensure.Absent: false,
		ensure.Created: true, ensure.Updated: true, ensure.Deleted: true, ensure.Declared: true,
	} {
		if o.Wrote() != wrote {
			t.Errorf("%v.Wrote() = %v, want %v", o, o.Wrote(), wrote)
		}
	}
	if s := ensure.Outcome(42).String(); s != "Outcome(42)" {
		t.Errorf("String of an unknown outcome = %q", s)
	}
}
