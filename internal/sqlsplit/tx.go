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
// token "'" (never a keyword). In MySQL, the text of an executable comment
// (/*!50003 … */, and MariaDB's /*M!100108 … */) is read as SQL, whatever
// its version: the server runs it.
func words(sql string, d Dialect) []string {
	sc := scanner{src: sql, d: d}
	var ws []string
	for {
		t, err := sc.next()
		if err != nil || t.kind == tEOF {
			return ws
		}
		text := sql[t.start:t.end]
		switch {
		case d == MySQL && (t.kind == tQuoted && strings.HasPrefix(text, "/*!") || t.kind == tComment && strings.HasPrefix(text, "/*M!")):
			ws = append(ws, words(executableText(text), d)...)
		case t.kind == tComment:
		case t.kind == tQuoted:
			ws = append(ws, "'")
		default:
			ws = append(ws, strings.ToUpper(text))
		}
	}
}

// executableText returns the SQL of a MySQL executable comment: without
// "/*!" (or "/*M!"), the version digits and "*/".
func executableText(c string) string {
	c = strings.TrimPrefix(strings.TrimPrefix(c, "/*"), "M")
	c = strings.TrimPrefix(c, "!")
	c = strings.TrimLeft(c, "0123456789")
	return strings.TrimSuffix(c, "*/")
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

// ImplicitCommit reports whether the MySQL (or MariaDB) statement stmt
// commits the open transaction implicitly, as the MySQL 8.0 manual lists
// them ("Statements That Cause an Implicit Commit") and MariaDB's: reason
// names the statement, such as "ALTER TABLE causes an implicit commit".
// Such a statement cannot be part of an atomic change: whatever ran before
// it in the transaction is committed, and it commits itself.
//
// It matches keywords, never the text of a literal or a comment, but
// reads executable comments as SQL. The families:
//
//   - data definition: every CREATE, ALTER and DROP (databases, events,
//     indexes, logfile groups, procedures, functions, servers, spatial
//     reference systems, tables, tablespaces, triggers, views, sequences,
//     users, roles, and any object it does not know) but CREATE and DROP
//     TEMPORARY TABLE; RENAME TABLE, TRUNCATE TABLE, INSTALL and UNINSTALL
//     (PLUGIN, COMPONENT, SONAME);
//   - account management: RENAME USER, GRANT, REVOKE, SET PASSWORD, SET
//     DEFAULT ROLE (and CREATE/ALTER/DROP USER, CREATE/DROP ROLE above);
//   - transaction control and locking: BEGIN, START TRANSACTION, LOCK
//     TABLES, UNLOCK TABLES, LOCK INSTANCE FOR BACKUP, SET autocommit = 1;
//   - administration: ANALYZE TABLE, CACHE INDEX, CHECK TABLE, FLUSH,
//     LOAD INDEX INTO CACHE, OPTIMIZE TABLE, REPAIR TABLE, RESET (not
//     RESET PERSIST);
//   - replication control: START, STOP REPLICA or SLAVE (RESET under
//     administration), CHANGE MASTER, CHANGE REPLICATION SOURCE.
//
// Where the statement alone cannot tell, it says true, because the two
// mistakes differ: a commit it missed would break the atomicity the
// change relies on, a commit it made up only costs the change its
// transaction. So ALTER TABLE, CREATE INDEX and TRUNCATE count whatever
// table they name (the statement does not say whether it is temporary),
// as does CREATE FUNCTION … SONAME, a loadable function, which MySQL does
// not commit for; UNLOCK TABLES counts although it commits only when
// tables are locked; SET autocommit counts unless the value is 0, OFF or
// FALSE (the old value is unknown); BEGIN counts even as MariaDB's BEGIN
// NOT ATOMIC block; an executable comment counts whatever its version,
// and MariaDB's /*M! … */ on MySQL too. It cannot see what a statement
// runs elsewhere: CALL of a procedure that defines data, EXECUTE of a
// prepared statement. LOAD DATA, which commits for NDB tables only, does
// not count. COMMIT and ROLLBACK end the transaction explicitly: they are
// not implicit commits and ImplicitCommit says false.
func ImplicitCommit(stmt Statement) (reason string, ok bool) {
	w := words(stmt.SQL, MySQL)
	at := func(i int, kw ...string) bool { return i < len(w) && slices.Contains(kw, w[i]) }
	commit := func(what string) (string, bool) { return what + " causes an implicit commit", true }
	if len(w) == 0 {
		return "", false
	}
	switch w[0] {
	case "CREATE", "ALTER", "DROP":
		return definition(w, commit)
	case "RENAME":
		if at(1, "USER") {
			return commit("RENAME USER")
		}
		return commit("RENAME TABLE")
	case "TRUNCATE":
		return commit("TRUNCATE TABLE")
	case "INSTALL", "UNINSTALL":
		if at(1, "PLUGIN", "COMPONENT", "SONAME") {
			return commit(w[0] + " " + w[1])
		}
		return commit(w[0])
	case "GRANT", "REVOKE", "BEGIN", "FLUSH":
		return commit(w[0])
	case "RESET":
		if !at(1, "PERSIST") {
			return commit("RESET")
		}
	case "SET":
		switch {
		case at(1, "PASSWORD"):
			return commit("SET PASSWORD")
		case at(1, "DEFAULT") && at(2, "ROLE"):
			return commit("SET DEFAULT ROLE")
		case setsAutocommit(w):
			return commit("SET autocommit = 1")
		}
	case "START", "STOP":
		switch {
		case w[0] == "START" && at(1, "TRANSACTION"):
			return commit("START TRANSACTION")
		case at(1, "REPLICA", "SLAVE"):
			return commit(w[0] + " " + w[1])
		case at(1, "ALL") && at(2, "REPLICAS", "SLAVES"): // MariaDB
			return commit(w[0] + " ALL " + w[2])
		}
	case "LOCK", "UNLOCK":
		switch {
		case at(1, "TABLES", "TABLE"):
			return commit(w[0] + " TABLES")
		case w[0] == "LOCK" && at(1, "INSTANCE"):
			return commit("LOCK INSTANCE FOR BACKUP")
		}
		return commit(w[0])
	case "ANALYZE":
		i := 1
		if at(i, "NO_WRITE_TO_BINLOG", "LOCAL") {
			i++
		}
		if at(i, "TABLE", "TABLES") { // not MariaDB's ANALYZE SELECT …
			return commit("ANALYZE TABLE")
		}
	case "CHECK", "OPTIMIZE", "REPAIR":
		return commit(w[0] + " TABLE")
	case "CACHE":
		if at(1, "INDEX") {
			return commit("CACHE INDEX")
		}
	case "LOAD":
		if at(1, "INDEX") {
			return commit("LOAD INDEX INTO CACHE")
		}
	case "CHANGE":
		switch {
		case at(1, "MASTER"):
			return commit("CHANGE MASTER")
		case at(1, "REPLICATION") && at(2, "SOURCE", "FILTER"):
			return commit("CHANGE REPLICATION " + w[2])
		}
	}
	return "", false
}

// definition is ImplicitCommit of a CREATE, ALTER or DROP statement w: all
// but CREATE [OR REPLACE] TEMPORARY TABLE and DROP TEMPORARY TABLE commit.
// The reason names the verb and the first object keyword after it
// (modifiers such as UNIQUE, OR REPLACE, DEFINER=… skipped).
func definition(w []string, commit func(string) (string, bool)) (string, bool) {
	temporary := false
	for i := 1; i < len(w); i++ {
		next := func(kw string) bool { return i+1 < len(w) && w[i+1] == kw }
		switch w[i] {
		case "TEMPORARY":
			temporary = true
		case "TABLE":
			if temporary {
				return "", false
			}
			return commit(w[0] + " TABLE")
		case "DATABASE", "SCHEMA", "EVENT", "INDEX", "PROCEDURE", "FUNCTION", "SERVER",
			"TABLESPACE", "TRIGGER", "VIEW", "SEQUENCE", "USER", "ROLE":
			return commit(w[0] + " " + w[i])
		case "LOGFILE":
			if next("GROUP") {
				return commit(w[0] + " LOGFILE GROUP")
			}
		case "SPATIAL":
			if next("REFERENCE") {
				return commit(w[0] + " SPATIAL REFERENCE SYSTEM")
			}
		}
	}
	return commit(w[0])
}

// setsAutocommit reports whether the SET statement w sets the system
// variable autocommit (autocommit, @@autocommit, @@session.autocommit,
// SESSION autocommit; not the user variable @autocommit) to anything but
// 0, OFF or FALSE.
func setsAutocommit(w []string) bool {
	for i := 1; i < len(w); i++ {
		if w[i] != "AUTOCOMMIT" || w[i-1] == "@" && (i < 2 || w[i-2] != "@") {
			continue
		}
		j := i + 1
		if j < len(w) && w[j] == ":" {
			j++
		}
		if j >= len(w) || w[j] != "=" {
			continue
		}
		if j+1 < len(w) && slices.Contains([]string{"0", "OFF", "FALSE"}, w[j+1]) {
			continue
		}
		return true
	}
	return false
}
