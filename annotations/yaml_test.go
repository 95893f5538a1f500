package annotations

import (
	"go/ast"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func parseYAMLLine(text string) (YAML, bool, error) {
	return ParseYAMLComment(&ast.Comment{Slash: 1, Text: text})
}

func TestParseYAMLCommentAcceptsValidDirectives(t *testing.T) {
	for _, tt := range []struct{ text, target string }{
		{`//flamingock:yaml target=appdb`, "appdb"},
		{`//flamingock:yaml "target=main.db"`, "main.db"},
	} {
		got, ok, err := parseYAMLLine(tt.text)
		if !ok || err != nil || got.Target != tt.target || got.Pos != 1 {
			t.Errorf("ParseYAMLComment(%q) = %+v, ok %v, err %v; want target %q", tt.text, got, ok, err, tt.target)
		}
		if p := got.AttrPos("target"); p <= 1 {
			t.Errorf("ParseYAMLComment(%q): target at %d, want after the directive's name", tt.text, p)
		}
	}
}

func TestParseYAMLCommentReportsEveryProblemPositioned(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []wantErr
	}{
		{"the target missing", `//flamingock:yaml`, []wantErr{
			{1, "missing target: add target=… (the id of the mongotarget the package's YAML files run on)"},
		}},
		{"an attribute of the SQL directive", `//flamingock:yaml target=a handle=mongo`, []wantErr{
			{28, `unknown attribute "handle"; known attributes are target`},
		}},
		{"a misspelt target", `//flamingock:yaml targt=a`, []wantErr{
			{19, `unknown attribute "targt" (did you mean "target"?)`},
			{1, "missing target: add target=… (the id of the mongotarget the package's YAML files run on)"},
		}},
		{"a bad target and a repeated one", `//flamingock:yaml target=-a target=b`, []wantErr{
			{19, `invalid target "-a": ` + IDRule},
			{29, `repeated attribute "target"`},
		}},
		{"a space after the slashes", `// flamingock:yaml target=a`, []wantErr{
			{1, `malformed directive: write "//flamingock:yaml" with no space after "//" or ":"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := parseYAMLLine(tt.text)
			if !ok {
				t.Fatalf("ParseYAMLComment(%q): not taken for the directive", tt.text)
			}
			list, _ := err.(ErrorList)
			var got []wantErr
			for _, e := range list {
				got = append(got, wantErr{int(e.Pos), e.Msg})
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(wantErr{})); diff != "" {
				t.Errorf("ParseYAMLComment(%q) errors (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestTheParsersLeaveTheYAMLDirectiveToItsOwn(t *testing.T) {
	for _, text := range []string{`//flamingock:yaml target=a`, `// flamingock:yaml target=a`} {
		if _, ok, _ := ParseComment(&ast.Comment{Slash: 1, Text: text}); ok {
			t.Errorf("ParseComment(%q) took the package directive", text)
		}
		if _, ok, _ := ParseSQLComment(&ast.Comment{Slash: 1, Text: text}); ok {
			t.Errorf("ParseSQLComment(%q) took the YAML directive", text)
		}
	}
	for _, text := range []string{`//flamingock:change id=a target=b`, `//flamingock:sql target=a handle=pgx dialect=postgres`, `//flamingock:yml target=a`} {
		if _, ok, _ := ParseYAMLComment(&ast.Comment{Slash: 1, Text: text}); ok {
			t.Errorf("ParseYAMLComment(%q) took it", text)
		}
	}
	_, ok, err := ParseComment(&ast.Comment{Slash: 1, Text: `//flamingock:yml target=a`})
	if !ok || err == nil || err.Error() != "unknown directive //flamingock:yml (did you mean //flamingock:yaml?)" {
		t.Errorf("ParseComment(//flamingock:yml) = %v, %v", ok, err)
	}
}
