package sqlsplit

import (
	"slices"
	"strings"
)

// TxRule says why a statement cannot run inside a transaction block.
type TxRule struct {
	// Reason is a sentence naming the statement, such as
	// "CREATE INDEX CONCURRENTLY cannot run inside a transaction block".
	Reason string
	// BeforeVersion, when non-zero, is the first server major version on
	// which the statement can run inside a transaction block: the rule
	// applies only to older servers (ALTER TYPE … ADD VALUE: 12).
	BeforeVersion int
}

// words returns the upper-cased words and punctuation of a statement,
// without comments; string literals and quoted identifiers count as one
// token "'" (never a keyword).
func words(sql string, d Dialect) []string {
	sc := scanner{src: sql, d: d}
	var ws []string
	for {
		t, err := sc.next()
		if err != nil || t.kind == tEOF {
			return ws
		}
		switch t.kind {
		case tComment:
		case tQuoted:
			ws = append(ws, "'")
		default:
			ws = append(ws, strings.ToUpper(sql[t.start:t.end]))
		}
	}
}

// NoTransactionRule reports whether stmt cannot run inside a transaction
// block on d, matching keywords (never the text of a literal or a
// comment). MySQL has no such statement; see ImplicitCommit.
func NoTransactionRule(stmt Statement, d Dialect) (TxRule, bool) {
	w := words(stmt.SQL, d)
	at := func(i int, kw ...string) bool { return i < len(w) && slices.Contains(kw, w[i]) }
	rule := func(what string) (TxRule, bool) {
		return TxRule{Reason: what + " cannot run inside a transaction block"}, true
	}
	switch d {
	case SQLite:
		if at(0, "VACUUM") {
			return rule("VACUUM")
		}
	case PostgreSQL:
		switch {
		case at(0, "VACUUM"):
			return rule("VACUUM")
		case at(0, "CREATE") && at(1, "INDEX") && at(2, "CONCURRENTLY"),
			at(0, "CREATE") && at(1, "UNIQUE") && at(2, "INDEX") && at(3, "CONCURRENTLY"):
			return rule("CREATE INDEX CONCURRENTLY")
		case at(0, "DROP") && at(1, "INDEX") && at(2, "CONCURRENTLY"):
			return rule("DROP INDEX CONCURRENTLY")
		case at(0, "REINDEX"):
			if slices.Contains(w, "CONCURRENTLY") {
				return rule("REINDEX CONCURRENTLY")
			}
			i := 1
			if at(1, "(") { // REINDEX (VERBOSE) DATABASE …
				for i < len(w) && w[i] != ")" {
					i++
				}
				i++
			}
			if at(i, "SCHEMA", "DATABASE", "SYSTEM") {
				return rule("REINDEX " + w[i])
			}
		case at(0, "CREATE", "DROP") && at(1, "DATABASE", "TABLESPACE"):
			return rule(w[0] + " " + w[1])
		case at(0, "ALTER") && at(1, "SYSTEM"):
			return rule("ALTER SYSTEM")
		case at(0, "ALTER") && at(1, "DATABASE") && slices.Contains(w, "TABLESPACE") && slices.Contains(w, "SET"):
			return rule("ALTER DATABASE … SET TABLESPACE")
		case at(0, "ALTER") && at(1, "TABLE") && slices.Contains(w, "DETACH") && slices.Contains(w, "CONCURRENTLY"):
			return rule("ALTER TABLE … DETACH PARTITION … CONCURRENTLY")
		case at(0, "ALTER") && at(1, "TYPE"):
			for i := 2; i+1 < len(w); i++ {
				if w[i] == "ADD" && w[i+1] == "VALUE" {
					return TxRule{
						Reason:        "ALTER TYPE … ADD VALUE cannot run inside a transaction block before PostgreSQL 12",
						BeforeVersion: 12,
					}, true
				}
			}
		}
	}
	return TxRule{}, false
}

// NoTransaction reports whether stmt cannot run inside a transaction block
// on d, and why. A rule that applies only to older servers (ALTER TYPE …
// ADD VALUE, before PostgreSQL 12) is reported too, its reason saying so;
// NoTransactionRule gives the version.
func NoTransaction(stmt Statement, d Dialect) (reason string, ok bool) {
	r, ok := NoTransactionRule(stmt, d)
	return r.Reason, ok
}

// ImplicitCommit reports whether the MySQL statement stmt commits the
// current transaction implicitly: data definition (CREATE, ALTER, DROP,
// RENAME, TRUNCATE of tables, indexes, views, routines, databases…), except
// CREATE/DROP TEMPORARY TABLE.
func ImplicitCommit(stmt Statement) bool {
	w := words(stmt.SQL, MySQL)
	if len(w) == 0 {
		return false
	}
	switch w[0] {
	case "TRUNCATE", "RENAME":
		return true
	case "CREATE", "DROP":
		return !(len(w) > 1 && w[1] == "TEMPORARY")
	case "ALTER":
		return true
	}
	return false
}
