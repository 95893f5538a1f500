package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/internal/scriptcmd"
	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/rogpeppe/go-internal/gotooltest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"flamingock-gen": main})
}

// TestScripts runs testdata/script/*.txtar: flamingock-gen as a user runs
// it, through go generate and go tool in a temporary module that requires
// this checkout, and as a command. Set FLAMINGOCK_UPDATE_SCRIPTS=1 to
// rewrite the scripts' expected files from what the commands produce.
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	p := testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: os.Getenv("FLAMINGOCK_UPDATE_SCRIPTS") == "1",
		Setup: func(e *testscript.Env) error {
			e.Vars = append(e.Vars,
				"FLAMINGOCK_ROOT="+root,
				// Offline: every module comes from the module cache, and
				// the checkout's go.sum (copied by the scripts) vouches
				// for them; our own module is replaced by the checkout.
				"GOMODCACHE="+strings.TrimSpace(string(modcache)),
				"GOPROXY=off",
				"GOFLAGS=-mod=mod",
				"GOWORK=off",
				// A database of its own for a script that runs its
				// changes on MongoDB (yaml.txtar).
				"SCRIPT_DB=flamingock_gen_"+strings.ToLower(rand.Text()[:12]),
			)
			// The test MongoDB, for the scripts under [mongo].
			if uri := os.Getenv(testenv.MongoEnv); uri != "" {
				e.Vars = append(e.Vars, testenv.MongoEnv+"="+uri)
			}
			return nil
		},
		// [mongo]: FLAMINGOCK_TEST_MONGO is set. A script skips without
		// it, unless FLAMINGOCK_REQUIRE_SERVICES=1, where it fails (see
		// internal/testenv).
		Condition: func(cond string) (bool, error) {
			if cond != "mongo" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			if os.Getenv(testenv.MongoEnv) == "" && os.Getenv(testenv.RequireServicesEnv) == "1" {
				return false, fmt.Errorf("%s is not set, and %s=1", testenv.MongoEnv, testenv.RequireServicesEnv)
			}
			return os.Getenv(testenv.MongoEnv) != "", nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": scriptcmd.Exits,
		},
	}
	if err := gotooltest.Setup(&p); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, p)
}

func TestRunRejectsBadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"an unknown flag is a usage error", []string{"-frobnicate"}, exitError, "flag provided but not defined: -frobnicate"},
		{"two directories are a usage error", []string{"a", "b"}, exitError, "usage: flamingock-gen [flags] [dir]"},
		{"help is not an error", []string{"-h"}, exitOK, "-allow-ledger-rewrite"},
		{"a directory without a package cannot run", []string{t.TempDir()}, exitError, "flamingock-gen: loading the package"},
		{"new takes one name", []string{"new", "a", "b"}, exitError, "usage: flamingock-gen new [-sql|-yaml] [-dir dir] NAME"},
		{"new refuses -sql with -yaml", []string{"new", "-sql", "-yaml", "a"}, exitError, "usage: flamingock-gen new"},
		{"new refuses a name that makes no file name", []string{"new", "-dir", t.TempDir(), "a/b"}, exitError, `invalid change name "a/b"`},
		{"-renumber and -check contradict each other", []string{"-check", "-renumber=x"}, exitError, "choose one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), tt.args, &stdout, &stderr)
			if got != tt.want || !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("run(%q) = %d, stderr:\n%s\nwant %d and %q", tt.args, got, stderr.String(), tt.want, tt.msg)
			}
			if stdout.Len() > 0 {
				t.Errorf("run(%q) wrote to stdout: %q", tt.args, stdout.String())
			}
		})
	}
}

func Example_usage() {
	var stderr bytes.Buffer
	run(context.Background(), []string{"-h"}, os.Stdout, &stderr)
	fmt.Print(stderr.String())
	// Output:
	// usage: flamingock-gen [flags] [dir]
	//        flamingock-gen new [-sql|-yaml] [-dir dir] NAME
	//
	// flags:
	//   -allow-ledger-rewrite
	//     	permit removing, renumbering or inserting before generated changes
	//   -check
	//     	report whether the generated files are up to date; write nothing
	//   -cosmetic id
	//     	record that the edit of change id does not change what it does (repeatable)
	//   -rename-stage
	//     	with -stage, rename the stage the ledger records (only a stage that never ran anywhere)
	//   -renumber id
	//     	move change id, which never ran anywhere, after the last order (its directive or file names, and the ledger), then generate
	//   -stage name
	//     	stage name in the audit trail (default: the one the ledger records, else the package name)
	//   -unreleased id
	//     	record that change id never ran anywhere: it may be edited, renumbered or removed (repeatable)
}
