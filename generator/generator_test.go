package generator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the want/ files of the golden cases in ../testdata")

// testdata is the module of golden cases: one directory per case, holding
// the input package and want/, with flamingock_gen.go and flamingock.ledger
// for a good case, errors.txt for a bad one.
const testdata = "../testdata"

// caseConfig is the configuration of the cases that need more than Dir.
var caseConfig = map[string]Config{
	"ledger_rewrite_allowed": {AllowLedgerRewrite: true},
	"name_clashes":           {Stage: "custom-stage"},
}

func goldenCases(t *testing.T) (root string, cases []string) {
	t.Helper()
	root, err := filepath.Abs(testdata)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			cases = append(cases, e.Name())
		}
	}
	return root, cases
}

func TestGenerateMatchesGoldenCases(t *testing.T) {
	root, cases := goldenCases(t)
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(root, name)
			cfg := caseConfig[name]
			cfg.Dir = dir
			res, err := Generate(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			want := filepath.Join(dir, "want")
			got := map[string][]byte{}
			if len(res.Errs) > 0 {
				var b strings.Builder
				for _, e := range res.Errs {
					b.WriteString(e.Format(dir) + "\n")
				}
				// Scrub what is left of the machine's paths.
				got["errors.txt"] = []byte(strings.ReplaceAll(b.String(), root, "$TESTDATA"))
			} else {
				got[OutputName] = res.Content
				got[LedgerName] = res.Ledger
			}
			if *update {
				writeWant(t, want, got)
				return
			}
			wantFiles := readWant(t, want)
			if diff := cmp.Diff(wantFiles, stringMap(got)); diff != "" {
				t.Errorf("generated files differ from %s (-want +got); rerun with -update if intended:\n%s", want, diff)
			}
		})
	}
}

func stringMap(m map[string][]byte) map[string]string {
	s := map[string]string{}
	for k, v := range m {
		s[k] = string(v)
	}
	return s
}

func readWant(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("no golden files (run go test ./generator -update): %v", err)
	}
	m := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(data)
	}
	return m
}

func writeWant(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGoldenOutputCompiles vets every good case with its wanted
// flamingock_gen.go put in place by an overlay, in the testdata module,
// against the runtime of this checkout.
func TestGoldenOutputCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds packages with the go command")
	}
	root, cases := goldenCases(t)
	overlay := map[string]string{}
	var pkgs []string
	for _, name := range cases {
		want := filepath.Join(root, name, "want", OutputName)
		if _, err := os.Stat(want); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		overlay[filepath.Join(root, name, OutputName)] = want
		pkgs = append(pkgs, "./"+name)
	}
	if len(pkgs) < 2 {
		t.Fatalf("found %d good cases, want at least 2", len(pkgs))
	}
	data, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(overlayFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"vet", "-overlay=" + overlayFile}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go vet %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
}
