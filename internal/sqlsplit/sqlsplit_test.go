package sqlsplit

import (
	"errors"
	"strings"
	"testing"
)

// st is a wanted statement: its SQL and position.
type st struct {
	sql       string
	line, col int
}

func check(t *testing.T, src string, d Dialect, want []st) {
	t.Helper()
	got, err := Split(src, d)
	if err != nil {
		t.Fatalf("Split(%q, %v): %v", src, d, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Split(%q, %v) = %d statements %q, want %d", src, d, len(got), sqls(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.SQL != w.sql || g.Line != w.line || g.Col != w.col {
			t.Errorf("statement %d = %q at %d:%d, want %q at %d:%d", i, g.SQL, g.Line, g.Col, w.sql, w.line, w.col)
		}
		if src[g.Offset:g.Offset+len(g.SQL)] != g.SQL {
			t.Errorf("statement %d: Offset %d does not locate its SQL", i, g.Offset)
		}
	}
}

func sqls(ss []Statement) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.SQL)
	}
	return out
}

var all = []Dialect{PostgreSQL, SQLite, MySQL}

func TestSplitCommon(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []st
	}{
		{"empty input has no statement", "", nil},
		{"blanks and semicolons only have no statement", " ;\n;;\t;", nil},
		{"two statements on two lines", "SELECT 1;\nSELECT 2;\n", []st{{"SELECT 1", 1, 1}, {"SELECT 2", 2, 1}}},
		{"a last statement without a semicolon counts", "SELECT 1;\n  SELECT 2\n", []st{{"SELECT 1", 1, 1}, {"SELECT 2", 2, 3}}},
		{"empty statements are dropped", "SELECT 1;;  ;SELECT 2", []st{{"SELECT 1", 1, 1}, {"SELECT 2", 1, 14}}},
		{"blanks before the semicolon are trimmed", "SELECT 1 \n ;", []st{{"SELECT 1", 1, 1}}},
		{"a semicolon in a string does not split", "INSERT INTO t VALUES ('a;b');", []st{{"INSERT INTO t VALUES ('a;b')", 1, 1}}},
		{"a doubled quote escapes a quote", "SELECT 'it''s;';SELECT 2", []st{{"SELECT 'it''s;'", 1, 1}, {"SELECT 2", 1, 17}}},
		{"a line comment hides a semicolon", "SELECT 1 -- no; split\n, 2;", []st{{"SELECT 1 -- no; split\n, 2", 1, 1}}},
		{"leading comments are dropped", "-- header\n/* note; */\nSELECT 1;", []st{{"SELECT 1", 3, 1}}},
		{"a comment after the last statement is no statement", "SELECT 1; -- done\n", []st{{"SELECT 1", 1, 1}}},
		{"a comment before the semicolon is kept", "SELECT 1 /* one */;", []st{{"SELECT 1 /* one */", 1, 1}}},
		{"a block comment hides a semicolon", "SELECT /* ; */ 1;", []st{{"SELECT /* ; */ 1", 1, 1}}},
		{"columns count bytes", "SELECT 'é';SELECT 2", []st{{"SELECT 'é'", 1, 1}, {"SELECT 2", 1, 13}}},
		{"CRLF line ends", "SELECT 1;\r\nSELECT 2;\r\n", []st{{"SELECT 1", 1, 1}, {"SELECT 2", 2, 1}}},
		{"BEGIN and END outside a routine are statements", "BEGIN;\nSELECT 1;\nEND;", []st{{"BEGIN", 1, 1}, {"SELECT 1", 2, 1}, {"END", 3, 1}}},
	}
	for _, d := range all {
		for _, c := range cases {
			t.Run(d.String()+": "+c.name, func(t *testing.T) { check(t, c.src, d, c.want) })
		}
	}
}

func TestSplitPostgreSQL(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []st
	}{
		{"a double-quoted identifier hides a semicolon", `CREATE TABLE "a;b" (x int);`, []st{{`CREATE TABLE "a;b" (x int)`, 1, 1}}},
		{"a doubled double quote escapes it", `SELECT "a"";b";SELECT 2`, []st{{`SELECT "a"";b"`, 1, 1}, {"SELECT 2", 1, 16}}},
		{"a backslash is literal in a standard string", `SELECT 'a\';SELECT 2`, []st{{`SELECT 'a\'`, 1, 1}, {"SELECT 2", 1, 13}}},
		{"E strings take backslash escapes", `SELECT E'a\';b';SELECT 2`, []st{{`SELECT E'a\';b'`, 1, 1}, {"SELECT 2", 1, 17}}},
		{"lower-case e strings too", `SELECT e'\\';SELECT 2`, []st{{`SELECT e'\\'`, 1, 1}, {"SELECT 2", 1, 14}}},
		{"a word ending in e before a string is no E string", `SELECT type'a\';SELECT 2`, []st{{`SELECT type'a\'`, 1, 1}, {"SELECT 2", 1, 17}}},
		{"dollar quoting", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nSELECT 2;",
			[]st{{"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", 1, 1}, {"SELECT 2", 2, 1}}},
		{"tagged dollar quoting with $$ inside", "DO $body$ BEGIN PERFORM '$$;'; END $body$;SELECT 2",
			[]st{{"DO $body$ BEGIN PERFORM '$$;'; END $body$", 1, 1}, {"SELECT 2", 1, 43}}},
		{"a parameter is no dollar quote", "SELECT $1;SELECT $2", []st{{"SELECT $1", 1, 1}, {"SELECT $2", 1, 11}}},
		{"a dollar inside an identifier is no dollar quote", "SELECT a$b$;SELECT 2", []st{{"SELECT a$b$", 1, 1}, {"SELECT 2", 1, 13}}},
		{"block comments nest", "SELECT /* a /* b; */ c; */ 1;SELECT 2", []st{{"SELECT /* a /* b; */ c; */ 1", 1, 1}, {"SELECT 2", 1, 30}}},
		{"BEGIN ATOMIC body", "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT 3;",
			[]st{{"CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND", 1, 1}, {"SELECT 3", 6, 1}}},
		{"BEGIN ATOMIC with CASE inside", "CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; INSERT INTO t VALUES (1); END;SELECT 3",
			[]st{{"CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; INSERT INTO t VALUES (1); END", 1, 1}, {"SELECT 3", 1, 110}}},
		{"a comment between BEGIN and ATOMIC", "CREATE FUNCTION f() RETURNS int BEGIN /* c */ ATOMIC SELECT 1; END;",
			[]st{{"CREATE FUNCTION f() RETURNS int BEGIN /* c */ ATOMIC SELECT 1; END", 1, 1}}},
		{"a lower-case body", "create function f() returns int begin atomic select 1; end; select 2",
			[]st{{"create function f() returns int begin atomic select 1; end", 1, 1}, {"select 2", 1, 61}}},
		{"a semicolon inside parentheses does not split", "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));SELECT 2",
			[]st{{"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))", 1, 1}, {"SELECT 2", 1, 94}}},
		{"an extra closing parenthesis does not hide the next semicolon", "SELECT 1);SELECT 2", []st{{"SELECT 1)", 1, 1}, {"SELECT 2", 1, 11}}},
		{"a routine named atomic has no body", "CREATE FUNCTION atomic() RETURNS int AS 'SELECT 1' LANGUAGE sql;SELECT 2",
			[]st{{"CREATE FUNCTION atomic() RETURNS int AS 'SELECT 1' LANGUAGE sql", 1, 1}, {"SELECT 2", 1, 65}}},
		{"COPY to STDOUT is a statement", "COPY t TO STDOUT;", []st{{"COPY t TO STDOUT", 1, 1}}},
		{"backticks are not quotes", "SELECT `a;b`", []st{{"SELECT `a", 1, 1}, {"b`", 1, 11}}},
		{"# is an operator, not a comment", "SELECT 1 # 2;SELECT 3", []st{{"SELECT 1 # 2", 1, 1}, {"SELECT 3", 1, 14}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.src, PostgreSQL, c.want) })
	}
}

func TestSplitSQLite(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []st
	}{
		{"trigger body", "CREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n  UPDATE t SET a = 1;\n  DELETE FROM u;\nEND;\nSELECT 1;",
			[]st{{"CREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n  UPDATE t SET a = 1;\n  DELETE FROM u;\nEND", 1, 1}, {"SELECT 1", 6, 1}}},
		{"temporary trigger with CASE in its body and WHEN", "CREATE TEMP TRIGGER IF NOT EXISTS tr AFTER INSERT ON t WHEN CASE WHEN 1 THEN 1 END BEGIN SELECT CASE WHEN 1 THEN 2 END; SELECT 3; END; SELECT 4",
			[]st{{"CREATE TEMP TRIGGER IF NOT EXISTS tr AFTER INSERT ON t WHEN CASE WHEN 1 THEN 1 END BEGIN SELECT CASE WHEN 1 THEN 2 END; SELECT 3; END", 1, 1}, {"SELECT 4", 1, 136}}},
		{"backtick and bracket identifiers", "SELECT `a;b`, [c;d];SELECT 2", []st{{"SELECT `a;b`, [c;d]", 1, 1}, {"SELECT 2", 1, 21}}},
		{"block comments do not nest", "SELECT /* /* */ 1;SELECT 2", []st{{"SELECT /* /* */ 1", 1, 1}, {"SELECT 2", 1, 19}}},
		{"dollars are not quotes", "SELECT $$;SELECT 2", []st{{"SELECT $$", 1, 1}, {"SELECT 2", 1, 11}}},
		{"a backslash is literal", `SELECT 'a\';SELECT 2`, []st{{`SELECT 'a\'`, 1, 1}, {"SELECT 2", 1, 13}}},
		{"BEGIN ATOMIC is PostgreSQL only", "CREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END;",
			[]st{{"CREATE FUNCTION f() BEGIN ATOMIC SELECT 1", 1, 1}, {"END", 1, 44}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.src, SQLite, c.want) })
	}
}

func TestSplitMySQL(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []st
	}{
		{"backtick identifiers", "CREATE TABLE `a;b` (x int);SELECT 2", []st{{"CREATE TABLE `a;b` (x int)", 1, 1}, {"SELECT 2", 1, 28}}},
		{"a doubled backtick escapes it", "SELECT `a``;b`;SELECT 2", []st{{"SELECT `a``;b`", 1, 1}, {"SELECT 2", 1, 16}}},
		{"# comments", "SELECT 1 # no; split\n;SELECT 2", []st{{"SELECT 1 # no; split", 1, 1}, {"SELECT 2", 2, 2}}},
		{"-- needs a blank after it", "SELECT 1--1;SELECT 2 -- c;\n;", []st{{"SELECT 1--1", 1, 1}, {"SELECT 2 -- c;", 1, 13}}},
		{"backslash escapes in single-quoted strings", `SELECT 'a\';b';SELECT 2`, []st{{`SELECT 'a\';b'`, 1, 1}, {"SELECT 2", 1, 16}}},
		{"double quotes are strings with backslash escapes", `SELECT "a\";b";SELECT 2`, []st{{`SELECT "a\";b"`, 1, 1}, {"SELECT 2", 1, 16}}},
		{"block comments do not nest", "SELECT /* /* */ 1;SELECT 2", []st{{"SELECT /* /* */ 1", 1, 1}, {"SELECT 2", 1, 19}}},
		{"an executable comment is kept", "SELECT /*!40100 1; */ 2;", []st{{"SELECT /*!40100 1; */ 2", 1, 1}}},
		{"an executable comment is a statement", "/* plain */;\n/*!80031 ALTER TABLE t MODIFY a TEXT */;\n", []st{{"/*!80031 ALTER TABLE t MODIFY a TEXT */", 2, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.src, MySQL, c.want) })
	}
}

func TestSplitErrors(t *testing.T) {
	cases := []struct {
		name      string
		d         Dialect
		src       string
		line, col int
		msg       string
	}{
		{"unterminated string", PostgreSQL, "SELECT 1;\nSELECT 'abc;\n", 2, 8, "unterminated string literal"},
		{"unterminated E string", PostgreSQL, `SELECT 1; SELECT E'\'`, 1, 18, "unterminated string literal"},
		{"unterminated identifier", PostgreSQL, "SELECT \"a;", 1, 8, "unterminated quoted identifier"},
		{"unterminated dollar quote", PostgreSQL, "SELECT 1;\n\nDO $x$ BEGIN END $y$;", 3, 4, "unterminated dollar-quoted string $x$"},
		{"unterminated block comment", PostgreSQL, "SELECT 1;\n  /* a /* b */", 2, 3, "unterminated block comment"},
		{"unterminated nested block comment", PostgreSQL, "/* /* */ SELECT 1;", 1, 1, "unterminated block comment"},
		{"unterminated BEGIN ATOMIC", PostgreSQL, "CREATE FUNCTION f() RETURNS int\n  BEGIN ATOMIC SELECT 1;", 2, 3, "unterminated BEGIN ATOMIC body: no END closes it"},
		{"unterminated trigger body", SQLite, "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1;", 1, 36, "unterminated trigger body: no END closes this BEGIN"},
		{"unterminated bracket identifier", SQLite, "SELECT [a;", 1, 8, "unterminated quoted identifier"},
		{"unterminated backtick identifier", MySQL, "SELECT `a;", 1, 8, "unterminated quoted identifier"},
		{"unterminated MySQL string ending in a backslash", MySQL, `SELECT 'a\'`, 1, 8, "unterminated string literal"},
		{"DELIMITER", MySQL, "SELECT 1;\ndelimiter //\n", 2, 1, "DELIMITER is a command of the mysql client, not SQL, and is not supported: end each statement with ';'"},
		{"unclosed parenthesis", PostgreSQL, "SELECT 1;\nINSERT INTO t VALUES ((1), (2;\nSELECT 3;", 2, 22, "unclosed parenthesis: a ';' inside parentheses does not end a statement"},
		{"COPY FROM STDIN", PostgreSQL, "COPY t (a) FROM stdin;\n1\n\\.\n", 1, 17, "COPY … FROM STDIN reads data that follows in psql's input, and is not supported: load the data with INSERT statements"},
		{"a psql meta-command", PostgreSQL, "SELECT 1;\n\\connect other\n", 2, 1, "psql meta-commands (\\connect, \\i, …) are not SQL and are not supported"},
		{"unknown dialect", Dialect(0), "SELECT 1", 1, 1, "unknown dialect Dialect(0)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Split(c.src, c.d)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Split(%q) error = %v, want an *Error", c.src, err)
			}
			if e.Line != c.line || e.Col != c.col || e.Msg != c.msg {
				t.Errorf("Split(%q) = %d:%d: %s, want %d:%d: %s", c.src, e.Line, e.Col, e.Msg, c.line, c.col, c.msg)
			}
		})
	}
}

func TestDelimiterIsAWordOnlyAtStatementStart(t *testing.T) {
	check(t, "SELECT delimiter FROM t", MySQL, []st{{"SELECT delimiter FROM t", 1, 1}})
	check(t, "DELIMITER", PostgreSQL, []st{{"DELIMITER", 1, 1}})
}

func TestNoTransaction(t *testing.T) {
	cases := []struct {
		d      Dialect
		sql    string
		reason string // "" when the statement can run in a transaction
		before int
	}{
		{PostgreSQL, "CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY cannot run inside a transaction block", 0},
		{PostgreSQL, "create unique index concurrently i on t (a)", "CREATE INDEX CONCURRENTLY cannot run inside a transaction block", 0},
		{PostgreSQL, "/* c */ CREATE -- x\n INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY cannot run inside a transaction block", 0},
		{PostgreSQL, "DROP INDEX CONCURRENTLY i", "DROP INDEX CONCURRENTLY cannot run inside a transaction block", 0},
		{PostgreSQL, "REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY cannot run inside a transaction block", 0},
		{PostgreSQL, "REINDEX (VERBOSE) DATABASE d", "REINDEX DATABASE cannot run inside a transaction block", 0},
		{PostgreSQL, "REINDEX TABLE t", "", 0},
		{PostgreSQL, "VACUUM ANALYZE t", "VACUUM cannot run inside a transaction block", 0},
		{PostgreSQL, "CREATE DATABASE d", "CREATE DATABASE cannot run inside a transaction block", 0},
		{PostgreSQL, "DROP DATABASE d", "DROP DATABASE cannot run inside a transaction block", 0},
		{PostgreSQL, "ALTER SYSTEM SET work_mem = '1MB'", "ALTER SYSTEM cannot run inside a transaction block", 0},
		{PostgreSQL, "CREATE TABLESPACE s LOCATION '/x'", "CREATE TABLESPACE cannot run inside a transaction block", 0},
		{PostgreSQL, "ALTER TABLE p DETACH PARTITION c CONCURRENTLY", "ALTER TABLE … DETACH PARTITION … CONCURRENTLY cannot run inside a transaction block", 0},
		{PostgreSQL, "ALTER TYPE mood ADD VALUE 'meh'", "ALTER TYPE … ADD VALUE cannot run inside a transaction block before PostgreSQL 12", 12},
		{PostgreSQL, "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok'", "ALTER TYPE … ADD VALUE cannot run inside a transaction block before PostgreSQL 12", 12},
		{PostgreSQL, "ALTER TYPE mood RENAME VALUE 'a' TO 'b'", "", 0},
		{PostgreSQL, "CREATE INDEX i ON t (a)", "", 0},
		{PostgreSQL, "INSERT INTO t VALUES ('VACUUM')", "", 0},
		{PostgreSQL, "SELECT 'CREATE INDEX CONCURRENTLY'", "", 0},
		{PostgreSQL, "CREATE INDEX \"concurrently\" ON t (a)", "", 0},
		{PostgreSQL, "-- VACUUM\nSELECT 1", "", 0},
		{PostgreSQL, "CREATE TABLE vacuum (a int)", "", 0},
		{SQLite, "VACUUM", "VACUUM cannot run inside a transaction block", 0},
		{SQLite, "CREATE INDEX CONCURRENTLY ON t (a)", "", 0},
		{MySQL, "VACUUM", "", 0},
		{MySQL, "CREATE DATABASE d", "", 0},
	}
	for _, c := range cases {
		t.Run(c.d.String()+": "+c.sql, func(t *testing.T) {
			r, ok := NoTransactionRule(Statement{SQL: c.sql}, c.d)
			if ok != (c.reason != "") || r.Reason != c.reason || r.BeforeVersion != c.before {
				t.Errorf("NoTransactionRule = %+v, %v; want %q before %d", r, ok, c.reason, c.before)
			}
			reason, ok2 := NoTransaction(Statement{SQL: c.sql}, c.d)
			if reason != r.Reason || ok2 != ok {
				t.Errorf("NoTransaction = %q, %v; want what NoTransactionRule says", reason, ok2)
			}
		})
	}
}

func TestImplicitCommit(t *testing.T) {
	// what is the statement the reason names ("" when the statement does
	// not commit): the reason is what+" causes an implicit commit".
	cases := []struct{ sql, what string }{
		// Data definition, object by object.
		{"CREATE DATABASE d", "CREATE DATABASE"},
		{"create schema if not exists d", "CREATE SCHEMA"},
		{"ALTER DATABASE d CHARACTER SET utf8mb4", "ALTER DATABASE"},
		{"DROP SCHEMA d", "DROP SCHEMA"},
		{"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t", "CREATE EVENT"},
		{"CREATE DEFINER = 'u'@'%' EVENT e ON SCHEDULE AT NOW() DO SELECT 1", "CREATE EVENT"},
		{"ALTER EVENT e DISABLE", "ALTER EVENT"},
		{"DROP EVENT IF EXISTS e", "DROP EVENT"},
		{"CREATE INDEX i ON t (a)", "CREATE INDEX"},
		{"create unique index i on t (a)", "CREATE INDEX"},
		{"CREATE FULLTEXT INDEX i ON t (a)", "CREATE INDEX"},
		{"CREATE SPATIAL INDEX i ON t (g)", "CREATE INDEX"},
		{"DROP INDEX i ON t", "DROP INDEX"},
		{"CREATE LOGFILE GROUP g ADD UNDOFILE 'u.log' ENGINE NDB", "CREATE LOGFILE GROUP"},
		{"DROP LOGFILE GROUP g ENGINE NDB", "DROP LOGFILE GROUP"},
		{"CREATE PROCEDURE p() BEGIN SELECT 1; END;", "CREATE PROCEDURE"},
		{"CREATE DEFINER=`root`@`localhost` PROCEDURE p() SELECT 1", "CREATE PROCEDURE"},
		{"ALTER PROCEDURE p COMMENT 'x'", "ALTER PROCEDURE"},
		{"DROP PROCEDURE IF EXISTS p", "DROP PROCEDURE"},
		{"CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1", "CREATE FUNCTION"},
		{"CREATE AGGREGATE FUNCTION f RETURNS INTEGER SONAME 'f.so'", "CREATE FUNCTION"},
		{"DROP FUNCTION f", "DROP FUNCTION"},
		{"CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'u')", "CREATE SERVER"},
		{"ALTER SERVER s OPTIONS (USER 'v')", "ALTER SERVER"},
		{"DROP SERVER s", "DROP SERVER"},
		{"CREATE SPATIAL REFERENCE SYSTEM 4120 NAME 'x' DEFINITION 'y'", "CREATE SPATIAL REFERENCE SYSTEM"},
		{"CREATE OR REPLACE SPATIAL REFERENCE SYSTEM 4120 NAME 'x' DEFINITION 'y'", "CREATE SPATIAL REFERENCE SYSTEM"},
		{"DROP SPATIAL REFERENCE SYSTEM 4120", "DROP SPATIAL REFERENCE SYSTEM"},
		{"CREATE TABLE t (a int)", "CREATE TABLE"},
		{"CREATE TABLE IF NOT EXISTS t (a int, INDEX (a))", "CREATE TABLE"},
		{"CREATE TABLE t2 SELECT * FROM t", "CREATE TABLE"},
		{"CREATE TABLE t2 LIKE t", "CREATE TABLE"},
		{"ALTER TABLE t ADD b int", "ALTER TABLE"},
		{"ALTER IGNORE TABLE t ADD UNIQUE (b)", "ALTER TABLE"},
		{"ALTER ONLINE TABLE t ADD c int", "ALTER TABLE"},
		{"DROP TABLE t", "DROP TABLE"},
		{"DROP TABLE IF EXISTS a, b CASCADE", "DROP TABLE"},
		{"CREATE TABLESPACE s ADD DATAFILE 's.ibd'", "CREATE TABLESPACE"},
		{"ALTER UNDO TABLESPACE s SET INACTIVE", "ALTER TABLESPACE"},
		{"DROP TABLESPACE s", "DROP TABLESPACE"},
		{"CREATE TRIGGER g BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", "CREATE TRIGGER"},
		{"DROP TRIGGER IF EXISTS g", "DROP TRIGGER"},
		{"CREATE VIEW v AS SELECT 1", "CREATE VIEW"},
		{"CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE VIEW"},
		{"CREATE ALGORITHM=MERGE DEFINER=CURRENT_USER SQL SECURITY INVOKER VIEW v AS SELECT 1", "CREATE VIEW"},
		{"ALTER VIEW v AS SELECT 2", "ALTER VIEW"},
		{"DROP VIEW v", "DROP VIEW"},
		{"CREATE SEQUENCE s START WITH 1", "CREATE SEQUENCE"},
		{"ALTER SEQUENCE s RESTART 10", "ALTER SEQUENCE"},
		{"DROP SEQUENCE IF EXISTS s", "DROP SEQUENCE"},
		{"RENAME TABLE a TO b, c TO d", "RENAME TABLE"},
		{"TRUNCATE t", "TRUNCATE TABLE"},
		{"TRUNCATE TABLE t", "TRUNCATE TABLE"},
		{"INSTALL PLUGIN p SONAME 'p.so'", "INSTALL PLUGIN"},
		{"UNINSTALL PLUGIN p", "UNINSTALL PLUGIN"},
		{"INSTALL COMPONENT 'file://component_validate_password'", "INSTALL COMPONENT"},
		{"UNINSTALL COMPONENT 'file://component_validate_password'", "UNINSTALL COMPONENT"},
		{"INSTALL SONAME 'ha_example'", "INSTALL SONAME"},
		{"CREATE FOO bar", "CREATE"}, // an object it does not know is data definition too
		// Account management: the grant tables.
		{"CREATE USER 'u'@'%' IDENTIFIED BY 'p'", "CREATE USER"},
		{"ALTER USER u ACCOUNT LOCK", "ALTER USER"},
		{"DROP USER IF EXISTS u", "DROP USER"},
		{"RENAME USER a TO b", "RENAME USER"},
		{"GRANT SELECT ON d.* TO u", "GRANT"},
		{"REVOKE ALL ON d.* FROM u", "REVOKE"},
		{"SET PASSWORD FOR u = 'p'", "SET PASSWORD"},
		{"SET PASSWORD = 'p'", "SET PASSWORD"},
		{"CREATE ROLE r", "CREATE ROLE"},
		{"DROP ROLE IF EXISTS r", "DROP ROLE"},
		{"SET DEFAULT ROLE ALL TO u", "SET DEFAULT ROLE"},
		// Transaction control and locking.
		{"BEGIN", "BEGIN"},
		{"begin work", "BEGIN"},
		{"START TRANSACTION", "START TRANSACTION"},
		{"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", "START TRANSACTION"},
		{"LOCK TABLES t WRITE", "LOCK TABLES"},
		{"LOCK TABLE t READ", "LOCK TABLES"},
		{"UNLOCK TABLES", "UNLOCK TABLES"},
		{"LOCK INSTANCE FOR BACKUP", "LOCK INSTANCE FOR BACKUP"},
		{"SET autocommit = 1", "SET autocommit = 1"},
		{"set AUTOCOMMIT=ON", "SET autocommit = 1"},
		{"SET @@autocommit := 1", "SET autocommit = 1"},
		{"SET SESSION autocommit = DEFAULT", "SET autocommit = 1"},
		{"SET @@session.autocommit = @saved", "SET autocommit = 1"},
		{"SET sql_mode = '', autocommit = 1", "SET autocommit = 1"},
		// Administration.
		{"ANALYZE TABLE t", "ANALYZE TABLE"},
		{"ANALYZE NO_WRITE_TO_BINLOG TABLE t", "ANALYZE TABLE"},
		{"CACHE INDEX t IN c", "CACHE INDEX"},
		{"CHECK TABLE t", "CHECK TABLE"},
		{"FLUSH PRIVILEGES", "FLUSH"},
		{"LOAD INDEX INTO CACHE t", "LOAD INDEX INTO CACHE"},
		{"OPTIMIZE TABLE t", "OPTIMIZE TABLE"},
		{"OPTIMIZE LOCAL TABLE t", "OPTIMIZE TABLE"},
		{"REPAIR TABLE t", "REPAIR TABLE"},
		{"RESET MASTER", "RESET"},
		{"RESET QUERY CACHE", "RESET"},
		// Replication control.
		{"START REPLICA", "START REPLICA"},
		{"START SLAVE", "START SLAVE"},
		{"STOP REPLICA IO_THREAD", "STOP REPLICA"},
		{"STOP SLAVE", "STOP SLAVE"},
		{"RESET REPLICA ALL", "RESET"},
		{"RESET SLAVE", "RESET"},
		{"CHANGE MASTER TO MASTER_HOST = 'h'", "CHANGE MASTER"},
		{"CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'h'", "CHANGE REPLICATION SOURCE"},
		// Comments, executable comments, case and blanks.
		{"# c\nCREATE TABLE t (a int)", "CREATE TABLE"},
		{"-- c\n/* d */ create\n\ttable\r\n  t (a int)", "CREATE TABLE"},
		{"  \n\tAlTeR   TaBlE t ADD b int", "ALTER TABLE"},
		{"/*!80031 ALTER TABLE t MODIFY a TEXT NOT NULL */", "ALTER TABLE"},
		{"/*!40000 ALTER TABLE `t` DISABLE KEYS */", "ALTER TABLE"},
		{"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER g BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1 */", "CREATE TRIGGER"},
		{"/*M!100108 DROP TABLE t */", "DROP TABLE"},
		{"/*!CREATE TABLE t (a int)*/", "CREATE TABLE"},

		// Near misses.
		{"CREATE TEMPORARY TABLE t (a int)", ""},
		{"create temporary table if not exists t (a int, index (a))", ""},
		{"CREATE TEMPORARY TABLE t SELECT * FROM u", ""},
		{"CREATE OR REPLACE TEMPORARY TABLE t (a int)", ""},
		{"DROP TEMPORARY TABLE t", ""},
		{"DROP TEMPORARY TABLE IF EXISTS t", ""},
		{"SELECT 'CREATE TABLE'", ""},
		{"SELECT \"DROP TABLE t\"", ""},
		{"/* DROP TABLE t */ SELECT 1", ""},
		{"-- DROP TABLE t\nSELECT 1", ""},
		{"# DROP TABLE t\nDELETE FROM t", ""},
		{"INSERT INTO t VALUES ('CREATE TABLE')", ""},
		{"INSERT INTO t SELECT * FROM u", ""},
		{"UPDATE t SET a = 'ALTER TABLE t'", ""},
		{"UPDATE `create` SET a = 1", ""},
		{"DELETE FROM `alter` WHERE b = 'DROP'", ""},
		{"SELECT * FROM t FOR UPDATE", ""},
		{"WITH x AS (SELECT 1) SELECT * FROM x", ""},
		{"REPLACE INTO t VALUES (1)", ""},
		{"CALL p()", ""},
		{"SET @x = 1", ""},
		{"SET @autocommit = 1", ""},
		{"SET autocommit = 0", ""},
		{"SET @@autocommit = OFF", ""},
		{"SET NAMES utf8mb4", ""},
		{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", ""},
		{"SET ROLE r", ""},
		{"SET FOREIGN_KEY_CHECKS = 0", ""},
		{"LOAD DATA INFILE 'f' INTO TABLE t", ""},
		{"ANALYZE SELECT * FROM t", ""},
		{"RESET PERSIST", ""},
		{"CHECKSUM TABLE t", ""},
		{"SAVEPOINT s", ""},
		{"XA RECOVER", ""},
		{"DO SLEEP(1)", ""},
		{"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */", ""},
		{"/* ALTER */ SELECT 1", ""},
		{"", ""},
		{"-- only a comment", ""},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			reason, ok := ImplicitCommit(Statement{SQL: c.sql})
			want := ""
			if c.what != "" {
				want = c.what + " causes an implicit commit"
			}
			if ok != (c.what != "") || reason != want {
				t.Errorf("ImplicitCommit = %q, %v; want %q", reason, ok, want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Line: 3, Col: 7, Msg: "unterminated string literal"}
	if got := e.Error(); got != "3:7: unterminated string literal" {
		t.Errorf("Error() = %q", got)
	}
}

func TestParseDialect(t *testing.T) {
	for in, want := range map[string]Dialect{"postgres": PostgreSQL, "PostgreSQL": PostgreSQL, "pgx": PostgreSQL, "sqlite3": SQLite, "sqlite": SQLite, "MySQL": MySQL} {
		if got, ok := ParseDialect(in); !ok || got != want {
			t.Errorf("ParseDialect(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := ParseDialect("oracle"); ok {
		t.Error(`ParseDialect("oracle") is ok`)
	}
	if !strings.Contains(Dialect(9).String(), "9") {
		t.Error("an unknown dialect's String does not show its value")
	}
}
