package generator

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"go/token"
	"slices"
	"strconv"
	"strings"

	"github.com/flamingock/flamingock-go/annotations"
)

// ledgerHeader is the first line of the ledger file.
const ledgerHeader = "# flamingock.ledger: the changes flamingock-gen generated, as order and id. Do not edit."

// ledgerEntry is one line of the ledger: a change generated before.
type ledgerEntry struct {
	order int64
	id    string
	line  int
}

// parseLedger reads a ledger file. Blank lines and lines starting with #
// are ignored; every other line is "ORDER ID".
func parseLedger(path string, data []byte) ([]ledgerEntry, []*Error) {
	var entries []ledgerEntry
	var errs []*Error
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		pos := token.Position{Filename: path, Line: line, Column: 1}
		fields := strings.Fields(text)
		n, err := strconv.ParseInt(fields[0], 10, 64)
		switch {
		case len(fields) != 2 || err != nil || n < 0 || !annotations.ValidID(fields[1]):
			errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("malformed ledger line %q: want ORDER ID (restore the file from version control)", text)})
			continue
		case seen[fields[1]] != 0:
			errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("change %q appears twice in the ledger (first on line %d)", fields[1], seen[fields[1]])})
			continue
		}
		seen[fields[1]] = line
		entries = append(entries, ledgerEntry{order: n, id: fields[1], line: line})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &Error{Pos: token.Position{Filename: path}, Msg: fmt.Sprintf("reading the ledger: %v", err)})
	}
	slices.SortStableFunc(entries, func(a, b ledgerEntry) int { return cmp.Compare(a.order, b.order) })
	return entries, errs
}

// formatLedger returns the ledger file recording changes (sorted by order).
func formatLedger(changes []*change) []byte {
	var b bytes.Buffer
	b.WriteString(ledgerHeader + "\n")
	for _, ch := range changes {
		fmt.Fprintf(&b, "%d %s\n", ch.order, ch.ann.ID)
	}
	return b.Bytes()
}

// checkLedger reports, as errors matching ErrLedger, what changes do that the
// ledger forbids: a generated change removed or renumbered, or a new change
// ordered before a generated one. fset positions errors at the changes.
func checkLedger(fset *token.FileSet, path string, entries []ledgerEntry, changes []*change) []*Error {
	const hint = "if this is intended, run flamingock-gen with -allow-ledger-rewrite"
	var errs []*Error
	fail := func(pos token.Position, format string, args ...any) {
		errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...) + "; " + hint, Err: ErrLedger})
	}
	at := func(line int) string { return fmt.Sprintf("%s:%d", LedgerName, line) }

	current := map[string]*change{}
	for _, ch := range changes {
		if _, dup := current[ch.ann.ID]; !dup && ch.ann.ID != "" && ch.orderPos.IsValid() {
			current[ch.ann.ID] = ch
		}
	}
	known := map[string]ledgerEntry{}
	var last *ledgerEntry
	for i, e := range entries {
		known[e.id] = e
		last = &entries[i]
		ch, ok := current[e.id]
		switch {
		case !ok:
			fail(token.Position{Filename: path, Line: e.line, Column: 1},
				"change %q (order %d) was generated before and is no longer declared: a change that may have been applied must stay", e.id, e.order)
		case ch.order != e.order:
			fail(fset.Position(ch.orderPos), "change %q has order %d but was generated with order %d (%s): the order of a generated change is fixed, and its id is never reused",
				e.id, ch.order, e.order, at(e.line))
		}
	}
	if last == nil {
		return errs
	}
	for _, ch := range changes {
		if _, generated := known[ch.ann.ID]; generated || current[ch.ann.ID] != ch || ch.order > last.order {
			continue
		}
		// The first generated change at or after the new one's order.
		i, _ := slices.BinarySearchFunc(entries, ch.order, func(e ledgerEntry, o int64) int { return cmp.Compare(e.order, o) })
		next := entries[i]
		fail(fset.Position(ch.orderPos), "new change %q (order %d) is ordered before change %q (order %d, %s), which was generated before: new changes go after order %d",
			ch.ann.ID, ch.order, next.id, next.order, at(next.line), last.order)
	}
	return errs
}
