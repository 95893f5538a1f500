package pgident_test

import (
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/internal/pgident"
)

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name, want string
	}{
		{"flamingock_marker", ""},
		{"Ops2", ""},
		{"_x", ""},
		{strings.Repeat("a", 63), ""},
		{"", "invalid table: empty"},
		{strings.Repeat("a", 64), "invalid table \"" + strings.Repeat("a", 64) + "\": longer than 63 bytes"},
		{"2fast", `invalid table "2fast": use letters, digits and underscores, not starting with a digit`},
		{`x"; DROP TABLE users; --`, `invalid table "x\"; DROP TABLE users; --": use letters, digits and underscores, not starting with a digit`},
		{"é", `invalid table "é": use letters, digits and underscores, not starting with a digit`},
	} {
		err := pgident.Check("table", tt.name, pgident.MaxLen)
		if got := errString(err); got != tt.want {
			t.Errorf("Check(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
