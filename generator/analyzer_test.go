package generator

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/go/analysis"
	analysischecker "golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// analyzeDirs runs Analyzer on the packages in dir matched by patterns and
// returns the diagnostics of each, by package directory, rendered as
// file:line:col: message relative to it. A package that does not type-check
// fails the test: analyzers would not run on it.
func analyzeDirs(t *testing.T, dir string, patterns ...string) map[string][]string {
	t.Helper()
	pkgs, err := packages.Load(&packages.Config{Mode: packages.LoadAllSyntax, Dir: dir}, patterns...)
	if err != nil {
		t.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 {
		t.Fatal("the packages do not type-check")
	}
	graph, err := analysischecker.Analyze([]*analysis.Analyzer{Analyzer}, pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	diags := map[string][]string{}
	for _, act := range graph.Roots {
		if act.Err != nil {
			t.Fatalf("analyzer failed on %s: %v", act.Package.PkgPath, act.Err)
		}
		pkgDir := filepath.Dir(act.Package.GoFiles[0])
		diags[pkgDir] = []string{}
		for _, d := range act.Diagnostics {
			e := &Error{Pos: act.Package.Fset.Position(d.Pos), Msg: d.Message}
			diags[pkgDir] = append(diags[pkgDir], e.Format(pkgDir))
		}
	}
	return diags
}

func TestAnalyzerReportsWhatFlamingockGenReports(t *testing.T) {
	root, cases := goldenCases(t)
	want := map[string][]string{}
	var patterns []string
	for _, name := range cases {
		dir := filepath.Join(root, name)
		data, err := os.ReadFile(filepath.Join(dir, "want", "errors.txt"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, LedgerName)); err == nil {
			continue // the analyzer does not read the ledger
		}
		if name == "package_errors" {
			continue // analyzers do not run on packages that do not type-check
		}
		want[dir] = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		patterns = append(patterns, "./"+name)
	}
	if len(patterns) < 10 {
		t.Fatalf("found %d bad cases for the analyzer, want at least 10", len(patterns))
	}
	got := analyzeDirs(t, root, patterns...)
	for dir, w := range want {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if diff := cmp.Diff(w, got[dir]); diff != "" {
				t.Errorf("analyzer diagnostics differ from want/errors.txt (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnalyzerAcceptsAGeneratedPackage(t *testing.T) {
	dir := tempModule(t, map[string]string{"changes.go": oneChange})
	res, err := Generate(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	got := analyzeDirs(t, dir, ".")
	if len(got) != 1 || len(got[dir]) > 0 {
		t.Errorf("analyzer reported problems in a freshly generated package: %q", got)
	}
}
