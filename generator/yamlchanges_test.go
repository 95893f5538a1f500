package generator

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const yamlPackage = `package m

//flamingock:yaml target=appdb
`

const yamlFile = "steps:\n  - insert: {collection: users, documents: [{a: 1}]}\n"

// yamlModule is tempModule for a package of YAML changes: its generated
// file imports the MongoDB driver, so the module requires it, at the
// versions the golden cases' module (../testdata/go.mod) requires.
func yamlModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := tempModule(t, files)
	data, err := os.ReadFile(filepath.Join(testdata, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var reqs []string
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(line, "\t") && !strings.Contains(f[0], "flamingock-go") && !strings.Contains(f[0], "pgx") && !strings.Contains(f[0], "jackc") {
			reqs = append(reqs, "\t"+f[0]+" "+f[1]+"\n")
		}
	}
	mod := filepath.Join(dir, "go.mod")
	old, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	write(t, mod, string(old)+"\nrequire (\n"+strings.Join(reqs, "")+")\n")
	return dir
}

func TestAStaleRegistryNamesTheYAMLFile(t *testing.T) {
	tests := []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"a YAML file added without go generate", func(dir string) {
			write(t, filepath.Join(dir, "0003_more.yaml"), yamlFile)
		}, `0003_more.yaml:1:1: change "0003_more" is not in flamingock_gen.go, so it would never run: run go generate`},
		{"a YAML file edited without go generate", func(dir string) {
			write(t, filepath.Join(dir, "0002_seed.yaml"), yamlFile+"# a comment\n")
		}, `0002_seed.yaml:1:1: change "0002_seed" was edited since it was generated`},
		{"a YAML file removed without go generate", func(dir string) {
			os.Remove(filepath.Join(dir, "0002_seed.yaml"))
		}, `flamingock.ledger:3:1: change "0002_seed" (order 2) was generated before and is no longer declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := yamlModule(t, map[string]string{"changes.go": yamlPackage, "0002_seed.yaml": yamlFile})
			got := staleAfter(t, dir, func() { tt.edit(dir) })
			if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, tt.want) }) {
				t.Errorf("got %q, want a problem starting %q", got, tt.want)
			}
		})
	}
}

func TestARegistryOfARemovedYAMLFileNamesIt(t *testing.T) {
	dir := yamlModule(t, map[string]string{"changes.go": yamlPackage, "0002_seed.yaml": yamlFile})
	got := staleAfter(t, dir, func() {
		os.Remove(filepath.Join(dir, "0002_seed.yaml"))
		os.Remove(filepath.Join(dir, LedgerName))
	})
	want := `flamingock_gen.go registers change "0002_seed" of 0002_seed.yaml:2, which is no longer declared (its YAML file was removed or renamed): run go generate`
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasSuffix(s, want) }) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAnUndoListAddedToAYAMLFileIsARollbackRegisteredNone(t *testing.T) {
	dir := yamlModule(t, map[string]string{"changes.go": yamlPackage, "0002_seed.yaml": yamlFile})
	got := staleAfter(t, dir, func() {
		write(t, filepath.Join(dir, "0002_seed.yaml"), yamlFile+"undo:\n  - delete: {collection: users, filter: {a: 1}}\n")
		os.Remove(filepath.Join(dir, LedgerName))
	})
	want := `0002_seed.yaml:1:1: change "0002_seed" differs from its registration in flamingock_gen.go (a rollback, registered none; its YAML file): run go generate`
	if !slices.Contains(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAnalyzerAcceptsAGeneratedYAMLPackage(t *testing.T) {
	dir := yamlModule(t, map[string]string{"changes.go": yamlPackage, "0002_seed.yaml": yamlFile})
	if err := generate(t, Config{Dir: dir}).Commit(); err != nil {
		t.Fatal(err)
	}
	got := analyzeDirs(t, dir, ".")
	if len(got) != 1 || len(got[dir]) > 0 {
		t.Errorf("analyzer reported problems in a freshly generated YAML package: %q", got)
	}
}

func TestADotOrUnderscoreYAMLFileIsLeftAlone(t *testing.T) {
	dir := yamlModule(t, map[string]string{"changes.go": yamlPackage, "0002_seed.yaml": yamlFile,
		".golangci.yml": "linters: {}\n", "_draft.yaml": "not: a change\n"})
	res := generate(t, Config{Dir: dir})
	if len(res.Errs) > 0 {
		t.Fatalf("Generate: %v", res.Errs)
	}
	if n := strings.Count(string(res.Content), "//go:embed "); n != 1 {
		t.Errorf("%d files embedded, want 1 (0002_seed.yaml)", n)
	}
}

func TestTheYAMLDirectiveWithoutFilesIsAWarning(t *testing.T) {
	dir := yamlModule(t, map[string]string{"changes.go": strings.Replace(oneChange, "package m\n", yamlPackage, 1)})
	res := generate(t, Config{Dir: dir})
	if len(res.Errs) > 0 {
		t.Fatalf("Generate: %v", res.Errs)
	}
	var got []string
	for _, w := range res.Warnings {
		got = append(got, w.FormatWarning(dir))
	}
	want := "changes.go:3:1: warning: //flamingock:yaml, but the package directory holds no .yaml file"
	if !slices.Contains(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}
