package generator

import (
	"bufio"
	"bytes"
	"fmt"
	"go/token"
	"slices"
	"strings"
)

// A ledger that git could not merge holds both sides between conflict
// markers:
//
//	<<<<<<< HEAD
//	3 add-phone 5d1c…
//	||||||| base        (with merge.conflictStyle=diff3 or zdiff3)
//	=======
//	3 add-email 9a0e…
//	>>>>>>> feature
//
// The generator reads such a file as the union of its two sides, so that
// go generate resolves the conflict itself: every change either branch
// generated stays recorded, and is checked as usual. A line of the base
// section that one side removed stays removed (a change that side
// renumbered with -renumber, or forgot with -unreleased). Our side's lines
// come first, as git's merge=union writes them, so checkMerge reads both
// kinds of merged ledger the same way.

// ledgerLine is one line of a ledger, resolved of its conflict markers.
type ledgerLine struct {
	line int // in the file
	text string
}

// Conflict markers, at the start of a line.
const (
	markOurs   = "<<<<<<<"
	markBase   = "|||||||"
	markSplit  = "======="
	markTheirs = ">>>>>>>"
)

// resolveConflicts returns the lines of data (trimmed), the sides of each
// conflict replaced by their union, and whether data held a conflict.
func resolveConflicts(path string, data []byte) (lines []ledgerLine, merged bool, errs []*Error) {
	const (
		outside = iota
		ours
		base
		theirs
	)
	state, start := outside, 0
	var sides [4][]ledgerLine
	flush := func() {
		// A base line missing from one side was removed by it.
		removed := map[string]bool{}
		for _, b := range sides[base] {
			inOurs := slices.ContainsFunc(sides[ours], func(l ledgerLine) bool { return l.text == b.text })
			inTheirs := slices.ContainsFunc(sides[theirs], func(l ledgerLine) bool { return l.text == b.text })
			if !inOurs || !inTheirs {
				removed[b.text] = true
			}
		}
		seen := map[string]bool{}
		for _, l := range slices.Concat(sides[ours], sides[theirs]) {
			if l.text != "" && (removed[l.text] || seen[l.text]) {
				continue
			}
			seen[l.text] = true
			lines = append(lines, l)
		}
		sides = [4][]ledgerLine{}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	bad := func(line int, msg string) {
		errs = append(errs, &Error{Pos: token.Position{Filename: path, Line: line, Column: 1}, Msg: msg})
	}
	for line := 1; sc.Scan(); line++ {
		raw := sc.Text()
		text := strings.TrimSpace(raw)
		switch {
		case strings.HasPrefix(raw, markOurs):
			if state != outside {
				bad(line, fmt.Sprintf("conflict marker %s inside the conflict that starts on line %d", markOurs, start))
			}
			state, start, merged = ours, line, true
			continue
		case strings.HasPrefix(raw, markBase) && state == ours:
			state = base
			continue
		case raw == markSplit && (state == ours || state == base):
			state = theirs
			continue
		case strings.HasPrefix(raw, markTheirs) && state == theirs:
			flush()
			state = outside
			continue
		case strings.HasPrefix(raw, markBase) || raw == markSplit || strings.HasPrefix(raw, markTheirs):
			bad(line, fmt.Sprintf("conflict marker %q out of place: restore the file from version control, or from one side of the merge (git checkout --ours/--theirs)", raw))
			continue
		}
		if state == outside {
			lines = append(lines, ledgerLine{line, text})
		} else {
			sides[state] = append(sides[state], ledgerLine{line, text})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &Error{Pos: token.Position{Filename: path}, Msg: fmt.Sprintf("reading the ledger: %v", err)})
	}
	if state != outside {
		bad(start, "the conflict that starts here has no end marker "+markTheirs)
		flush()
	}
	return lines, merged, errs
}

// mergeConflict is an entry of a merged ledger ordered at or before an
// entry that comes before it in the file: the two changes were generated on
// two branches, each after the changes it knew of.
type mergeConflict struct {
	moved, kept ledgerEntry
}

// mergeConflicts returns the entries of l that a merge put out of order, in
// the order of the file. flamingock-gen writes entries in increasing order,
// and a merge writes our side's lines first, so an entry after one of a
// higher or equal order is one from the branch merged in: taken for the one
// that never ran anywhere (see checkMerge for what the user must be sure of).
func mergeConflicts(l ledger) []mergeConflict {
	inFile := slices.Clone(l.entries)
	slices.SortFunc(inFile, func(a, b ledgerEntry) int { return a.seq - b.seq })
	var out []mergeConflict
	var hi *ledgerEntry
	for i, e := range inFile {
		if hi != nil && e.order.Compare(hi.order) <= 0 {
			out = append(out, mergeConflict{moved: e, kept: *hi})
			continue
		}
		hi = &inFile[i]
	}
	return out
}

// checkMerge reports each change that a merge of two branches left at the
// order of, or before, a change the other branch generated: wherever the
// other one was applied, it would run out of order, or two changes would
// share an order. The one to move is the one that never ran anywhere; it is
// renumbered safely with flamingock-gen -renumber=ID. Which one that is, the
// ledger cannot know (it records what was generated, not where it ran): the
// message names the one from the branch merged in, and says what the user
// must be sure of.
func checkMerge(fset *token.FileSet, path string, l ledger, declared map[string]*change, last string, pol policy) []*Error {
	var errs []*Error
	for _, c := range mergeConflicts(l) {
		if pol.unreleased[c.moved.id] || pol.unreleased[c.kept.id] {
			continue // checked as a new change by checkHistory
		}
		pos := token.Position{Filename: path, Line: c.moved.line, Column: 1}
		if ch := declared[c.moved.id]; ch != nil {
			pos = fset.Position(ch.orderPos)
		}
		keptAt := fmt.Sprintf("%s:%d", LedgerName, c.kept.line)
		if ch := declared[c.kept.id]; ch != nil {
			keptAt = where(fset.Position(ch.orderPos))
		}
		sure := fmt.Sprintf("be sure that no environment applied %q (a staging or test database deployed from its branch counts: the ledger records what was generated, not where it ran)", c.moved.id)
		var msg string
		if c.moved.order == c.kept.order {
			msg = fmt.Sprintf("changes %q and %q (%s) both took order %s, on two branches that were merged: only the one that never ran anywhere may move, after order %s; %q, from the branch merged in, is taken for that one: %s, then run: flamingock-gen -renumber=%s (if it is %q that never ran anywhere, -renumber=%s instead)",
				c.moved.id, c.kept.id, keptAt, c.moved.order, last, c.moved.id, sure, c.moved.id, c.kept.id, c.kept.id)
		} else {
			msg = fmt.Sprintf("change %q (order %s), from a branch merged after change %q (order %s, %s) was generated on the other, is now ordered before it: where %q was applied, %q would run after it, out of order; %q never ran anywhere if it was only on its branch: %s, then move it after order %s: flamingock-gen -renumber=%s",
				c.moved.id, c.moved.order, c.kept.id, c.kept.order, keptAt, c.kept.id, c.moved.id, c.moved.id, sure, last, c.moved.id)
		}
		errs = append(errs, &Error{Pos: pos, Err: ErrLedger, Msg: msg})
	}
	return errs
}
