// Package mongoname is the one rule for the MongoDB names that
// flamingock-go chooses (the audit store's collection prefix, mongotarget's
// marker collection): MongoDB's rules for collection names and for the
// length of a namespace, checked before any server sees them.
package mongoname

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNamespaceLen is the longest namespace (database "." collection)
// MongoDB takes, in bytes.
const MaxNamespaceLen = 255

// Collection reports why name, the what of a message ("collection name",
// "collection prefix"), breaks MongoDB's rules for collection names: not
// empty, valid UTF-8, no "$" and no NUL, not starting with "." or
// "system.".
func Collection(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("invalid %s: empty", what)
	case !utf8.ValidString(name):
		return fmt.Errorf("invalid %s %q: not valid UTF-8", what, name)
	case strings.ContainsAny(name, "$\x00"):
		return fmt.Errorf("invalid %s %q: it must not contain \"$\" or NUL", what, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("invalid %s %q: it must not start with \".\"", what, name)
	case strings.HasPrefix(name, "system."):
		return fmt.Errorf("invalid %s %q: the prefix \"system.\" is reserved for MongoDB's own collections", what, name)
	}
	return nil
}

// Namespace reports a namespace database.collection longer than MongoDB
// takes; the caller's message says which name to shorten.
func Namespace(database, collection string) error {
	if n := len(database) + 1 + len(collection); n > MaxNamespaceLen {
		return fmt.Errorf("namespace %s.%s is %d bytes, more than MongoDB's %d", database, collection, n, MaxNamespaceLen)
	}
	return nil
}
