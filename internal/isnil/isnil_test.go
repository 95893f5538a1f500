package isnil_test

import (
	"io"
	"testing"

	"github.com/flamingock/flamingock-go/internal/isnil"
)

type store struct{}

func (*store) Close() error { return nil }

func TestValue(t *testing.T) {
	var typedNil io.Closer = (*store)(nil)
	for _, tt := range []struct {
		name string
		v    any
		want bool
	}{
		{"nil", nil, true},
		{"a nil pointer in an interface", typedNil, true},
		{"a nil map", map[string]int(nil), true},
		{"a nil func", (func())(nil), true},
		{"a nil slice", []int(nil), true},
		{"a pointer", &store{}, false},
		{"a value", store{}, false},
		{"zero", 0, false},
	} {
		if got := isnil.Value(tt.v); got != tt.want {
			t.Errorf("%s: Value = %v, want %v", tt.name, got, tt.want)
		}
	}
}
