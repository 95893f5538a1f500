package generator

import (
	"bytes"
	"fmt"
	"go/token"
	"maps"
	"slices"
	"strings"

	"github.com/flamingock/flamingock-go/annotations"
	"github.com/flamingock/flamingock-go/audit"
)

// ledgerHeader is the first line of the ledger file.
const ledgerHeader = "# flamingock.ledger: what flamingock-gen generated before (stage, dependency fields; order, id and checksum of each change). Do not edit; commit it."

// ledger is the parsed ledger file: what was generated before.
type ledger struct {
	// stage is the stage name recorded when the package was first
	// generated; empty in a ledger written before stages were recorded.
	stage     string
	stageLine int
	// deps maps each dependency type (depKey) to the Deps field it was
	// given.
	deps map[string]string
	// entries are sorted by order.
	entries []ledgerEntry
	// merged is set when the file held git conflict markers: its entries
	// are both sides' (see resolveConflicts).
	merged bool
}

// ledgerEntry is one change generated before.
type ledgerEntry struct {
	order audit.Order
	id    string
	// checksum is what the change executed when it was generated; empty in
	// a ledger written before checksums were recorded.
	checksum string
	// cosmetic holds the checksums of earlier versions of the change, each
	// recorded equivalent to its successor by -cosmetic.
	cosmetic []string
	line     int
	// seq is the entry's rank in the file. flamingock-gen writes entries in
	// increasing order, so an entry after one of a higher or equal order
	// came from a merge of two ledgers (git's conflict sides or
	// merge=union, each writing our side first): see checkMerge.
	seq int
}

// cosmeticAttr introduces the checksums of earlier, equivalent versions.
const cosmeticAttr = "cosmetic="

// parseLedger reads a ledger file. Blank lines and lines starting with #
// are ignored; the others are "stage NAME" (once) and
// "ORDER ID [CHECKSUM [cosmetic=CHECKSUM,…]]", and "dep FIELD TYPE" for
// the field of Deps each dependency type was given.
func parseLedger(path string, data []byte) (ledger, []*Error) {
	var l ledger
	var errs []*Error
	seen := map[string]int{}
	lines, merged, conflictErrs := resolveConflicts(path, data)
	l.merged = merged
	errs = append(errs, conflictErrs...)
	stageText := ""
	depLines := map[string]string{}
	for _, ln := range lines {
		line, text := ln.line, ln.text
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		pos := token.Position{Filename: path, Line: line, Column: 1}
		malformed := func(want string) {
			errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("malformed ledger line %q: want %s (restore the file from version control)", text, want)})
		}
		fields := strings.Fields(text)
		if fields[0] == "dep" {
			field, key := "", ""
			if len(fields) >= 3 {
				field, key = fields[1], strings.Join(fields[2:], " ")
			}
			switch {
			case !token.IsExported(field) || key == "":
				malformed("dep FIELD TYPE")
			case merged && depLines[key] == text:
				// The same line on both sides of a conflict.
			case l.deps[key] != "":
				errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("dependency %s appears twice in the ledger", key)})
			default:
				if l.deps == nil {
					l.deps = map[string]string{}
				}
				l.deps[key] = field
				depLines[key] = text
			}
			continue
		}
		if fields[0] == "stage" {
			switch {
			case len(fields) != 2 || !annotations.ValidID(fields[1]):
				malformed("stage NAME")
			case merged && stageText == text:
			case l.stageLine != 0:
				errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("the ledger names its stage twice (first on line %d)", l.stageLine)})
			default:
				l.stage, l.stageLine, stageText = fields[1], line, text
			}
			continue
		}
		e, ok := parseEntry(fields)
		switch {
		case !ok:
			malformed("ORDER ID CHECKSUM")
			continue
		case seen[e.id] != 0 && merged:
			// Both sides of a merge record the change: the same line, or
			// one side recorded a cosmetic edit the other did not.
			i := slices.IndexFunc(l.entries, func(o ledgerEntry) bool { return o.id == e.id })
			o := l.entries[i]
			switch {
			case o.order == e.order && o.checksum == e.checksum && slices.Equal(o.cosmetic, e.cosmetic):
			case o.order == e.order && slices.Contains(e.cosmetic, o.checksum):
				e.line, e.seq = o.line, o.seq
				l.entries[i] = e
			case o.order == e.order && slices.Contains(o.cosmetic, e.checksum):
			default:
				errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("change %q appears twice in the ledger, differently on the two sides of a merge (first on line %d): one branch renumbered or edited it; restore the line of the branch that released it", e.id, seen[e.id])})
			}
			continue
		case seen[e.id] != 0:
			errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("change %q appears twice in the ledger (first on line %d)", e.id, seen[e.id])})
			continue
		}
		seen[e.id] = line
		e.line = line
		e.seq = len(l.entries)
		l.entries = append(l.entries, e)
	}
	slices.SortStableFunc(l.entries, func(a, b ledgerEntry) int { return a.order.Compare(b.order) })
	return l, errs
}

// parseEntry parses the fields of one change's line.
func parseEntry(fields []string) (ledgerEntry, bool) {
	if len(fields) < 2 || len(fields) > 4 {
		return ledgerEntry{}, false
	}
	order, err := audit.ParseOrder(fields[0])
	if err != nil || !annotations.ValidID(fields[1]) {
		return ledgerEntry{}, false
	}
	e := ledgerEntry{order: order, id: fields[1]}
	if len(fields) > 2 {
		if !isChecksum(fields[2]) {
			return ledgerEntry{}, false
		}
		e.checksum = fields[2]
	}
	if len(fields) > 3 {
		list, ok := strings.CutPrefix(fields[3], cosmeticAttr)
		if !ok {
			return ledgerEntry{}, false
		}
		e.cosmetic = strings.Split(list, ",")
		if slices.ContainsFunc(e.cosmetic, func(s string) bool { return !isChecksum(s) }) {
			return ledgerEntry{}, false
		}
	}
	return e, true
}

// isChecksum reports whether s is a checksum as the generator writes them:
// a SHA-256 in lowercase hex.
func isChecksum(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// formatLedger returns the ledger file recording m: its stage, the fields
// of its dependencies, and its changes in order, each with the earlier
// versions recorded as equivalent.
func formatLedger(m model) []byte {
	var b bytes.Buffer
	b.WriteString(ledgerHeader + "\n")
	fmt.Fprintf(&b, "stage %s\n", m.stage)
	for _, d := range m.deps {
		fmt.Fprintf(&b, "dep %s %s\n", d.field, depKey(d.typ))
	}
	for _, ch := range m.changes {
		fmt.Fprintf(&b, "%s %s %s", ch.order, ch.ann.ID, ch.checksum)
		if sums := m.equivalent[ch.ann.ID]; len(sums) > 0 {
			fmt.Fprintf(&b, " %s%s", cosmeticAttr, strings.Join(sums, ","))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// policy is what this generation may do to the ledger's history.
type policy struct {
	// rewrite permits removing and renumbering generated changes and
	// ordering new changes before them (Config.AllowLedgerRewrite).
	rewrite bool
	// cosmetic and unreleased are Config.Cosmetic and Config.Unreleased.
	cosmetic, unreleased map[string]bool
}

// reconciled is what the ledger says of this generation.
type reconciled struct {
	// cosmetic holds, by change id, the checksums of the earlier versions
	// to record as equivalent.
	cosmetic map[string][]string
	// errs are ledger violations (matching ErrLedger) and bad flags;
	// warnings say what an allowance recorded.
	errs, warnings []*Error
}

// reconcile checks changes (sorted by order) against l: what the ledger
// forbids is an error matching ErrLedger, unless pol allows it for that
// change. A change that pol marks unreleased is checked as a new change.
func reconcile(fset *token.FileSet, path string, l ledger, changes []*change, pol policy) reconciled {
	rc := reconciled{cosmetic: map[string][]string{}}
	declared := map[string]*change{}
	for _, ch := range changes {
		if _, dup := declared[ch.ann.ID]; !dup && ch.ann.ID != "" && ch.orderPos.IsValid() {
			declared[ch.ann.ID] = ch
		}
	}
	generated := map[string]ledgerEntry{}
	var entries []ledgerEntry
	for _, e := range l.entries {
		generated[e.id] = e
		if !pol.unreleased[e.id] {
			entries = append(entries, e)
		}
	}
	rc.checkFlags(pol, declared, generated)
	if !pol.rewrite {
		rc.errs = append(rc.errs, checkMerge(fset, path, l, declared, lastOrder(l, changes).String(), pol)...)
		rc.errs = append(rc.errs, checkHistory(fset, path, entries, changes, declared)...)
	}
	for _, e := range entries {
		if ch := declared[e.id]; ch != nil {
			rc.checkEdit(fset, path, e, ch, pol.cosmetic[e.id])
		}
	}
	return rc
}

// checkFlags reports allowances that name no change they could apply to.
func (rc *reconciled) checkFlags(pol policy, declared map[string]*change, generated map[string]ledgerEntry) {
	for _, id := range slices.Sorted(maps.Keys(pol.unreleased)) {
		if _, ok := generated[id]; !ok && declared[id] == nil {
			rc.errs = append(rc.errs, &Error{Msg: fmt.Sprintf("-unreleased=%s: no change %q is declared or in %s", id, id, LedgerName), Err: ErrLedger})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(pol.cosmetic)) {
		switch _, ok := generated[id]; {
		case declared[id] == nil:
			rc.errs = append(rc.errs, &Error{Msg: fmt.Sprintf("-cosmetic=%s: no change %q is declared", id, id), Err: ErrLedger})
		case !ok:
			rc.errs = append(rc.errs, &Error{Msg: fmt.Sprintf("-cosmetic=%s: change %q is new, so it has no earlier version to be equivalent to", id, id), Err: ErrLedger})
		case pol.unreleased[id]:
			rc.errs = append(rc.errs, &Error{Msg: fmt.Sprintf("-cosmetic=%s and -unreleased=%s contradict each other: choose one", id, id), Err: ErrLedger})
		}
	}
}

// checkEdit compares ch with its entry e: a change whose checksum differs
// from the one generated before was edited, which the ledger refuses
// unless the edit is declared cosmetic.
func (rc *reconciled) checkEdit(fset *token.FileSet, path string, e ledgerEntry, ch *change, cosmetic bool) {
	pos := fset.Position(ch.decl)
	switch {
	case e.checksum == "" || ch.checksum == "":
		// A ledger written before checksums were recorded adopts today's;
		// a checksum that could not be computed is reported already.
		if cosmetic {
			rc.warnings = append(rc.warnings, &Error{Pos: pos, Msg: fmt.Sprintf("-cosmetic=%s: %s recorded no checksum for change %q, so there is no edit to record", ch.ann.ID, LedgerName, ch.ann.ID)})
		}
	case ch.checksum == e.checksum:
		rc.cosmetic[e.id] = e.cosmetic
		if cosmetic {
			rc.warnings = append(rc.warnings, &Error{Pos: pos, Msg: fmt.Sprintf("-cosmetic=%s: change %q is not edited, so there is no edit to record", ch.ann.ID, ch.ann.ID)})
		}
	case slices.Contains(e.cosmetic, ch.checksum):
		// Back to an earlier version, already recorded equivalent.
		rc.cosmetic[e.id] = append(slices.DeleteFunc(slices.Clone(e.cosmetic), func(s string) bool { return s == ch.checksum }), e.checksum)
	case cosmetic:
		rc.cosmetic[e.id] = append(slices.Clone(e.cosmetic), e.checksum)
		rc.warnings = append(rc.warnings, &Error{Pos: pos, Msg: fmt.Sprintf("change %q: edit recorded as cosmetic (checksum %s, was %s): environments that applied the earlier version will not report it as changed",
			ch.ann.ID, short(ch.checksum), short(e.checksum))})
	default:
		rc.errs = append(rc.errs, &Error{Pos: pos, Err: ErrLedger, Msg: fmt.Sprintf(
			"change %q was edited since it was generated (checksum %s, %s:%d has %s): environments that applied it keep the old version, so make the edit a new change; "+
				"if the edit does not change what it does, record that with -cosmetic=%s; if it never ran anywhere, with -unreleased=%s",
			ch.ann.ID, short(ch.checksum), LedgerName, e.line, short(e.checksum), ch.ann.ID, ch.ann.ID)})
	}
}

// short abbreviates a checksum for messages.
func short(sum string) string { return sum[:min(len(sum), 12)] }

// checkHistory reports, as errors matching ErrLedger, what changes do that
// the ledger forbids: a generated change removed or renumbered, or a new
// change ordered before a generated one. entries are the generated changes
// (sorted by order) that may have run somewhere.
func checkHistory(fset *token.FileSet, path string, entries []ledgerEntry, changes []*change, declared map[string]*change) []*Error {
	var errs []*Error
	fail := func(pos token.Position, id, format string, args ...any) {
		errs = append(errs, &Error{Pos: pos, Err: ErrLedger, Msg: fmt.Sprintf(format, args...) +
			fmt.Sprintf("; if it never ran anywhere, run flamingock-gen with -unreleased=%s", id)})
	}
	at := func(line int) string { return fmt.Sprintf("%s:%d", LedgerName, line) }

	known := map[string]ledgerEntry{}
	var last *ledgerEntry
	for i, e := range entries {
		known[e.id] = e
		last = &entries[i]
		ch, ok := declared[e.id]
		switch {
		case !ok:
			fail(token.Position{Filename: path, Line: e.line, Column: 1}, e.id,
				"change %q (order %s) was generated before and is no longer declared: a change that may have been applied must stay", e.id, e.order)
		case ch.order != e.order:
			fail(fset.Position(ch.orderPos), e.id, "change %q has order %s but was generated with order %s (%s): the order of a generated change is fixed, and its id is never reused",
				e.id, ch.order, e.order, at(e.line))
		}
	}
	if last == nil {
		return errs
	}
	for _, ch := range changes {
		if _, generated := known[ch.ann.ID]; generated || declared[ch.ann.ID] != ch || ch.order.Compare(last.order) > 0 {
			continue
		}
		// The first generated change at or after the new one's order.
		i, _ := slices.BinarySearchFunc(entries, ch.order, func(e ledgerEntry, o audit.Order) int { return e.order.Compare(o) })
		next := entries[i]
		errs = append(errs, &Error{Pos: fset.Position(ch.orderPos), Err: ErrLedger, Msg: fmt.Sprintf(
			"new change %q (order %s) is ordered before change %q (order %s, %s), which was generated before: new changes go after order %s; if %q never ran anywhere, run flamingock-gen with -unreleased=%s",
			ch.ann.ID, ch.order, next.id, next.order, at(next.line), last.order, next.id, next.id)})
	}
	return errs
}

// lastOrder returns the highest order of the ledger's entries and changes.
func lastOrder(l ledger, changes []*change) audit.Order {
	var last audit.Order
	for _, e := range l.entries {
		if e.order.Compare(last) > 0 {
			last = e.order
		}
	}
	for _, ch := range changes {
		if ch.order.Compare(last) > 0 {
			last = ch.order
		}
	}
	return last
}
