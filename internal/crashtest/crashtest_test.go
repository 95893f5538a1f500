package crashtest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestShellWords(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"", nil},
		{"flamingock audit fix x", []string{"flamingock", "audit", "fix", "x"}},
		{`a  'b c' "d e"`, []string{"a", "b c", "d e"}},
		{`--reason 'it'\''s done'`, []string{"--reason", "it's done"}},
		{`x\ y ''`, []string{"x y", ""}},
		{"--store 'sqlite:/tmp/a b.db'\t--force", []string{"--store", "sqlite:/tmp/a b.db", "--force"}},
		// Bytes pass through as they are: a quoted UTF-8 name keeps its bytes.
		{`'café'`, []string{"café"}},
	}
	for _, tt := range tests {
		got, err := ShellWords(tt.line)
		if err != nil {
			t.Errorf("ShellWords(%q): %v", tt.line, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ShellWords(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
	if _, err := ShellWords(`a 'b`); err == nil {
		t.Error("ShellWords of an unterminated quote: no error")
	}
}
