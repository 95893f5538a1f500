package generator

import (
	"cmp"
	"errors"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrLedger is matched (with errors.Is) by the problems that only the ledger
// forbids: a removed, renumbered or edited change, a new change ordered
// before one that was generated before, a renamed stage, and allowances
// (Config.Cosmetic, Config.Unreleased) that name no such change. The
// allowances of Config permit them.
var ErrLedger = errors.New("ledger violation")

// Error is one problem found in the package, at one position.
type Error struct {
	// Pos is where the problem is; Filename is absolute.
	Pos token.Position
	Msg string
	// Err is ErrLedger for ledger violations, nil otherwise.
	Err error

	// at is Pos as a token.Pos, when the problem is in a parsed file.
	at token.Pos
}

// Error renders the problem as file:line:col: message.
func (e *Error) Error() string { return e.Format("") }

// Unwrap returns ErrLedger for ledger violations.
func (e *Error) Unwrap() error { return e.Err }

// Format renders the problem as file:line:col: message, with the file
// relative to dir when it is inside dir (as the go command prints paths
// under the current directory). An empty dir keeps the file as it is.
func (e *Error) Format(dir string) string {
	pos := e.Pos
	if dir != "" && pos.Filename != "" {
		if rel, err := filepath.Rel(dir, pos.Filename); err == nil && filepath.IsLocal(rel) {
			pos.Filename = rel
		}
	}
	if !pos.IsValid() && pos.Filename == "" {
		return e.Msg
	}
	return pos.String() + ": " + e.Msg
}

// FormatWarning renders a warning as Format does, with "warning: " before
// the message.
func (e *Error) FormatWarning(dir string) string {
	w := *e
	w.Msg = "warning: " + e.Msg
	return w.Format(dir)
}

// sortErrors orders errs by file, line, column, then message.
func sortErrors(errs []*Error) {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Filename, b.Pos.Filename),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}

// where renders pos for use inside a message: the file relative to the
// package directory, since the places a message names are in the package.
func where(pos token.Position) string {
	pos.Filename = filepath.Base(pos.Filename)
	return pos.String()
}

// parsePos parses the "file:line:col" (or "file:line") position of a
// go/packages error. ok is false when there is no usable position.
func parsePos(s string) (pos token.Position, ok bool) {
	if s == "" || s == "-" {
		return pos, false
	}
	var nums []int
	for range 2 {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(s[i+1:])
		if err != nil {
			break
		}
		nums = append([]int{n}, nums...)
		s = s[:i]
	}
	if len(nums) == 0 {
		return pos, false
	}
	pos = token.Position{Filename: s, Line: nums[0]}
	if len(nums) == 2 {
		pos.Column = nums[1]
	}
	return pos, true
}
