// Package scriptcmd holds the custom commands the repository's testscript
// suites share (cmd/flamingock, cmd/flamingock-gen, migrate), written once.
package scriptcmd

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Exits runs a command and checks its exit status:
//
//	exits 3 flamingock issue list
func Exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad status %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			ts.Fatalf("exits: %v", err)
		}
		got = exitErr.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// JSON checks JSON output:
//
//	json stdout                          stdout holds one JSON value
//	json stdout issues.0.change_id c1    and the value at that path is c1
//	json stdout issues.len 1             "len" is the length of an array
//	! json stdout lock.owner runner-a    the value is not runner-a
//
// The path is dot-separated object keys and array indexes ("#" would start
// a comment in a script). A string value is compared without its quotes,
// any other value as compact JSON.
func JSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 && len(args) != 3 || neg && len(args) == 1 {
		ts.Fatalf("usage: json FILE [PATH WANT]")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &v); err != nil {
		ts.Fatalf("%s is not JSON: %v", args[0], err)
	}
	if len(args) == 1 {
		return
	}
	for _, step := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[step]
			if !ok {
				ts.Fatalf("json %s: no key %q at %s", args[0], step, args[1])
			}
			v = next
		case []any:
			if step == "len" {
				v = float64(len(x))
				continue
			}
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("json %s: no index %q in an array of %d at %s", args[0], step, len(x), args[1])
			}
			v = x[i]
		default:
			ts.Fatalf("json %s: %q is inside a %T at %s", args[0], step, x, args[1])
		}
	}
	got, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			ts.Fatalf("json %s: %v", args[0], err)
		}
		got = string(b)
	}
	if (got == args[2]) == neg {
		ts.Fatalf("json %s %s = %q, want %s%q", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

// Sleep waits: sleep 1500ms.
func Sleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		ts.Fatalf("sleep: %v", err)
	}
	time.Sleep(d)
}
