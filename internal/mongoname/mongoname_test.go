package mongoname_test

import (
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/internal/mongoname"
)

func TestCollection(t *testing.T) {
	for _, tt := range []struct {
		name, want string
	}{
		{"flamingock_marker", ""},
		{"app.markers", ""},
		{"", "invalid collection name: empty"},
		{"\xff", `invalid collection name "\xff": not valid UTF-8`},
		{"a$b", `invalid collection name "a$b": it must not contain "$" or NUL`},
		{"a\x00b", `invalid collection name "a\x00b": it must not contain "$" or NUL`},
		{".m", `invalid collection name ".m": it must not start with "."`},
		{"system.markers", `invalid collection name "system.markers": the prefix "system." is reserved for MongoDB's own collections`},
	} {
		err := mongoname.Collection("collection name", tt.name)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Collection(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestNamespace(t *testing.T) {
	if err := mongoname.Namespace("app", strings.Repeat("c", 251)); err != nil {
		t.Errorf("a namespace of 255 bytes: %v", err)
	}
	err := mongoname.Namespace("app", strings.Repeat("c", 252))
	if err == nil || !strings.Contains(err.Error(), "is 256 bytes, more than MongoDB's 255") {
		t.Errorf("a namespace of 256 bytes: %v", err)
	}
}
