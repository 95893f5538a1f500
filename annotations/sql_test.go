package annotations

import (
	"go/ast"
	"go/token"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func parseSQLLine(text string) (SQL, bool, error) {
	return ParseSQLComment(&ast.Comment{Slash: 1, Text: text})
}

func TestParseSQLCommentAcceptsValidDirectives(t *testing.T) {
	tests := []struct {
		name string
		text string
		want SQL
	}{
		{"a database/sql target on SQLite", `//flamingock:sql target=appdb handle=database/sql dialect=sqlite`,
			SQL{Target: "appdb", Handle: HandleDatabaseSQL, Dialect: "sqlite"}},
		{"a pgx target with the oldest server version", `//flamingock:sql dialect=postgres target=main.db handle=pgx min-postgres=12`,
			SQL{Target: "main.db", Handle: HandlePgx, Dialect: "postgres", MinPostgres: 12}},
		{"a quoted attribute", `//flamingock:sql "target=appdb" handle=database/sql dialect=mysql`,
			SQL{Target: "appdb", Handle: HandleDatabaseSQL, Dialect: "mysql"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseSQLLine(tt.text)
			if !ok || err != nil {
				t.Fatalf("ParseSQLComment(%q) = ok %v, err %v", tt.text, ok, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(SQL{}), cmpopts.IgnoreFields(SQL{}, "Pos")); diff != "" {
				t.Errorf("ParseSQLComment(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestParseSQLCommentReportsEveryProblemPositioned(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []wantErr
	}{
		{"every required attribute missing", `//flamingock:sql`, []wantErr{
			{1, "missing target: add target=… (the id of the target the package's SQL files run on)"},
			{1, "missing handle: add handle=database/sql (a sqltarget) or handle=pgx (a pgxtarget)"},
			{1, "missing dialect: add dialect=postgres, dialect=sqlite or dialect=mysql"},
		}},
		{"an unknown attribute is near a known one", `//flamingock:sql target=a handle=pgx dialect=postgres min-postgress=12`, []wantErr{
			{55, `unknown attribute "min-postgress" (did you mean "min-postgres"?)`},
		}},
		{"a change attribute is not one of the package directive", `//flamingock:sql target=a handle=pgx dialect=postgres author=bob`, []wantErr{
			{55, `unknown attribute "author"; known attributes are target, handle, dialect, min-postgres`},
		}},
		{"bad values", `//flamingock:sql target=-a handle=gorm dialect=oracle`, []wantErr{
			{18, `invalid target "-a": ` + IDRule},
			{28, `invalid handle "gorm": want database/sql or pgx`},
			{40, `invalid dialect "oracle": want postgres, sqlite or mysql`},
		}},
		{"pgx is for PostgreSQL", `//flamingock:sql target=a handle=pgx dialect=sqlite`, []wantErr{
			{27, "handle=pgx is for PostgreSQL, and the dialect is sqlite: use handle=database/sql"},
		}},
		{"min-postgres is for PostgreSQL", `//flamingock:sql target=a handle=database/sql dialect=sqlite min-postgres=12`, []wantErr{
			{62, "min-postgres= is for dialect=postgres, and the dialect is sqlite"},
		}},
		{"min-postgres is a major version", `//flamingock:sql target=a handle=pgx dialect=postgres min-postgres=12.1`, []wantErr{
			{55, `invalid min-postgres "12.1": want a PostgreSQL major version such as 12`},
		}},
		{"a space after the slashes", `// flamingock:sql target=a handle=pgx dialect=postgres`, []wantErr{
			{1, `malformed directive: write "//flamingock:sql" with no space after "//" or ":"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := parseSQLLine(tt.text)
			if !ok {
				t.Fatalf("ParseSQLComment(%q): not taken for the directive", tt.text)
			}
			list, _ := err.(ErrorList)
			var got []wantErr
			for _, e := range list {
				got = append(got, wantErr{int(e.Pos), e.Msg})
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(wantErr{})); diff != "" {
				t.Errorf("ParseSQLComment(%q) errors (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestTheTwoParsersShareTheDirectivesOut(t *testing.T) {
	for _, text := range []string{`//flamingock:sql target=a handle=pgx dialect=postgres`, `// flamingock:sql target=a`} {
		if _, ok, _ := ParseComment(&ast.Comment{Slash: token.Pos(1), Text: text}); ok {
			t.Errorf("ParseComment(%q) took the package directive", text)
		}
	}
	for _, text := range []string{`//flamingock:change id=a target=b`, `//flamingock:sqll target=a`} {
		if _, ok, _ := ParseSQLComment(&ast.Comment{Slash: token.Pos(1), Text: text}); ok {
			t.Errorf("ParseSQLComment(%q) took it", text)
		}
	}
	_, ok, err := ParseComment(&ast.Comment{Slash: 1, Text: `//flamingock:sqll target=a`})
	if !ok || err == nil || err.Error() != "unknown directive //flamingock:sqll (did you mean //flamingock:sql?)" {
		t.Errorf("ParseComment(//flamingock:sqll) = %v, %v", ok, err)
	}
}
