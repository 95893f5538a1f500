package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSmallRun measures a tiny package once, so that the benchmark keeps
// working; it asserts what the run printed, never a time.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-sql", "3", "-go", "2", "-runs", "1"}, &stdout, &stderr); code != 0 {
		t.Fatalf("gen exited %d:\n%s", code, stderr.String())
	}
	for _, want := range []string{"3 goose SQL files and 2 Go changes", "first generation", "regeneration after an edit", "regeneration, nothing changed", "go vet after an edit"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}
