package generator

import "testing"

// TestGroupImports: the standard library's imports first, a blank line,
// the others, each group in jen's order; blocks it cannot read are left
// alone.
func TestGroupImports(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"both groups",
			"package p\n\nimport (\n\t\"context\"\n\t\"github.com/x/y\"\n\tz \"log/slog\"\n)\n\nvar _ = 1\n",
			"package p\n\nimport (\n\t\"context\"\n\tz \"log/slog\"\n\n\t\"github.com/x/y\"\n)\n\nvar _ = 1\n"},
		{"only the standard library", "package p\n\nimport (\n\t\"context\"\n\t\"os\"\n)\n", "package p\n\nimport (\n\t\"context\"\n\t\"os\"\n)\n"},
		{"only others", "package p\n\nimport (\n\t\"a.b/c\"\n\t\"d.e/f\"\n)\n", "package p\n\nimport (\n\t\"a.b/c\"\n\t\"d.e/f\"\n)\n"},
		{"a single import", "package p\n\nimport \"context\"\n", "package p\n\nimport \"context\"\n"},
		{"a line it cannot read", "package p\n\nimport (\n\t\"context\"\n\t// why\n\t\"a.b/c\"\n)\n", "package p\n\nimport (\n\t\"context\"\n\t// why\n\t\"a.b/c\"\n)\n"},
	} {
		if got := string(groupImports([]byte(tt.in))); got != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
