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
		switch name {
		case "package_errors":
			continue // analyzers do not run on packages that do not type-check
		case "unbuilt_directives":
			continue // an analysis pass sees only the files of its build (but see TestAnalyzerReportsADirectiveInATestFile)
		case "sql_without_directive", "sql_broken_file", "sql_checks",
			"yaml_without_directive", "yaml_broken_file", "yaml_checks":
			continue // an analysis pass reads no SQL or YAML file (the package directive's own problems it reports)
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

func TestAnalyzerReportsADirectiveInATestFile(t *testing.T) {
	dir := tempModule(t, map[string]string{
		"changes.go":      oneChange,
		"changes_test.go": "package m\n\nimport (\"context\"; \"database/sql\")\n\n//flamingock:change id=fixture order=2 target=appdb\nfunc Fixture(ctx context.Context, tx *sql.Tx) error { return nil }\n",
	})
	res := generate(t, Config{Dir: dir})
	if len(res.Errs) != 1 || !strings.Contains(res.Errs[0].Msg, "is in a test file") {
		t.Fatalf("Generate Errs = %v, want the test file's directive", res.Errs)
	}
	// Generated anyway, as if the test file were not there, for the
	// analyzer to run on a package that type-checks.
	os.Rename(filepath.Join(dir, "changes_test.go"), filepath.Join(dir, "hidden"))
	if err := generate(t, Config{Dir: dir}).Commit(); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(dir, "hidden"), filepath.Join(dir, "changes_test.go"))

	// The generated test's imports are not in the module's go.mod yet.
	env := append(os.Environ(), "GOFLAGS=-mod=mod")
	pkgs, err := packages.Load(&packages.Config{Mode: packages.LoadAllSyntax, Dir: dir, Tests: true, Env: env}, ".")
	if err != nil || packages.PrintErrors(pkgs) > 0 {
		t.Fatalf("loading with tests: %v", err)
	}
	graph, err := analysischecker.Analyze([]*analysis.Analyzer{Analyzer}, pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, act := range graph.Roots {
		for _, d := range act.Diagnostics {
			got = append(got, (&Error{Pos: act.Package.Fset.Position(d.Pos), Msg: d.Message}).Format(dir))
		}
	}
	want := []string{"changes_test.go:5:1: //flamingock:change id=fixture declares no change: it " + whyTestFile +
		"; move the change to a file of the package that every build includes, or delete the directive"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics over the package and its tests (-want +got):\n%s", diff)
	}
}

func TestAnalyzerReportsAStaleRegistry(t *testing.T) {
	dir := tempModule(t, map[string]string{"changes.go": oneChange})
	if err := generate(t, Config{Dir: dir}).Commit(); err != nil {
		t.Fatal(err)
	}
	stale := oneChange + "\n//flamingock:change id=add-email order=2 target=appdb recovery=retry\nfunc AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }\n"
	stale = strings.Replace(stale, "order=1 target=appdb", "order=1 target=appdb author=bob", 1)
	if err := os.WriteFile(filepath.Join(dir, "changes.go"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`changes.go:9:6: change "create-users" differs from its registration in flamingock_gen.go (author bob, registered ): run go generate`,
		`changes.go:12:6: change "add-email" is not in flamingock_gen.go, so it would never run: run go generate`,
	}
	if diff := cmp.Diff(want, analyzeDirs(t, dir, ".")[dir]); diff != "" {
		t.Errorf("analyzer diagnostics (-want +got):\n%s", diff)
	}
	res := generate(t, Config{Dir: dir})
	got, err := res.Stale()
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range got {
		msgs = append(msgs, e.Format(dir))
	}
	want = append(want, "flamingock.ledger: not up to date: run go generate")
	if diff := cmp.Diff(sortedCopy(want), sortedCopy(msgs)); diff != "" {
		t.Errorf("Result.Stale (-want +got):\n%s", diff)
	}
}
