package audittest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// OverTheBounds returns e with a stage, change id, target id and author
// longer than audit.MaxIDLen and audit.MaxAuthorLen: a row that a trail
// written before the bounds may hold. A store's own test writes it behind
// the store's back (Append refuses it) and checks with ReadsBack that it
// stays readable.
func OverTheBounds(e audit.Entry) audit.Entry {
	e.Stage, e.ChangeID, e.TargetID = strings.Repeat("s", 300), strings.Repeat("c", 300), strings.Repeat("t", 300)
	e.Author = strings.Repeat("é", audit.MaxAuthorLen) // two bytes each
	return e
}

// ReadsBack fails t unless s's Snapshot and its History of e's change both
// return e and nothing else.
func ReadsBack(t *testing.T, s audit.Store, e audit.Entry) {
	t.Helper()
	for name, read := range map[string]func() ([]audit.Entry, error){
		"Snapshot": func() ([]audit.Entry, error) { return s.Snapshot(t.Context()) },
		"History": func() ([]audit.Entry, error) {
			return s.History(t.Context(), audit.Filter{Stage: e.Stage, ChangeID: e.ChangeID})
		},
	} {
		got, err := read()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff([]audit.Entry{e}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}
