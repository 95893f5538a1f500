package sqlsplit

import (
	"strings"
	"testing"
)

// FuzzImplicitCommit checks that ImplicitCommit reads keywords only:
//
//   - blanks and comments around a statement do not change what it says;
//   - a statement inside a MySQL executable comment (/*!…*/, /*!80031 …*/,
//     MariaDB's /*M!…*/), which the server runs, says what the statement
//     says, reason included.
func FuzzImplicitCommit(f *testing.F) {
	for _, s := range []string{
		"CREATE TABLE t (a int)",
		"CREATE TEMPORARY TABLE t (a int)",
		"SET @@session.autocommit = 1",
		"SELECT 'DROP TABLE t'",
		"/*!40000 ALTER TABLE t DISABLE KEYS */",
		"INSERT INTO t VALUES ('a') # DROP",
		"LOCK TABLES t WRITE",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		reason, ok := ImplicitCommit(Statement{SQL: s})
		if ok != (reason != "") {
			t.Fatalf("ImplicitCommit(%q) = %q, %v: a reason exactly when it commits", s, reason, ok)
		}
		if r, o := ImplicitCommit(Statement{SQL: " /* CREATE TABLE x */\n# DROP\n\t" + s + "\n-- ALTER TABLE y"}); r != reason || o != ok {
			t.Fatalf("ImplicitCommit(%q) = %q, %v, but with comments around it %q, %v", s, reason, ok, r, o)
		}
		if strings.Contains(s, "*/") || s != "" && '0' <= s[0] && s[0] <= '9' {
			return // it would end the comment, or be read as its version
		}
		for _, open := range []string{"/*!", "/*!80031 ", "/*M!100108 "} {
			if r, o := ImplicitCommit(Statement{SQL: open + s + "*/"}); r != reason || o != ok {
				t.Fatalf("ImplicitCommit(%q) = %q, %v, but in the executable comment %s…*/ %q, %v", s, reason, ok, open, r, o)
			}
		}
	})
}
