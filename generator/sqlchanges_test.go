package generator

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const sqlPackage = `package m

//flamingock:sql target=appdb handle=database/sql dialect=sqlite

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }
`

const gooseFile = "-- +goose Up\nALTER TABLE users ADD COLUMN email TEXT;\n"

// staleAfter generates dir, commits it, applies edit and returns what Stale
// (or, for a ledger violation, Generate) says.
func staleAfter(t *testing.T, dir string, edit func()) []string {
	t.Helper()
	if err := generate(t, Config{Dir: dir}).Commit(); err != nil {
		t.Fatal(err)
	}
	edit()
	res := generate(t, Config{Dir: dir})
	errs := res.Errs
	if len(errs) == 0 {
		var err error
		if errs, err = res.Stale(); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Format(dir))
	}
	return msgs
}

func TestAStaleRegistryNamesTheSQLFile(t *testing.T) {
	tests := []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"a SQL file added without go generate", func(dir string) {
			write(t, filepath.Join(dir, "0003_more.sql"), "-- +goose Up\nSELECT 1;\n")
		}, `0003_more.sql:1:1: change "0003_more" is not in flamingock_gen.go, so it would never run: run go generate`},
		{"a SQL file edited without go generate", func(dir string) {
			write(t, filepath.Join(dir, "0002_add_email.sql"), gooseFile+"-- a comment\n")
		}, `0002_add_email.sql:1:1: change "0002_add_email" was edited since it was generated`},
		{"a SQL file removed without go generate", func(dir string) {
			os.Remove(filepath.Join(dir, "0002_add_email.sql"))
		}, `flamingock.ledger:4:1: change "0002_add_email" (order 2) was generated before and is no longer declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempModule(t, map[string]string{"changes.go": sqlPackage, "0002_add_email.sql": gooseFile})
			got := staleAfter(t, dir, func() { tt.edit(dir) })
			if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, tt.want) }) {
				t.Errorf("got %q, want a problem starting %q", got, tt.want)
			}
		})
	}
}

func TestARegistryOfARemovedSQLFileNamesIt(t *testing.T) {
	dir := tempModule(t, map[string]string{"changes.go": sqlPackage, "0002_add_email.sql": gooseFile})
	got := staleAfter(t, dir, func() {
		os.Remove(filepath.Join(dir, "0002_add_email.sql"))
		os.Remove(filepath.Join(dir, LedgerName))
	})
	want := `flamingock_gen.go registers change "0002_add_email" of 0002_add_email.sql:2, which is no longer declared (its SQL file was removed or renamed): run go generate`
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasSuffix(s, want) }) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAnalyzerAcceptsAGeneratedSQLPackage(t *testing.T) {
	// On MySQL, the data definition of gooseFile makes the change run
	// without a transaction: the analyzer, which reads no SQL file, finds
	// nothing to say about the registry that flamingock-gen wrote.
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			pkg := strings.Replace(sqlPackage, "dialect=sqlite", "dialect="+dialect, 1)
			dir := tempModule(t, map[string]string{"changes.go": pkg, "0002_add_email.sql": gooseFile})
			if err := generate(t, Config{Dir: dir}).Commit(); err != nil {
				t.Fatal(err)
			}
			got := analyzeDirs(t, dir, ".")
			if len(got) != 1 || len(got[dir]) > 0 {
				t.Errorf("analyzer reported problems in a freshly generated SQL package: %q", got)
			}
		})
	}
}

func TestSQLNoticesAreWarnings(t *testing.T) {
	dir := tempModule(t, map[string]string{
		"changes.go":                sqlPackage,
		"0002_add_email.sql":        gooseFile,
		"0003_ext.postgres.up.sql":  "CREATE EXTENSION citext;\n",
		"0003_ext.sqlite.up.sql":    "SELECT 1;\n",
		"0004_unused.mysql.up.sql":  "SELECT 1;\n",
		"0004_unused.sqlite.up.sql": "SELECT 2;\n",
	})
	res := generate(t, Config{Dir: dir})
	if len(res.Errs) > 0 {
		t.Fatalf("Generate: %v", res.Errs)
	}
	var got []string
	for _, w := range res.Warnings {
		got = append(got, w.FormatWarning(dir))
	}
	want := []string{
		"0003_ext.postgres.up.sql:1:1: warning: skipped: a variant for postgres, and the dialect is sqlite",
		"0004_unused.mysql.up.sql:1:1: warning: skipped: a variant for mysql, and the dialect is sqlite",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAChangeWithoutATransactionOnADatabaseSQLTarget(t *testing.T) {
	// On PostgreSQL and SQLite, sqltarget runs every change in a
	// transaction, so a change that cannot run in one needs pgx. On MySQL
	// the same target runs a change without a transaction with a *sql.Tx
	// whose statements each commit on their own (MySQL commits data
	// definition anyway): it is no error, and the change's Meta says so.
	const noTx = "-- +goose Up\n-- +goose NO TRANSACTION\nINSERT INTO users VALUES (1);\n"
	for _, tt := range []struct {
		dialect string
		want    string // the problem, "" for none
	}{
		{"postgres", `0002_no_tx.sql:2:1: change "0002_no_tx" runs without a transaction, and target "appdb" is a database/sql target (handle=database/sql), which runs every change in a transaction: use a pgx target (handle=pgx) for changes that cannot run in one`},
		{"sqlite", `0002_no_tx.sql:2:1: change "0002_no_tx" runs without a transaction, and target "appdb" is a database/sql target (handle=database/sql), which runs every change in a transaction: use a pgx target (handle=pgx) for changes that cannot run in one`},
		{"mysql", ""},
	} {
		t.Run(tt.dialect, func(t *testing.T) {
			pkg := strings.Replace(sqlPackage, "dialect=sqlite", "dialect="+tt.dialect, 1)
			dir := tempModule(t, map[string]string{"changes.go": pkg, "0002_no_tx.sql": noTx})
			res := generate(t, Config{Dir: dir})
			var got []string
			for _, e := range res.Errs {
				got = append(got, e.Format(dir))
			}
			if tt.want != "" {
				if !slices.Contains(got, tt.want) {
					t.Errorf("problems %q, want %q", got, tt.want)
				}
				return
			}
			if len(got) > 0 {
				t.Fatalf("problems %q, want none", got)
			}
			content := string(res.Content)
			if !regexp.MustCompile(`ID:\s+"0002_no_tx"`).MatchString(content) || !regexp.MustCompile(`WithoutTransaction:\s+true`).MatchString(content) ||
				!strings.Contains(content, "sqltarget.ScriptFunc(") || strings.Contains(content, "pgxtarget") {
				t.Errorf("flamingock_gen.go does not register 0002_no_tx without a transaction through sqltarget.ScriptFunc:\n%s", content)
			}
		})
	}
}
