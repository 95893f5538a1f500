// Package pgident is the one rule for the PostgreSQL identifiers that
// flamingock-go names (the audit store's schema and table prefix, the
// marker table of pgxtarget): plain ASCII identifiers, which are always
// quoted when used, checked before any server sees them.
package pgident

import "fmt"

// MaxLen is PostgreSQL's NAMEDATALEN-1. The server silently truncates
// longer names, so two long names could end up naming the same table; they
// are refused instead.
const MaxLen = 63

// Check reports why name, the what of a message ("schema", "table
// prefix"), is not an identifier of letters, digits and underscores, not
// starting with a digit, of at most maxLen bytes. Quoting would make any
// name safe; the rule keeps names readable in messages and easy to type in
// psql, and refuses anything that looks like an attempt at injection.
func Check(what, name string, maxLen int) error {
	if name == "" {
		return fmt.Errorf("invalid %s: empty", what)
	}
	if len(name) > maxLen {
		return fmt.Errorf("invalid %s %q: longer than %d bytes", what, name, maxLen)
	}
	for i, r := range name {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return fmt.Errorf("invalid %s %q: use letters, digits and underscores, not starting with a digit", what, name)
		}
	}
	return nil
}
