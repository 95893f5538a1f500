package sqlfiles

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/sqlsplit"
	"github.com/google/go-cmp/cmp"
)

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, content := range files {
		m[name] = &fstest.MapFile{Data: []byte(content)}
	}
	return m
}

func load(t *testing.T, dialect string, files map[string]string) ([]Change, []Notice) {
	t.Helper()
	chs, notices, errs := Load(mapFS(files), Options{Dialect: dialect})
	if len(errs) > 0 {
		for _, e := range errs {
			t.Error(e)
		}
		t.FailNow()
	}
	return chs, notices
}

// stmt is a wanted statement.
type stmt struct {
	sql       string
	line, col int
}

func checkStmts(t *testing.T, what string, got []sqlsplit.Statement, want []stmt) {
	t.Helper()
	if len(got) != len(want) {
		var sqls []string
		for _, g := range got {
			sqls = append(sqls, g.SQL)
		}
		t.Fatalf("%s: %d statements %q, want %d", what, len(got), sqls, len(want))
	}
	for i, g := range got {
		if w := want[i]; g.SQL != w.sql || g.Line != w.line || g.Col != w.col {
			t.Errorf("%s %d = %q at %d:%d, want %q at %d:%d", what, i, g.SQL, g.Line, g.Col, w.sql, w.line, w.col)
		}
	}
}

func sum(parts ...string) string {
	if len(parts) == 1 {
		s := sha256.Sum256([]byte(parts[0]))
		return hex.EncodeToString(s[:])
	}
	a, b := sha256.Sum256([]byte(parts[0])), sha256.Sum256([]byte(parts[1]))
	s := sha256.Sum256(append(a[:], b[:]...))
	return hex.EncodeToString(s[:])
}

const gooseFile = `-- a leading comment
-- +goose Up
CREATE TABLE users (id int);
INSERT INTO users VALUES (1); INSERT INTO users VALUES (2);

-- +goose StatementBegin
CREATE FUNCTION touch() RETURNS trigger AS $$
BEGIN
  NEW.at := now();
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION touch();
DROP TABLE users;
`

func TestGooseForm(t *testing.T) {
	chs, notices := load(t, "postgres", map[string]string{"0001_create_users.sql": gooseFile, "notes.txt": "not SQL"})
	if len(chs) != 1 || len(notices) != 0 {
		t.Fatalf("got %d changes, notices %v; want 1 change, no notice", len(chs), notices)
	}
	c := chs[0]
	if c.ID != "0001_create_users" || c.Name != "create_users" || c.Order.String() != "1" || c.Form != Goose ||
		!c.HasDown || !c.Transactional || c.File != "0001_create_users.sql" || c.DownFile != "" || c.UpLine != 3 ||
		c.Recovery != audit.RecoveryManual || c.Author != "" || c.Checksum != sum(gooseFile) {
		t.Errorf("change = %+v", c)
	}
	checkStmts(t, "up", c.Up, []stmt{
		{"CREATE TABLE users (id int)", 3, 1},
		{"INSERT INTO users VALUES (1)", 4, 1},
		{"INSERT INTO users VALUES (2)", 4, 31},
		{"CREATE FUNCTION touch() RETURNS trigger AS $$\nBEGIN\n  NEW.at := now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;", 7, 1},
	})
	checkStmts(t, "down", c.Down, []stmt{{"DROP FUNCTION touch()", 16, 1}, {"DROP TABLE users", 17, 1}})
}

func TestGooseStatementBlockIsNotSplit(t *testing.T) {
	// A PL/pgSQL body in single quotes, not dollar quotes, and several
	// statements in one block: goose sends the block as one.
	src := "-- +goose Up\n-- +goose StatementBegin\n-- about f\nCREATE FUNCTION f() RETURNS void AS '\nBEGIN\n  PERFORM 1;\nEND;\n' LANGUAGE plpgsql;\nSELECT f();\n-- +goose StatementEnd\n"
	chs, _ := load(t, "postgres", map[string]string{"1_f.sql": src})
	checkStmts(t, "up", chs[0].Up, []stmt{{"CREATE FUNCTION f() RETURNS void AS '\nBEGIN\n  PERFORM 1;\nEND;\n' LANGUAGE plpgsql;\nSELECT f();", 4, 1}})
	if chs[0].HasDown {
		t.Error("HasDown without a Down annotation")
	}
}

func TestGooseMySQLProcedureBlock(t *testing.T) {
	// A MySQL compound statement needs DELIMITER in the mysql client; in
	// goose it is a StatementBegin block, sent as one statement.
	src := "-- +goose Up\n-- +goose StatementBegin\nCREATE PROCEDURE p(IN n INT)\nBEGIN\n  DECLARE v INT;\n  IF n > 0 THEN\n    SET v = n; # positive\n  END IF;\nEND;\n-- +goose StatementEnd\n/*!80031 ALTER TABLE t MODIFY a TEXT NOT NULL */;\n-- +goose Down\nDROP PROCEDURE p;\n"
	chs, _ := load(t, "mysql", map[string]string{"6_p.sql": src})
	checkStmts(t, "up", chs[0].Up, []stmt{
		{"CREATE PROCEDURE p(IN n INT)\nBEGIN\n  DECLARE v INT;\n  IF n > 0 THEN\n    SET v = n; # positive\n  END IF;\nEND;", 3, 1},
		{"/*!80031 ALTER TABLE t MODIFY a TEXT NOT NULL */", 11, 1},
	})
	checkStmts(t, "down", chs[0].Down, []stmt{{"DROP PROCEDURE p", 13, 1}})
}

func TestNoTransactionFilesMayHoldAnyStatement(t *testing.T) {
	chs, notices := load(t, "postgres", map[string]string{
		"1_a.sql": "-- +goose NO TRANSACTION\n-- +goose Up\nVACUUM;\nCREATE DATABASE d;\n",
		"2_b.sql": "-- flamingock:change transactional=false\nREINDEX DATABASE d;\nALTER TYPE mood ADD VALUE 'x'",
	})
	if len(chs) != 2 || chs[0].Transactional || chs[1].Transactional || len(notices) != 0 {
		t.Errorf("changes %+v, notices %v", chs, notices)
	}
}

func TestGooseAnnotationsAreCaseInsensitive(t *testing.T) {
	src := "-- +goose up\n-- +goose no transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- +goose DOWN\n"
	chs, _ := load(t, "postgres", map[string]string{"2_i.sql": src})
	c := chs[0]
	if c.Transactional || !c.HasDown || len(c.Down) != 0 {
		t.Errorf("Transactional %v, HasDown %v, Down %v; want false, true (an empty undo), none", c.Transactional, c.HasDown, c.Down)
	}
	checkStmts(t, "up", c.Up, []stmt{{"CREATE INDEX CONCURRENTLY i ON t (a)", 3, 1}})
}

func TestMigrateForm(t *testing.T) {
	upSQL := "CREATE TABLE a (x int);\nCREATE TABLE b (y text DEFAULT ';')"
	downSQL := "DROP TABLE b;\nDROP TABLE a;\n"
	chs, notices := load(t, "sqlite", map[string]string{
		"20150101000001000000_init.up.sql":   upSQL,
		"20150101000001000000_init.down.sql": downSQL,
		"20150101000001000001_more.up.sql":   "SELECT 1;",
	})
	if len(chs) != 2 || len(notices) != 0 {
		t.Fatalf("got %d changes, notices %v", len(chs), notices)
	}
	c := chs[0]
	if c.ID != "20150101000001000000_init" || c.Order.String() != "20150101000001000000" || c.Form != Migrate || !c.HasDown ||
		!c.Transactional || c.File != "20150101000001000000_init.up.sql" || c.DownFile != "20150101000001000000_init.down.sql" ||
		c.UpLine != 1 || c.Checksum != sum(upSQL, downSQL) {
		t.Errorf("change = %+v", c)
	}
	checkStmts(t, "up", c.Up, []stmt{{"CREATE TABLE a (x int)", 1, 1}, {"CREATE TABLE b (y text DEFAULT ';')", 2, 1}})
	checkStmts(t, "down", c.Down, []stmt{{"DROP TABLE b", 1, 1}, {"DROP TABLE a", 2, 1}})
	if d := chs[1]; d.HasDown || d.DownFile != "" || d.Checksum != sum("SELECT 1;") {
		t.Errorf("a change without a down file = %+v", d)
	}
}

func TestMigrateFormWithoutTransaction(t *testing.T) {
	chs, notices := load(t, "postgres", map[string]string{
		"3_idx.up.sql":   "CREATE INDEX CONCURRENTLY i ON t (a);",
		"3_idx.down.sql": "\nDROP INDEX CONCURRENTLY i;",
	})
	if chs[0].Transactional {
		t.Error("a golang-migrate change with CREATE INDEX CONCURRENTLY is transactional")
	}
	want := []string{
		"3_idx.down.sql:2:1: DROP INDEX CONCURRENTLY cannot run inside a transaction block: change 3_idx runs without a transaction",
		"3_idx.up.sql:1:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block: change 3_idx runs without a transaction",
	}
	checkNotices(t, notices, want)
}

func checkNotices(t *testing.T, got []Notice, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("notices %v, want %q", got, want)
	}
	for i := range got {
		if got[i].String() != want[i] {
			t.Errorf("notice %d = %s, want %s", i, got[i], want[i])
		}
	}
}

const flamingockFile = `-- Adds the email column.
-- flamingock:change id=add-email order=0007 "author=Alice Smith" recovery=retry transactional=false
ALTER TABLE users ADD COLUMN email text;
CREATE INDEX CONCURRENTLY users_email ON users (email)
-- flamingock:undo
ALTER TABLE users DROP COLUMN email
`

func TestFlamingockForm(t *testing.T) {
	chs, _ := load(t, "postgres", map[string]string{"7_add_email.sql": flamingockFile})
	c := chs[0]
	if c.ID != "add-email" || c.Order.String() != "7" || c.Form != Flamingock || c.Author != "Alice Smith" ||
		c.Recovery != audit.RecoveryRetry || c.Transactional || !c.HasDown || c.UpLine != 3 || c.Checksum != sum(flamingockFile) {
		t.Errorf("change = %+v", c)
	}
	checkStmts(t, "up", c.Up, []stmt{{"ALTER TABLE users ADD COLUMN email text", 3, 1}, {"CREATE INDEX CONCURRENTLY users_email ON users (email)", 4, 1}})
	checkStmts(t, "down", c.Down, []stmt{{"ALTER TABLE users DROP COLUMN email", 6, 1}})
}

func TestFlamingockFormDefaults(t *testing.T) {
	chs, _ := load(t, "postgres", map[string]string{
		"12_b.sql": "--flamingock:change\nSELECT 1",
		"seed.sql": "-- flamingock:change order=11 id=seed\nSELECT 2;",
		"0013_c.sql": "-- flamingock:change author=bob\n" +
			"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n",
	})
	if len(chs) != 3 {
		t.Fatalf("%d changes", len(chs))
	}
	if c := chs[0]; c.ID != "seed" || c.Order.String() != "11" || c.Name != "seed" {
		t.Errorf("a file without a version = %+v", c)
	}
	if c := chs[1]; c.ID != "12_b" || c.Order.String() != "12" || !c.Transactional || c.HasDown || c.Recovery != audit.RecoveryManual {
		t.Errorf("a bare header = %+v", c)
	}
	checkStmts(t, "up", chs[2].Up, []stmt{{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END", 2, 1}})
}

func TestAFlamingockWordInACommentIsNoDirective(t *testing.T) {
	chs, _ := load(t, "postgres", map[string]string{
		"1_a.sql":    "-- +goose Up\n-- flamingock: ported from goose\nSELECT 1;",
		"2_b.up.sql": "-- flamingock: ported from golang-migrate\nSELECT 2;",
	})
	if len(chs) != 2 || chs[0].Form != Goose {
		t.Errorf("changes %+v", chs)
	}
}

func TestOrdersCompareAsNumbers(t *testing.T) {
	chs, _ := load(t, "postgres", map[string]string{
		"10_b.sql":                   "-- +goose Up\nSELECT 10;",
		"9_a.sql":                    "-- +goose Up\nSELECT 9;",
		"20150101000001000000_c.sql": "-- +goose Up\nSELECT 3;",
		"00100_d.sql":                "-- +goose Up\nSELECT 100;",
		"0_e.sql":                    "-- +goose Up\nSELECT 0;",
	})
	var got []string
	for _, c := range chs {
		got = append(got, c.Order.String())
	}
	if want := "0 9 10 100 20150101000001000000"; strings.Join(got, " ") != want {
		t.Errorf("orders %v, want %s", got, want)
	}
}

func TestDialectVariants(t *testing.T) {
	files := map[string]string{
		"1_init.postgres.up.sql":   "CREATE TABLE t (id serial);",
		"1_init.postgres.down.sql": "DROP TABLE t;",
		"1_init.sqlite.up.sql":     "CREATE TABLE t (id integer primary key autoincrement);",
		"2_all.up.sql":             "INSERT INTO t DEFAULT VALUES;",
		"3_only_mysql.mysql.sql":   "-- +goose Up\nSELECT 1;",
		"4_pg.postgresql.sql":      "-- +goose Up\nSELECT `x`;", // read by PostgreSQL rules
	}
	chs, notices := load(t, "postgres", files)
	var ids []string
	for _, c := range chs {
		ids = append(ids, c.ID+"@"+c.File)
	}
	if want := "1_init@1_init.postgres.up.sql 2_all@2_all.up.sql 4_pg@4_pg.postgresql.sql"; strings.Join(ids, " ") != want {
		t.Errorf("changes %v, want %s", ids, want)
	}
	if chs[0].DownFile != "1_init.postgres.down.sql" {
		t.Errorf("DownFile = %q", chs[0].DownFile)
	}
	checkNotices(t, notices, []string{
		"1_init.sqlite.up.sql:1:1: skipped: a variant for sqlite, and the dialect is postgres",
		"3_only_mysql.mysql.sql:1:1: skipped: a variant for mysql, and the dialect is postgres",
	})

	chs, _ = load(t, "sqlite3", files)
	if len(chs) != 2 || chs[0].File != "1_init.sqlite.up.sql" || chs[0].HasDown {
		t.Errorf("sqlite changes = %+v", chs)
	}
}

func TestAddValueNeedsPostgreSQL12(t *testing.T) {
	files := mapFS(map[string]string{"5_mood.sql": "-- +goose Up\n\n  ALTER TYPE mood ADD VALUE 'meh';\n"})
	chs, notices, errs := Load(files, Options{Dialect: "postgres"})
	if len(errs) != 0 || len(chs) != 1 {
		t.Fatalf("unknown version: errors %v", errs)
	}
	if len(notices) != 1 || !strings.HasPrefix(notices[0].String(), "5_mood.sql:3:3: ALTER TYPE … ADD VALUE cannot run inside a transaction block before PostgreSQL 12: this transactional change needs PostgreSQL 12 or later") {
		t.Errorf("notices %v", notices)
	}
	if _, notices, errs := Load(files, Options{Dialect: "postgres", MinPostgresVersion: 12}); len(errs) != 0 || len(notices) != 0 {
		t.Errorf("PostgreSQL 12: notices %v, errors %v", notices, errs)
	}
	_, _, errs = Load(files, Options{Dialect: "postgres", MinPostgresVersion: 11})
	checkErrs(t, errs, []string{"5_mood.sql:3:3: ALTER TYPE … ADD VALUE cannot run inside a transaction block before PostgreSQL 12, and the change is transactional: mark the file -- +goose NO TRANSACTION"})
}

func checkErrs(t *testing.T, errs []*Error, want []string) {
	t.Helper()
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name    string
		dialect string
		files   map[string]string
		want    []string
	}{
		{"invalid UTF-8, at the first bad byte", "postgres",
			map[string]string{"1_a.sql": "-- +goose Up\nSELECT 'ab\xffc';"},
			[]string{"1_a.sql:2:11: invalid UTF-8: a SQL file must be UTF-8 encoded"}},
		{"a down file without an up file", "postgres",
			map[string]string{"2_a.down.sql": "DROP TABLE a;"},
			[]string{"2_a.down.sql:1:1: down file without an up file: want 2_a.up.sql beside it"}},
		{"two files with one version", "postgres",
			map[string]string{"3_a.sql": "-- +goose Up\nSELECT 1;", "03_b.sql": "-- +goose Up\nSELECT 2;"},
			[]string{"3_a.sql:1:1: two files with version 3: 03_b.sql and 3_a.sql"}},
		{"two up files with one version", "postgres",
			map[string]string{"3_a.up.sql": "SELECT 1;", "3_b.up.sql": "SELECT 2;"},
			[]string{"3_b.up.sql:1:1: two files with version 3: 3_a.up.sql and 3_b.up.sql"}},
		{"an up and a down file with different names", "postgres",
			map[string]string{"3_a.up.sql": "SELECT 1;", "3_b.down.sql": "SELECT 2;"},
			[]string{"3_b.down.sql:1:1: two files with version 3: 3_a.up.sql and 3_b.down.sql have different names"}},
		{"mixed forms for one version", "postgres",
			map[string]string{"4_a.sql": "-- +goose Up\nSELECT 1;", "4_a.up.sql": "SELECT 1;"},
			[]string{"4_a.up.sql:1:1: mixed forms for version 4: 4_a.sql is a goose file and 4_a.up.sql a golang-migrate file"}},
		{"an unterminated StatementBegin", "postgres",
			map[string]string{"7_a.sql": "-- +goose Up\nSELECT 1;\n-- +goose StatementBegin\nCREATE FUNCTION f() AS $$ SELECT 1; $$;\n"},
			[]string{"7_a.sql:3:1: unterminated -- +goose StatementBegin: no -- +goose StatementEnd follows"}},
		{"an unterminated string, positioned in the file", "postgres",
			map[string]string{"8_a.sql": "-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n  SELECT 'x;\n"},
			[]string{"8_a.sql:5:10: unterminated string literal"}},
		{"an unterminated dollar quote in a block", "postgres",
			map[string]string{"8_a.sql": "-- +goose Up\n-- +goose StatementBegin\n\nDO $x$ BEGIN END;\n-- +goose StatementEnd\n"},
			[]string{"8_a.sql:4:4: unterminated dollar-quoted string $x$"}},
		{"an unterminated comment in an up file", "sqlite",
			map[string]string{"8_a.up.sql": "SELECT 1;\n/* a"},
			[]string{"8_a.up.sql:2:1: unterminated block comment"}},
		{"an unterminated comment after a flamingock undo", "postgres",
			map[string]string{"8_a.sql": "-- flamingock:change\nSELECT 1;\n-- flamingock:undo\nSELECT 2 /* ;"},
			[]string{"8_a.sql:4:10: unterminated block comment"}},
		{"CREATE INDEX CONCURRENTLY in a transactional goose file", "postgres",
			map[string]string{"9_a.sql": "-- +goose Up\nCREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- +goose Down\nDROP INDEX CONCURRENTLY i;"},
			[]string{
				"9_a.sql:3:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and the change is transactional: mark the file -- +goose NO TRANSACTION",
				"9_a.sql:5:1: DROP INDEX CONCURRENTLY cannot run inside a transaction block, and the change is transactional: mark the file -- +goose NO TRANSACTION",
			}},
		{"VACUUM in a goose block", "sqlite",
			map[string]string{"9_a.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n  VACUUM;\n-- +goose StatementEnd\n"},
			[]string{"9_a.sql:4:3: VACUUM cannot run inside a transaction block, and the change is transactional: mark the file -- +goose NO TRANSACTION"}},
		{"VACUUM in a transactional flamingock file", "postgres",
			map[string]string{"9_a.sql": "-- flamingock:change\nVACUUM;"},
			[]string{"9_a.sql:2:1: VACUUM cannot run inside a transaction block, and the change is transactional: add transactional=false to its -- flamingock:change header"}},
		{"a version that is not a decimal integer", "postgres",
			map[string]string{"v1_a.up.sql": "SELECT 1;", "x_b.sql": "-- +goose Up\nSELECT 1;"},
			[]string{
				`v1_a.up.sql:1:1: invalid version in file name "v1_a.up.sql": want <version>_<name>.up.sql, <version> a decimal integer`,
				`x_b.sql:1:1: invalid version in file name "x_b.sql": want <version>_<name>.sql, <version> a decimal integer`,
			}},
		{"a file of no form", "postgres",
			map[string]string{"1_a.sql": "SELECT 1;"},
			[]string{`1_a.sql:1:1: not a change file: a .sql file of a package of changes holds "-- +goose Up" (goose), "-- flamingock:change" (flamingock), or is named <version>_<name>.up.sql / .down.sql (golang-migrate)`}},
		{"an id the file name cannot give", "postgres",
			map[string]string{"1_a b.up.sql": "SELECT 1;"},
			[]string{`1_a b.up.sql:1:1: the file name gives the id "1_a b": it must start with an ASCII letter or digit and contain only letters, digits, '.', '_' and '-'; rename the file`}},
		{"goose annotations out of place", "postgres",
			map[string]string{"1_a.sql": "SELECT 0;\n-- +goose Down\n-- +goose Up\nSELECT 1;\n-- +goose Up\n  -- +goose Down\n-- +goose StatementEnd\n-- +goose ENVSUB ON\n-- +goose Sideways\n-- +goose Down\n-- +goose Down\n"},
			[]string{
				"1_a.sql:1:1: SQL before -- +goose Up",
				"1_a.sql:2:1: -- +goose Down before -- +goose Up",
				"1_a.sql:5:1: duplicate -- +goose Up: first at line 3",
				"1_a.sql:6:3: goose annotation not at column 1: goose refuses indented annotations",
				"1_a.sql:7:1: -- +goose StatementEnd without -- +goose StatementBegin",
				"1_a.sql:8:1: -- +goose ENVSUB ON is not supported: SQL files are embedded at generate time, and substituting the environment at run time would run SQL no checksum covers",
				`1_a.sql:9:1: unknown goose annotation "Sideways": want Up, Down, StatementBegin, StatementEnd or NO TRANSACTION`,
				"1_a.sql:11:1: duplicate -- +goose Down: first at line 10",
			}},
		{"a goose statement without a semicolon", "postgres",
			map[string]string{"1_a.sql": "-- +goose Up\nSELECT 1\n-- +goose Down\nSELECT 2;\n SELECT 3\n"},
			[]string{
				"1_a.sql:2:1: statement without ';' before -- +goose Down: goose ends every statement with ';'",
				"1_a.sql:5:2: statement without ';' before the end of the file: goose ends every statement with ';'",
			}},
		{"an annotation inside a block", "postgres",
			map[string]string{"1_a.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose Down\n-- +goose StatementEnd\n"},
			[]string{"1_a.sql:4:1: -- +goose Down inside a StatementBegin block (opened at line 2): close it with -- +goose StatementEnd"}},
		{"an empty block", "postgres",
			map[string]string{"1_a.sql": "-- +goose Up\nSELECT 1;\n-- +goose StatementBegin\n-- nothing\n-- +goose StatementEnd\n"},
			[]string{"1_a.sql:3:1: empty -- +goose StatementBegin block"}},
		{"no goose Up", "postgres",
			map[string]string{"1_a.sql": "-- +goose NO TRANSACTION\n"},
			[]string{"1_a.sql:1:1: no -- +goose Up annotation"}},
		{"two forms in one file", "postgres",
			map[string]string{"1_a.sql": "-- +goose Up\n-- flamingock:change\nSELECT 1;"},
			[]string{"1_a.sql:2:1: flamingock directive in a goose file (goose annotation at line 1): use one form per file"}},
		{"directives in a golang-migrate file", "postgres",
			map[string]string{"1_a.up.sql": "-- +goose Up\nSELECT 1;\n  -- flamingock:change\n"},
			[]string{
				"1_a.up.sql:1:1: goose annotation in a golang-migrate file: goose files are named <version>_<name>.sql",
				"1_a.up.sql:3:3: flamingock directive in a golang-migrate file: flamingock files are named <version>_<name>.sql",
			}},
		{"bad flamingock attributes", "postgres",
			map[string]string{"1_a.sql": "-- flamingock:change id=-x order=1e3 recovery=later transactional=yes author= target=db rollback=Undo compensate=true color=red id=y oops\nSELECT 1;"},
			[]string{
				`1_a.sql:1:22: invalid id "-x": it must start with an ASCII letter or digit and contain only letters, digits, '.', '_' and '-'`,
				`1_a.sql:1:28: invalid order "1e3": want a non-negative decimal integer`,
				`1_a.sql:1:38: invalid recovery "later": want manual or retry`,
				`1_a.sql:1:53: invalid transactional "yes": want true or false`,
				`1_a.sql:1:71: empty value for author`,
				`1_a.sql:1:79: target is not an attribute of a SQL file: the package directive names the target of every SQL file`,
				`1_a.sql:1:89: rollback is not an attribute of a SQL file: write the undo after a -- flamingock:undo line`,
				`1_a.sql:1:103: compensate is not an attribute of a SQL file: its undo is run by RollbackTo only`,
				`1_a.sql:1:119: unknown attribute "color": the attributes are id, order, author, recovery, transactional, profile`,
				`1_a.sql:1:129: repeated attribute "id"`,
				`1_a.sql:1:134: malformed attribute "oops": want name=value`,
			}},
		{"a flamingock order that differs from the file name", "postgres",
			map[string]string{"8_a.sql": "-- flamingock:change  order=7\nSELECT 1;"},
			[]string{"8_a.sql:1:23: order=7 differs from the file name's version 8: make them equal, or drop order="}},
		{"a flamingock file without an order", "postgres",
			map[string]string{"seed.sql": "-- note\n-- flamingock:change id=seed\nSELECT 1;"},
			[]string{"seed.sql:2:1: no order: name the file <version>_<name>.sql or add order=N"}},
		{"flamingock directives out of place", "postgres",
			map[string]string{"1_a.sql": "-- flamingock:undo\nSELECT 0;\n-- flamingock:change\nSELECT 1;\n--  flamingock:change\n-- flamingock:undo now\n-- flamingock:undo\n-- Flamingock:undo\n-- flamingock:redo\n"},
			[]string{
				"1_a.sql:1:1: -- flamingock:undo before the -- flamingock:change header",
				"1_a.sql:2:1: SQL before the -- flamingock:change header",
				"1_a.sql:5:1: second -- flamingock:change header: the first is at line 3",
				"1_a.sql:6:1: -- flamingock:undo takes no attribute",
				"1_a.sql:7:1: second -- flamingock:undo: the first is at line 6",
				"1_a.sql:8:4: write flamingock directives in lower case: -- flamingock:…",
				"1_a.sql:9:4: unknown directive -- flamingock:redo: the directives are -- flamingock:change and -- flamingock:undo",
			}},
		{"a malformed quoted attribute", "postgres",
			map[string]string{"1_a.sql": "-- flamingock:change \"author=Alice\nSELECT 1;"},
			[]string{`1_a.sql:1:22: malformed quoted attribute: quote a whole attribute as a Go string, as in "author=Alice Smith"`}},
		{"two changes with one id", "postgres",
			map[string]string{"1_a.sql": "-- flamingock:change id=x\nSELECT 1;", "2_b.sql": "-- flamingock:change id=x\nSELECT 2;"},
			[]string{`2_b.sql:1:1: duplicate change id "x": first declared by 1_a.sql`}},
		{"MySQL DELIMITER", "mysql",
			map[string]string{"1_a.up.sql": "SELECT 1;\nDELIMITER //\n"},
			[]string{"1_a.up.sql:2:1: DELIMITER is a command of the mysql client, not SQL, and is not supported: end each statement with ';'"}},
		{"every file's problems at once, nothing returned", "postgres",
			map[string]string{"1_ok.sql": "-- +goose Up\nSELECT 1;", "2_a.down.sql": "SELECT 2;", "3_b.sql": "SELECT 3;\n-- +goose Up\n"},
			[]string{
				"2_a.down.sql:1:1: down file without an up file: want 2_a.up.sql beside it",
				"3_b.sql:1:1: SQL before -- +goose Up",
			}},
		{"an empty file of no form", "postgres",
			map[string]string{"1_a.sql": ""},
			[]string{`1_a.sql:1:1: not a change file: a .sql file of a package of changes holds "-- +goose Up" (goose), "-- flamingock:change" (flamingock), or is named <version>_<name>.up.sql / .down.sql (golang-migrate)`}},
		{"an empty down file without an up file", "postgres",
			map[string]string{"2_a.down.sql": ""},
			[]string{"2_a.down.sql:1:1: down file without an up file: want 2_a.up.sql beside it"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chs, _, errs := Load(mapFS(c.files), Options{Dialect: c.dialect})
			if len(chs) != 0 {
				t.Errorf("Load returned %d changes with errors", len(chs))
			}
			checkErrs(t, errs, c.want)
		})
	}
}

type failFS struct{ fstest.MapFS }

func (f failFS) Open(name string) (fs.File, error) {
	if name == "1_a.up.sql" {
		return nil, errors.New("permission denied")
	}
	return f.MapFS.Open(name)
}

func (f failFS) ReadFile(name string) ([]byte, error) {
	if name == "1_a.up.sql" {
		return nil, errors.New("permission denied")
	}
	return f.MapFS.ReadFile(name)
}

func TestUnreadable(t *testing.T) {
	_, _, errs := Load(failFS{mapFS(map[string]string{"1_a.up.sql": "SELECT 1;"})}, Options{Dialect: "postgres"})
	checkErrs(t, errs, []string{"1_a.up.sql:1:1: cannot read: permission denied"})

	_, _, errs = Load(fstest.MapFS{}, Options{Dialect: "oracle"})
	checkErrs(t, errs, []string{`unknown SQL dialect "oracle": want postgres, sqlite or mysql`})
}

func TestByteOrderMark(t *testing.T) {
	src := "\ufeff-- +goose Up\nSELECT 1;"
	chs, _ := load(t, "postgres", map[string]string{"1_a.sql": src})
	checkStmts(t, "up", chs[0].Up, []stmt{{"SELECT 1", 2, 1}})
	if chs[0].Checksum != sum(src) {
		t.Error("the checksum does not cover the raw bytes")
	}
}

func TestSubdirectoriesAreNotRead(t *testing.T) {
	chs, _ := load(t, "postgres", map[string]string{"1_a.up.sql": "SELECT 1;", "old/2_b.up.sql": "SELECT 2;"})
	if len(chs) != 1 {
		t.Errorf("%d changes, want 1", len(chs))
	}
}

func TestVariantsOfDialectsSplitDoesNotKnow(t *testing.T) {
	files := map[string]string{
		"1_a.cockroach.up.sql":     "CREATE TABLE t (id UUID);",
		"1_a.cockroachdb.down.sql": "DROP TABLE t;",
		"1_a.postgres.up.sql":      "CREATE TABLE t (id uuid);",
		"2_b.mariadb.sql":          "-- +goose Up\nSELECT 1;",
		"2_b.MySQL.sql":            "-- +goose Up\nSELECT 1;",
		"3_c.sqlserver.up.sql":     "SELECT 1;",
		"3_c.mssql.down.sql":       "SELECT 1;",
		"3_c.spanner.up.sql":       "SELECT 1;",
		"3_c.up.sql":               "SELECT 3;",
		"4_d.clickhouse.up.sql":    "SELECT 1;",
		"4_d.pgx.up.sql":           "SELECT 4;",
		"5_e.autocommit.up.sql":    "SELECT 5;", // not a dialect: part of the name
		"5_e.autocommit.down.sql":  "SELECT 5;",
		"6_f.sqlite3.up.sql":       "SELECT 6;",
		"6_f.crdb.up.sql":          "SELECT 6;",
		"6_f.tidb.up.sql":          "SELECT 6;",
		"6_f.redshift.up.sql":      "SELECT 6;",
		"6_f.oracle.up.sql":        "SELECT 6;",
		"6_f.snowflake.up.sql":     "SELECT 6;",
		"6_f.vertica.up.sql":       "SELECT 6;",
		"6_f.ydb.up.sql":           "SELECT 6;",
		"6_f.turso.up.sql":         "SELECT 6;",
		"6_f.libsql.up.sql":        "SELECT 6;",
		"6_f.starrocks.up.sql":     "SELECT 6;",
		"6_f.postgresql.up.sql":    "SELECT 6;",
		"7_g.yugabyte.up.sql":      "SELECT 7;", // unknown: part of the name
		"8_h.cockroach.up.sql":     "SELECT 8;", // a version with no postgres file is no change
		"8_h.sqlite.up.sql":        "SELECT 8;",
	}
	chs, notices := load(t, "postgres", files)
	var ids []string
	for _, c := range chs {
		ids = append(ids, c.ID+"@"+c.File)
	}
	want := "1_a@1_a.postgres.up.sql 3_c@3_c.up.sql 4_d@4_d.pgx.up.sql 5_e.autocommit@5_e.autocommit.up.sql 6_f@6_f.postgresql.up.sql 7_g.yugabyte@7_g.yugabyte.up.sql"
	if strings.Join(ids, " ") != want {
		t.Errorf("changes %v, want %s", ids, want)
	}
	checkNotices(t, notices, []string{
		"1_a.cockroach.up.sql:1:1: skipped: a variant for cockroach, and the dialect is postgres",
		"1_a.cockroachdb.down.sql:1:1: skipped: a variant for cockroach, and the dialect is postgres",
		"2_b.MySQL.sql:1:1: skipped: a variant for mysql, and the dialect is postgres",
		"2_b.mariadb.sql:1:1: skipped: a variant for mariadb, and the dialect is postgres",
		"3_c.mssql.down.sql:1:1: skipped: a variant for sqlserver, and the dialect is postgres",
		"3_c.spanner.up.sql:1:1: skipped: a variant for spanner, and the dialect is postgres",
		"3_c.sqlserver.up.sql:1:1: skipped: a variant for sqlserver, and the dialect is postgres",
		"4_d.clickhouse.up.sql:1:1: skipped: a variant for clickhouse, and the dialect is postgres",
		"6_f.crdb.up.sql:1:1: skipped: a variant for cockroach, and the dialect is postgres",
		"6_f.libsql.up.sql:1:1: skipped: a variant for turso, and the dialect is postgres",
		"6_f.oracle.up.sql:1:1: skipped: a variant for oracle, and the dialect is postgres",
		"6_f.redshift.up.sql:1:1: skipped: a variant for redshift, and the dialect is postgres",
		"6_f.snowflake.up.sql:1:1: skipped: a variant for snowflake, and the dialect is postgres",
		"6_f.sqlite3.up.sql:1:1: skipped: a variant for sqlite, and the dialect is postgres",
		"6_f.starrocks.up.sql:1:1: skipped: a variant for starrocks, and the dialect is postgres",
		"6_f.tidb.up.sql:1:1: skipped: a variant for tidb, and the dialect is postgres",
		"6_f.turso.up.sql:1:1: skipped: a variant for turso, and the dialect is postgres",
		"6_f.vertica.up.sql:1:1: skipped: a variant for vertica, and the dialect is postgres",
		"6_f.ydb.up.sql:1:1: skipped: a variant for ydb, and the dialect is postgres",
		"8_h.cockroach.up.sql:1:1: skipped: a variant for cockroach, and the dialect is postgres",
		"8_h.sqlite.up.sql:1:1: skipped: a variant for sqlite, and the dialect is postgres",
	})
	// Under mysql, a mariadb variant is another dialect's, as in pop.
	chs, _ = load(t, "mysql", map[string]string{"2_b.mariadb.sql": "-- +goose Up\nSELECT 1;", "2_b.mysql.sql": "-- +goose Up\nSELECT 2;"})
	if len(chs) != 1 || chs[0].File != "2_b.mysql.sql" {
		t.Errorf("mysql changes = %+v", chs)
	}
}

func TestDownFilePairing(t *testing.T) {
	const up, pgUp, down, pgDown = "CREATE TABLE t (a int);", "CREATE TABLE t (a int4);", "DROP TABLE t;", "DROP TABLE IF EXISTS t;"
	cases := []struct {
		name             string
		files            map[string]string
		file, downFile   string
		checksum, downSQ string
		notices          []string
	}{
		{"generic up, generic down", map[string]string{"1_t.up.sql": up, "1_t.down.sql": down},
			"1_t.up.sql", "1_t.down.sql", sum(up, down), "DROP TABLE t", nil},
		{"dialect up, generic down", map[string]string{"1_t.postgres.up.sql": pgUp, "1_t.sqlite.up.sql": up, "1_t.down.sql": down},
			"1_t.postgres.up.sql", "1_t.down.sql", sum(pgUp, down), "DROP TABLE t",
			[]string{"1_t.sqlite.up.sql:1:1: skipped: a variant for sqlite, and the dialect is postgres"}},
		{"dialect up, dialect down", map[string]string{"1_t.postgres.up.sql": pgUp, "1_t.postgres.down.sql": pgDown},
			"1_t.postgres.up.sql", "1_t.postgres.down.sql", sum(pgUp, pgDown), "DROP TABLE IF EXISTS t", nil},
		{"generic up, dialect down", map[string]string{"1_t.up.sql": up, "1_t.pgx.down.sql": pgDown},
			"1_t.up.sql", "1_t.pgx.down.sql", sum(up, pgDown), "DROP TABLE IF EXISTS t", nil},
		{"both downs: the dialect's wins", map[string]string{"1_t.postgres.up.sql": pgUp, "1_t.down.sql": down, "1_t.postgres.down.sql": pgDown, "1_t.mysql.down.sql": down},
			"1_t.postgres.up.sql", "1_t.postgres.down.sql", sum(pgUp, pgDown), "DROP TABLE IF EXISTS t",
			[]string{
				"1_t.down.sql:1:1: skipped: 1_t.postgres.down.sql, the down file for postgres, takes its place",
				"1_t.mysql.down.sql:1:1: skipped: a variant for mysql, and the dialect is postgres",
			}},
		{"both downs beside a generic up", map[string]string{"1_t.up.sql": up, "1_t.down.sql": down, "1_t.postgres.down.sql": pgDown},
			"1_t.up.sql", "1_t.postgres.down.sql", sum(up, pgDown), "DROP TABLE IF EXISTS t",
			[]string{"1_t.down.sql:1:1: skipped: 1_t.postgres.down.sql, the down file for postgres, takes its place"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chs, notices := load(t, "postgres", c.files)
			if len(chs) != 1 {
				t.Fatalf("%d changes", len(chs))
			}
			ch := chs[0]
			if ch.ID != "1_t" || ch.File != c.file || ch.DownFile != c.downFile || !ch.HasDown || ch.Checksum != c.checksum ||
				len(ch.Down) != 1 || ch.Down[0].SQL != c.downSQ {
				t.Errorf("change = %+v", ch)
			}
			checkNotices(t, notices, c.notices)
		})
	}

	// A generic down file of a version whose up files are all another
	// dialect's: the version is no change for this dialect.
	chs, notices := load(t, "postgres", map[string]string{"1_t.sqlite.up.sql": up, "1_t.down.sql": down, "2_u.up.sql": up})
	if len(chs) != 1 || chs[0].ID != "2_u" {
		t.Errorf("changes %+v", chs)
	}
	checkNotices(t, notices, []string{
		"1_t.down.sql:1:1: skipped: version 1 has no up file for postgres (its up files are variants for sqlite)",
		"1_t.sqlite.up.sql:1:1: skipped: a variant for sqlite, and the dialect is postgres",
	})

	// Still errors: a down file with no up file in any dialect, a down file
	// of the chosen dialect without an up file for it, and names that
	// differ.
	for _, c := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"1_t.down.sql": down}, "1_t.down.sql:1:1: down file without an up file: want 1_t.up.sql beside it"},
		{map[string]string{"1_t.postgres.down.sql": down, "1_t.sqlite.up.sql": up}, "1_t.postgres.down.sql:1:1: down file without an up file: want 1_t.postgres.up.sql beside it"},
		{map[string]string{"1_t.postgres.up.sql": up, "1_u.down.sql": down}, "1_u.down.sql:1:1: two files with version 1: 1_t.postgres.up.sql and 1_u.down.sql have different names"},
	} {
		chs, _, errs := Load(mapFS(c.files), Options{Dialect: "postgres"})
		if len(chs) != 0 {
			t.Errorf("%v: %d changes", c.files, len(chs))
		}
		checkErrs(t, errs, []string{c.want})
	}
}

func TestEmptyUpSectionsAreNoOps(t *testing.T) {
	const noop = "the up section holds no statement: it is recorded as applied and does nothing"
	files := map[string]string{
		"1_goose_only_up.sql":  "-- +goose Up\n", // goose's own 00004_empty.sql
		"2_goose_comments.sql": "-- a note\n\n-- +goose Up\n-- nothing for this dialect\n-- +goose Down\nSELECT 1;\n",
		"3_zero_bytes.up.sql":  "",
		"4_comments.up.sql":    "-- Migration generated by the command below; DO NOT EDIT.\n\n",
		"5_both.up.sql":        "",
		"5_both.down.sql":      "",
		"6_flam.sql":           "\n-- flamingock:change author=bob\n-- flamingock:undo\nSELECT 1;",
		"7_flam_only.sql":      "-- flamingock:change",
		"8_blank.sql":          "-- +goose NO TRANSACTION\n-- +goose Up\n   \n\t\n",
	}
	chs, notices := load(t, "postgres", files)
	if len(chs) != len(files)-1 {
		t.Fatalf("%d changes, want %d", len(chs), len(files)-1)
	}
	for _, c := range chs {
		if len(c.Up) != 0 {
			t.Errorf("%s: Up = %v", c.ID, c.Up)
		}
		want := sum(files[c.File])
		if c.DownFile != "" {
			want = sum(files[c.File], files[c.DownFile])
		}
		if c.Checksum != want {
			t.Errorf("%s: checksum %s, want %s", c.ID, c.Checksum, want)
		}
	}
	checkNotices(t, notices, []string{
		"1_goose_only_up.sql:1:1: " + noop,
		"2_goose_comments.sql:3:1: " + noop,
		"3_zero_bytes.up.sql:1:1: " + noop,
		"4_comments.up.sql:1:1: " + noop,
		"5_both.up.sql:1:1: " + noop,
		"6_flam.sql:2:1: " + noop,
		"7_flam_only.sql:1:1: " + noop,
		"8_blank.sql:2:1: " + noop,
	})
	byID := map[string]Change{}
	for _, c := range chs {
		byID[c.ID] = c
	}
	if c := byID["2_goose_comments"]; !c.HasDown || len(c.Down) != 1 || !c.Transactional || c.UpLine != 4 {
		t.Errorf("an empty goose up section with a down section = %+v", c)
	}
	if c := byID["8_blank"]; c.Transactional {
		t.Errorf("NO TRANSACTION lost: %+v", c)
	}
	if c := byID["6_flam"]; c.Author != "bob" || !c.HasDown || len(c.Down) != 1 {
		t.Errorf("an empty flamingock up section with an undo = %+v", c)
	}
	// An empty change is not a missing one: its checksum is that of the
	// empty content, and an empty down file counts.
	if c := byID["3_zero_bytes"]; c.Checksum != sum("") || c.HasDown {
		t.Errorf("zero-byte up file = %+v", c)
	}
	if c := byID["5_both"]; c.Checksum == sum("") || c.Checksum != sum("", "") || !c.HasDown || c.DownFile != "5_both.down.sql" {
		t.Errorf("empty up and down files = %+v", c)
	}
}

// TestTheChosenDialectsUpFileTakesThePlaceOfTheGenericOne: as pop does
// (ory/hydra keeps 20190100000001000000_client.up.sql beside
// .sqlite.up.sql), a version with an up file for all dialects and one for
// the chosen dialect runs the chosen dialect's, and says so.
func TestTheChosenDialectsUpFileTakesThePlaceOfTheGenericOne(t *testing.T) {
	files := map[string]string{
		"5_a.up.sql":          "SELECT 'all';",
		"5_a.postgres.up.sql": "SELECT 'postgres';",
		"5_a.down.sql":        "SELECT 'down';",
	}
	for _, tt := range []struct {
		dialect, up, file string
		notices           []string
	}{
		{"postgres", "SELECT 'postgres'", "5_a.postgres.up.sql",
			[]string{"5_a.up.sql:1:1: skipped: 5_a.postgres.up.sql, the up file for postgres, takes its place"}},
		{"sqlite", "SELECT 'all'", "5_a.up.sql",
			[]string{"5_a.postgres.up.sql:1:1: skipped: a variant for postgres, and the dialect is sqlite"}},
	} {
		chs, notices, errs := Load(mapFS(files), Options{Dialect: tt.dialect})
		checkErrs(t, errs, nil)
		if len(chs) != 1 || chs[0].File != tt.file || len(chs[0].Up) != 1 || chs[0].Up[0].SQL != tt.up || chs[0].DownFile != "5_a.down.sql" {
			t.Fatalf("%s: changes %+v, want one from %s running %q with the generic down", tt.dialect, chs, tt.file, tt.up)
		}
		var got []string
		for _, n := range notices {
			got = append(got, n.String())
		}
		if diff := cmp.Diff(tt.notices, got); diff != "" {
			t.Errorf("%s: notices (-want +got):\n%s", tt.dialect, diff)
		}
	}
}

func TestDataDefinitionRunsWithoutATransactionOnMySQL(t *testing.T) {
	// MySQL commits before and after data definition, so a change holding
	// some, in its up or its down section, cannot be atomic: it runs
	// without a transaction, with no notice (most MySQL changes are DDL).
	// PostgreSQL and SQLite run the same files in a transaction.
	cases := []struct {
		name  string
		files map[string]string
		mysql bool // Transactional on MySQL
	}{
		{"a goose change defining a table", map[string]string{
			"1_a.sql": "-- +goose Up\nCREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n-- +goose Down\nDELETE FROM t;\n"}, false},
		{"a goose change whose down drops a table", map[string]string{
			"1_a.sql": "-- +goose Up\nINSERT INTO t VALUES (1);\n-- +goose Down\nDROP TABLE t;\n"}, false},
		{"a goose change whose DDL is in a statement block", map[string]string{
			"1_a.sql": "-- +goose Up\n-- +goose StatementBegin\nCREATE PROCEDURE p() BEGIN SELECT 1; END;\n-- +goose StatementEnd\n"}, false},
		{"a goose change of data only", map[string]string{
			"1_a.sql": "-- +goose Up\nINSERT INTO t VALUES ('CREATE TABLE x');\n-- DROP TABLE t\nUPDATE t SET a = 2;\n-- +goose Down\nDELETE FROM t;\n"}, true},
		{"a goose change with a temporary table", map[string]string{
			"1_a.sql": "-- +goose Up\nCREATE TEMPORARY TABLE tmp (a int);\nINSERT INTO t SELECT a FROM tmp;\nDROP TEMPORARY TABLE tmp;\n"}, true},
		{"a golang-migrate change defining a table", map[string]string{
			"1_a.up.sql": "CREATE TABLE t (a int);", "1_a.down.sql": "DELETE FROM t;"}, false},
		{"a golang-migrate change whose down file drops a table", map[string]string{
			"1_a.up.sql": "INSERT INTO t VALUES (1);", "1_a.down.sql": "DROP TABLE t;"}, false},
		{"a golang-migrate change of data only", map[string]string{
			"1_a.up.sql": "INSERT INTO t VALUES (1);", "1_a.down.sql": "DELETE FROM t;"}, true},
		{"a flamingock change defining a table", map[string]string{
			"1_a.sql": "-- flamingock:change\nALTER TABLE t ADD b int;\n-- flamingock:undo\nUPDATE t SET a = 1;\n"}, false},
		{"a flamingock change whose undo drops a column", map[string]string{
			"1_a.sql": "-- flamingock:change author=x\nUPDATE t SET a = 1;\n-- flamingock:undo\nALTER TABLE t DROP b;\n"}, false},
		{"a flamingock change of data only", map[string]string{
			"1_a.sql": "-- flamingock:change\nUPDATE t SET a = 1;\n-- flamingock:undo\nUPDATE t SET a = 0;\n"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range []string{"mysql", "postgres", "sqlite"} {
				chs, notices := load(t, d, c.files)
				want := c.mysql || d != "mysql"
				if len(chs) != 1 || chs[0].Transactional != want {
					t.Errorf("%s: Transactional %v, want %v", d, len(chs) == 1 && chs[0].Transactional, want)
				}
				if len(notices) != 0 {
					t.Errorf("%s: notices %v, want none", d, notices)
				}
			}
		})
	}
}
