// Package annotations parses flamingock's directives: //flamingock:change,
// which declares a change in Go source, and //flamingock:sql, the package
// directive that names the target of the package's SQL files (see
// ParseSQLComment and SQL). A change:
//
//	//flamingock:change id=create-users order=1 target=appdb author=alice rollback=DropUsers
//	func CreateUsers(ctx context.Context, tx *sql.Tx) error { … }
//
// The directive is a Go directive comment (https://go.dev/doc/comment#directives):
// no space after "//", tool "flamingock", name "change", then attributes
// written name=value and separated by spaces:
//
//	id=ID                      required; unique in the pipeline; at most 128 bytes
//	order=N                    a non-negative integer of any length, compared as a number (010 is 10);
//	                           may instead come from a file-name prefix (0001_create_users.go)
//	target=ID                  required; the id of the target system the change modifies; at most 128 bytes
//	author=NAME                optional; at most 256 bytes
//	rollback=FUNC              optional; a function of the same package (function form only):
//	                           the undo of the applied change, run by RollbackTo
//	recovery=manual|retry      optional; manual by default
//	transactional=true|false   optional; true by default
//	compensate=true|false      optional; false by default: true runs the rollback right
//	                           after the change fails without a transaction
//	profile=NAME[,NAME…]       optional; the environments the change belongs to, a name
//	                           prefixed by '!' excluding one (see Profiles below)
//
// An id or target id starts with an ASCII letter or digit and continues with
// letters, digits, '.', '_' or '-'. A value with spaces is written by quoting
// the whole attribute, as a Go string: "author=Alice Smith".
//
// Parsing relies on [ast.ParseDirective] and [ast.Directive.ParseArgs];
// directives are read from [ast.CommentGroup.List], never from
// [ast.CommentGroup.Text], which drops them. Whether the directive sits on a
// function or a type, and whether its order agrees with the file name, is for
// the generator to decide: this package knows one comment line.
//
// # Profiles
//
// A change may say which environments it belongs to:
//
//	//flamingock:change id=seed-users order=7 target=appdb profile=dev,test
//	//flamingock:change id=sample-data order=8 target=appdb profile=!prod
//
// The value is a comma-separated list of profile names, without blanks. A
// name is ASCII letters, digits, '-' and '_', at most MaxProfileLen bytes,
// compared case-sensitively; a name prefixed by '!' excludes the change
// from a runner that has that profile. No name may appear twice, nor both
// plain and with '!'. Each problem is reported at the name it concerns.
//
// What a runner does with them (runtime/pipeline's WithProfiles): a change
// without profile= runs on every runner; a change with profile= runs only
// on a runner that has at least one active profile, when one of its plain
// names is active (or it has none) and none of its '!' names is. A runner
// without active profiles therefore never runs a change that declares any,
// '!' or not: a dev seed-data change cannot reach production because
// someone forgot an option, and neither can a profile=!prod change.
package annotations

import (
	"fmt"
	"go/ast"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flamingock/flamingock-go/audit"
)

// Tool is the tool part of flamingock directives (//flamingock:…).
const Tool = "flamingock"

// The directives flamingock defines: a change, on a declaration, and the
// package directives of SQL files (see ParseSQLComment) and of MongoDB
// YAML steps files (see ParseYAMLComment).
const (
	directiveName     = "change"
	sqlDirectiveName  = "sql"
	yamlDirectiveName = "yaml"
)

var directiveNames = []string{directiveName, sqlDirectiveName, yamlDirectiveName}

// Attribute names, in the order the documentation lists them.
const (
	attrID            = "id"
	attrOrder         = "order"
	attrTarget        = "target"
	attrAuthor        = "author"
	attrRollback      = "rollback"
	attrRecovery      = "recovery"
	attrTransactional = "transactional"
	attrCompensate    = "compensate"
	attrProfile       = "profile"
)

var knownAttrs = []string{attrID, attrOrder, attrTarget, attrAuthor, attrRollback, attrRecovery, attrTransactional, attrCompensate, attrProfile}

// IDRule states the charset of ids and target ids (see ValidID), as error
// messages say it.
const IDRule = "it must start with an ASCII letter or digit and contain only letters, digits, '.', '_' and '-'"

// Change is one parsed //flamingock:change directive.
type Change struct {
	// Pos is the position of the directive's leading "//".
	Pos token.Pos

	ID string
	// Order is meaningful only when HasOrder is true. HasOrder is false when
	// the directive has no order= attribute: the order must then come from
	// the file name.
	Order    audit.Order
	HasOrder bool
	Target   string
	Author   string
	// Rollback names the rollback function; empty when none is declared.
	Rollback string
	// Recovery is audit.RecoveryManual unless recovery=retry.
	Recovery audit.Recovery
	// Transactional is true unless transactional=false.
	Transactional bool
	// Compensate is true when compensate=true: a failure of the change run
	// without a transaction is followed at once by its rollback. Without
	// it, the rollback is an undo, for a change that was fully applied.
	Compensate bool
	// Profiles are the names of profile=, as written: a name prefixed by
	// '!' excludes the change from a runner with that profile. Empty when
	// the change runs on every runner.
	Profiles []string

	// attrs holds the position of each attribute present, by name.
	attrs map[string]token.Pos
}

// AttrPos returns the position of attribute name ("id", "order", …) in the
// directive, or the directive's position when the attribute is absent.
func (c Change) AttrPos(name string) token.Pos {
	if p, ok := c.attrs[name]; ok {
		return p
	}
	return c.Pos
}

// Error is one problem in a directive, at the argument it concerns.
// Resolve Pos with the token.FileSet of the parsed file.
type Error struct {
	Pos token.Pos
	Msg string
}

func (e *Error) Error() string { return e.Msg }

// ErrorList is every problem of one directive, in source order. ParseComment
// returns it as its error.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Msg
	}
	return strings.Join(msgs, "; ")
}

// ParseComment parses c when it is a flamingock directive.
//
// ok is false when c is not a flamingock directive, and true when it is one
// or looks like a mistyped one ("// flamingock:change", with a space). err,
// when non-nil, is an ErrorList holding every problem found, and ch then
// holds what could be parsed.
func ParseComment(c *ast.Comment) (ch Change, ok bool, err error) {
	d, isDirective := ast.ParseDirective(c.Slash, c.Text)
	if isDirective && d.Tool == Tool && (d.Name == sqlDirectiveName || d.Name == yamlDirectiveName) {
		return Change{}, false, nil // ParseSQLComment's, ParseYAMLComment's
	}
	if !isDirective || d.Tool != Tool {
		if looksLikeDirective(c.Text) == directiveName {
			return Change{Pos: c.Slash}, true, ErrorList{{Pos: c.Slash, Msg: `malformed directive: write "//flamingock:change" with no space after "//" or ":"`}}
		}
		return Change{}, false, nil
	}
	ch, errs := parse(d)
	if len(errs) > 0 {
		return ch, true, errs
	}
	return ch, true, nil
}

// looksLikeDirective returns the flamingock directive ("change", "sql")
// that a reader would take line comment text for, when ast.ParseDirective
// rejects it (a space after "//" or ":"), or "".
func looksLikeDirective(text string) string {
	rest, ok := strings.CutPrefix(text, "//")
	if !ok {
		return ""
	}
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	if len(rest) < len(Tool)+1 || !strings.EqualFold(rest[:len(Tool)+1], Tool+":") {
		return ""
	}
	rest = strings.TrimLeftFunc(rest[len(Tool)+1:], unicode.IsSpace)
	word, _, _ := strings.Cut(rest, " ")
	for _, name := range directiveNames {
		if strings.EqualFold(word, name) {
			return name
		}
	}
	return ""
}

func parse(d ast.Directive) (Change, ErrorList) {
	ch := Change{Pos: d.Slash, Recovery: audit.RecoveryManual, Transactional: true, attrs: map[string]token.Pos{}}
	var errs ErrorList
	fail := func(pos token.Pos, format string, args ...any) {
		errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
	}

	if d.Name != directiveName {
		if near := closest(d.Name, directiveNames); near != "" {
			fail(d.Slash, "unknown directive //%s:%s (did you mean //%s:%s?)", Tool, d.Name, Tool, near)
		} else {
			fail(d.Slash, "unknown directive //%s:%s; flamingock's directives are //%s:%s, //%s:%s and //%s:%s", Tool, d.Name, Tool, directiveName, Tool, sqlDirectiveName, Tool, yamlDirectiveName)
		}
		return ch, errs
	}

	var (
		more  ErrorList
		whole bool
	)
	ch.attrs, more, whole = parseAttrs(d, knownAttrs, ch.set)
	errs = append(errs, more...)
	if !whole {
		return ch, errs
	}

	if _, ok := ch.attrs[attrID]; !ok {
		fail(d.Slash, "missing id: add id=… (a unique change id)")
	}
	if _, ok := ch.attrs[attrTarget]; !ok {
		fail(d.Slash, "missing target: add target=… (the id of the system the change modifies)")
	}
	return ch, errs
}

// parseAttrs parses the attributes of d, each one of known, storing each
// value with set, which returns why a value is invalid or "". It returns
// the position of every attribute present, by name, and every problem;
// whole is false when the rest of the line could not be trusted (a broken
// quote), so that no attribute should be reported missing.
func parseAttrs(d ast.Directive, known []string, set func(name, value string) string) (_ map[string]token.Pos, _ ErrorList, whole bool) {
	attrs := map[string]token.Pos{}
	var errs ErrorList
	fail := func(pos token.Pos, format string, args ...any) {
		errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
	}
	args, err := d.ParseArgs()
	if err != nil {
		// ParseArgs does not say where; the first bad quoted word is the
		// place to fix, and the rest of the line cannot be trusted.
		fail(badQuotePos(d), `malformed quoted attribute: quote a whole attribute as a Go string followed by a space, as in "author=Alice Smith"`)
		return attrs, errs, false
	}

	for _, a := range args {
		quoted := isQuoted(d, a)
		name, value, hasEq := strings.Cut(a.Arg, "=")
		switch {
		case !hasEq || name == "":
			fail(a.Pos, "malformed attribute %q: want name=value", a.Arg)
			continue
		case !slices.Contains(known, name):
			if near := closest(name, known); near != "" {
				fail(a.Pos, "unknown attribute %q (did you mean %q?)", name, near)
			} else {
				fail(a.Pos, "unknown attribute %q; known attributes are %s", name, strings.Join(known, ", "))
			}
			continue
		}
		if _, dup := attrs[name]; dup {
			fail(a.Pos, "repeated attribute %q", name)
			continue
		}
		attrs[name] = a.Pos
		if !quoted && strings.ContainsAny(value, "\"`") {
			fail(a.Pos, `malformed value for %s: a value with quotes or spaces is written by quoting the whole attribute, as in "author=Alice Smith"`, name)
			// The words after it are the rest of the broken quote.
			return attrs, errs, false
		}
		if value == "" {
			fail(a.Pos, "empty value for %s", name)
			continue
		}
		if name == attrProfile {
			// Each problem at the name it concerns, when the offsets of
			// the value are those of the line.
			at := a.Pos + token.Pos(len(name)+1)
			for _, e := range profileErrors(value) {
				if quoted {
					fail(a.Pos, "%s", e.Msg)
				} else {
					fail(at+token.Pos(e.Offset), "%s", e.Msg)
				}
			}
		}
		if msg := set(name, value); msg != "" {
			fail(a.Pos, "%s", msg)
		}
	}
	return attrs, errs, true
}

// set stores attribute name=value in c, or returns why value is invalid.
func (c *Change) set(name, value string) string {
	switch name {
	case attrID, attrTarget:
		if len(value) > audit.MaxIDLen {
			return fmt.Sprintf("invalid %s: %d bytes is longer than %d, the most every audit store takes", name, len(value), audit.MaxIDLen)
		}
		if !ValidID(value) {
			return fmt.Sprintf("invalid %s %q: %s", name, value, IDRule)
		}
		if name == attrID {
			c.ID = value
		} else {
			c.Target = value
		}
	case attrOrder:
		o, err := audit.ParseOrder(value)
		if err != nil {
			return fmt.Sprintf("invalid order %q: want a non-negative integer", value)
		}
		c.Order, c.HasOrder = o, true
	case attrAuthor:
		if strings.ContainsFunc(value, unicode.IsControl) {
			return "invalid author: control characters are not allowed"
		}
		if len(value) > audit.MaxAuthorLen {
			return fmt.Sprintf("invalid author: %d bytes is longer than %d, the most every audit store takes", len(value), audit.MaxAuthorLen)
		}
		c.Author = value
	case attrRollback:
		if !token.IsIdentifier(value) || value == "_" {
			return fmt.Sprintf("invalid rollback %q: want the name of a function in this package", value)
		}
		c.Rollback = value
	case attrRecovery:
		switch value {
		case "manual":
			c.Recovery = audit.RecoveryManual
		case "retry":
			c.Recovery = audit.RecoveryRetry
		default:
			return fmt.Sprintf("invalid recovery %q: want manual or retry", value)
		}
	case attrProfile:
		// parseAttrs reported the problems of the value, at their names.
		c.Profiles, _ = ParseProfiles(value)
	case attrTransactional, attrCompensate:
		if value != "true" && value != "false" {
			return fmt.Sprintf("invalid %s %q: want true or false", name, value)
		}
		if name == attrTransactional {
			c.Transactional = value == "true"
		} else {
			c.Compensate = value == "true"
		}
	}
	return ""
}

// ValidID reports whether s is a valid id or target id:
// [A-Za-z0-9][A-Za-z0-9._-]*.
func ValidID(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		if !alnum && (i == 0 || b != '.' && b != '_' && b != '-') {
			return false
		}
	}
	return s != ""
}

// isQuoted reports whether argument a was written as a quoted string.
func isQuoted(d ast.Directive, a ast.DirectiveArg) bool {
	off := int(a.Pos - d.ArgsPos)
	return off >= 0 && off < len(d.Args) && (d.Args[off] == '"' || d.Args[off] == '`')
}

// badQuotePos returns the position of the first quoted word of d that
// ParseArgs rejects: an unterminated string, or one not followed by a space.
func badQuotePos(d ast.Directive) token.Pos {
	s := d.Args
	spaceAt := func(i int) (bool, int) {
		r, n := utf8.DecodeRuneInString(s[i:])
		return unicode.IsSpace(r), n
	}
	for i := 0; i < len(s); {
		if space, n := spaceAt(i); space {
			i += n
			continue
		}
		if s[i] != '"' && s[i] != '`' {
			for i < len(s) {
				space, n := spaceAt(i)
				if space {
					break
				}
				i += n
			}
			continue
		}
		q, err := strconv.QuotedPrefix(s[i:])
		end := i + len(q)
		if err != nil {
			return d.ArgsPos + token.Pos(i)
		}
		if end < len(s) {
			if space, _ := spaceAt(end); !space {
				return d.ArgsPos + token.Pos(i)
			}
		}
		i = end
	}
	return d.ArgsPos
}

// closest returns the candidate nearest to word when it is a plausible typo
// of it (case-insensitive, at most two edits), or "".
func closest(word string, candidates []string) string {
	best, bestDist := "", 3
	lw := strings.ToLower(word)
	for _, c := range candidates {
		if d := editDistance(lw, c); d < bestDist && d < len(word) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
