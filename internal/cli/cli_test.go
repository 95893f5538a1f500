package cli

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantFlag string
	}{
		{"flags after the argument are parsed", []string{"c1", "--reason", "checked"}, []string{"c1"}, "checked"},
		{"flags before the argument are parsed", []string{"--reason=checked", "c1"}, []string{"c1"}, "checked"},
		{"arguments around flags are all kept, in order", []string{"a", "--reason", "r", "b"}, []string{"a", "b"}, "r"},
		{"after -- everything is an argument", []string{"a", "--", "--reason", "b"}, []string{"a", "--reason", "b"}, ""},
		{"no arguments", []string{"--reason", "r"}, nil, "r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			reason := fs.String("reason", "", "")
			pos, err := parseInterspersed(fs, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantPos, pos); diff != "" || *reason != tt.wantFlag {
				t.Errorf("parseInterspersed(%q): arguments (-want +got):\n%s--reason %q, want %q", tt.args, diff, *reason, tt.wantFlag)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-03-01T10:00:00Z", time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)},
		{"2025-03-01T11:00:00.5+01:00", time.Date(2025, 3, 1, 10, 0, 0, 5e8, time.UTC)},
		{"2025-03-01", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := parseTime("--since", tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2025-03-01 10:00", "2025-13-01"} {
		var usage *usageError
		if _, err := parseTime("--since", bad); !errors.As(err, &usage) {
			t.Errorf("parseTime(%q): got %v, want a usage error", bad, err)
		}
	}
}

func TestOperator(t *testing.T) {
	c := newCLI(io.Discard, io.Discard, Env{})
	c.username = func() (string, error) { return "alice", nil }
	c.hostname = func() (string, error) { return "laptop", nil }
	c.getenv = func(string) string { return "" }
	if got, err := c.operator("", false); err != nil || got != "alice@laptop" {
		t.Errorf("default operator = %q, %v; want alice@laptop", got, err)
	}
	if got, err := c.operator("bob@ops", true); err != nil || got != "bob@ops" {
		t.Errorf("--operator bob@ops = %q, %v", got, err)
	}
	var usage *usageError
	if _, err := c.operator(" ", true); !errors.As(err, &usage) {
		t.Errorf("--operator ' ': got %v, want a usage error", err)
	}
	c.username = func() (string, error) { return "", errors.New("no passwd entry") }
	c.getenv = func(k string) string { return map[string]string{"USER": "carol"}[k] }
	if got, err := c.operator("", false); err != nil || got != "carol@laptop" {
		t.Errorf("default operator without a user database = %q, %v; want carol@laptop from $USER", got, err)
	}
	c.getenv = func(string) string { return "" }
	if _, err := c.operator("", false); !errors.As(err, &usage) {
		t.Errorf("default operator with no user at all: got %v, want a usage error asking for --operator", err)
	}
}

func TestStoreURLTakesThePasswordOfAPastedCommandFromTheEnvironment(t *testing.T) {
	const secret = "postgres://ops:pa#ss@db:5432/app?sslmode=disable"
	tests := []struct {
		name, flag, env, want string
	}{
		{"no flag: the environment", "", secret, secret},
		{"a flag: the flag", "sqlite:app.db", secret, "sqlite:app.db"},
		{"the environment's store redacted: the environment", "postgres://ops:xxxxx@db:5432/app?sslmode=disable", secret, secret},
		{"another store redacted: the flag as it is", "postgres://ops:xxxxx@other:5432/app?sslmode=disable", secret, "postgres://ops:xxxxx@other:5432/app?sslmode=disable"},
		{"no environment: the flag", "postgres://ops:xxxxx@db:5432/app", "", "postgres://ops:xxxxx@db:5432/app"},
	}
	for _, tt := range tests {
		if got := storeURL(tt.flag, tt.env); got != tt.want {
			t.Errorf("%s: storeURL(%q, %q) = %q, want %q", tt.name, tt.flag, tt.env, got, tt.want)
		}
	}
}
