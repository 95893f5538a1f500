package flamingocktest

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// Trail returns every entry of the kit's store, in the order the store
// appended them. It fails the test when the store cannot be read.
func (k *Kit) Trail() []audit.Entry {
	k.check()
	k.tb.Helper()
	entries, err := k.store.History(k.ctx(), audit.Filter{})
	if err != nil {
		k.tb.Fatalf("flamingocktest: read the trail: %v", err)
	}
	return entries
}

// latest returns the latest entry of each change named id in the trail
// (one per stage that records it), in trail order.
func latest(entries []audit.Entry, id string) []audit.Entry {
	at := map[audit.Key]int{}
	var out []audit.Entry
	for _, e := range entries {
		if e.ChangeID != id {
			continue
		}
		if i, ok := at[e.Key()]; ok {
			out[i] = e
			continue
		}
		at[e.Key()] = len(out)
		out = append(out, e)
	}
	return out
}

// AssertApplied reports whether every change ids is applied: its latest
// entry is APPLIED or MANUAL_MARKED_AS_APPLIED (GivenApplied's). It fails
// the test, with the trail, naming each change that is not.
func (k *Kit) AssertApplied(ids ...string) bool {
	k.check()
	k.tb.Helper()
	return k.assertEach("applied", ids, func(l []audit.Entry) string {
		for _, e := range l {
			if e.State != audit.StateApplied && e.State != audit.StateManualApplied {
				return fmt.Sprintf("latest state %s%s", e.State, errorOf(e))
			}
		}
		return ""
	})
}

// AssertPending reports whether the next run applies every change ids: it
// has no entry, or its latest entry says so (ROLLED_BACK, FAILED in a
// transaction, or uncertain under recovery retry), as audit.Assess decides.
// A change STARTED in a separate transaction, which its target's marker
// decides, is not reported pending: Runner(…).Plan asks the marker.
func (k *Kit) AssertPending(ids ...string) bool {
	k.check()
	k.tb.Helper()
	return k.assertEach("pending", ids, func(l []audit.Entry) string {
		for _, e := range l {
			if a := audit.Assess(e); a.Verdict != audit.VerdictPending {
				return fmt.Sprintf("%s: %s", a.Verdict, a.Reason)
			}
		}
		return ""
	})
}

// AssertIssue reports whether change id is an issue, which blocks every run
// until an operator resolves it, and, unless problem is empty, whether what
// is uncertain about it (audit.Assessment.Problem, as `flamingock issue get`
// prints it) contains problem.
func (k *Kit) AssertIssue(id, problem string) bool {
	k.check()
	k.tb.Helper()
	entries := k.Trail()
	l := latest(entries, id)
	var why string
	switch {
	case len(l) == 0:
		why = "no entry: the next run applies it"
	default:
		for _, e := range l {
			a := audit.Assess(e)
			switch {
			case a.Verdict != audit.VerdictIssue:
				why = fmt.Sprintf("not an issue (%s, %s): %s", e.State, a.Verdict, a.Reason)
			case !strings.Contains(a.Problem, problem):
				why = fmt.Sprintf("an issue whose problem is %q, want one containing %q", a.Problem, problem)
			}
		}
	}
	if why != "" {
		k.tb.Errorf("flamingocktest: change %q is %s\n%s", id, why, table(entries))
		return false
	}
	return true
}

// AssertTrail reports whether the entries the trail holds for change id of
// stage have states, in order: the change's whole history, such as
// APPLIED, ROLLED_BACK, APPLIED after a round trip. No states asserts that
// the change has no entry.
func (k *Kit) AssertTrail(stage, id string, states ...audit.State) bool {
	k.check()
	k.tb.Helper()
	entries := k.Trail()
	var got []audit.State
	for _, e := range entries {
		if e.Stage == stage && e.ChangeID == id {
			got = append(got, e.State)
		}
	}
	if !slices.Equal(got, states) {
		k.tb.Errorf("flamingocktest: trail of change %q (stage %q) (-want +got):\n%s%s", id, stage, cmp.Diff(states, got), table(entries))
		return false
	}
	return true
}

// assertEach fails the test once, naming every change of ids that has no
// entry or whose latest entries wrong finds wrong (a non-empty reason).
// For want "pending", a change without an entry holds.
func (k *Kit) assertEach(want string, ids []string, wrong func([]audit.Entry) string) bool {
	k.tb.Helper()
	entries := k.Trail()
	var bad []string
	for _, id := range ids {
		l := latest(entries, id)
		switch {
		case len(l) == 0 && want == "pending":
		case len(l) == 0:
			bad = append(bad, fmt.Sprintf("change %q: no entry, want %s", id, want))
		default:
			if why := wrong(l); why != "" {
				bad = append(bad, fmt.Sprintf("change %q: %s, want %s", id, why, want))
			}
		}
	}
	if len(bad) > 0 {
		k.tb.Errorf("flamingocktest: %s\n%s", strings.Join(bad, "\n"), table(entries))
		return false
	}
	return true
}

// errorOf is the error an entry records, for messages.
func errorOf(e audit.Entry) string {
	if e.ErrorMessage == "" {
		return ""
	}
	return fmt.Sprintf(" (error: %s)", e.ErrorMessage)
}

// table reads the trail for a failure message; a trail that cannot be read
// says so instead.
func (k *Kit) table() string {
	entries, err := k.store.History(k.ctx(), audit.Filter{})
	if err != nil {
		return fmt.Sprintf("trail: cannot read it: %v\n", err)
	}
	return table(entries)
}

// table renders entries as the failure messages show the trail.
func table(entries []audit.Entry) string {
	var b strings.Builder
	switch len(entries) {
	case 0:
		return "trail: empty\n"
	case 1:
		b.WriteString("trail (1 entry):\n")
	default:
		fmt.Fprintf(&b, "trail (%d entries):\n", len(entries))
	}
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tSTAGE\tCHANGE\tSTATE\tSTRATEGY\tRECOVERY\tNOTE")
	for _, e := range entries {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Stage, e.ChangeID, e.State, e.Strategy, e.Recovery, note(e))
	}
	w.Flush()
	return b.String()
}

// note is what the NOTE column says of e: its error, or who marked it and
// why.
func note(e audit.Entry) string {
	var parts []string
	if e.ErrorMessage != "" {
		msg, _, _ := strings.Cut(e.ErrorMessage, "\n")
		parts = append(parts, "error: "+msg)
	}
	if e.Operator != "" || e.Reason != "" {
		parts = append(parts, fmt.Sprintf("by %s: %s", e.Operator, e.Reason))
	}
	return strings.Join(parts, "; ")
}
