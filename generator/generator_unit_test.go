package generator

import (
	"bytes"
	"context"
	"errors"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tempModule writes files into a new module that requires this checkout,
// and returns its directory.
func tempModule(t *testing.T, files map[string]string) string {
	t.Helper()
	checkout, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// The checkout's go.sum vouches for every module the checkout needs.
	sum, err := os.ReadFile(filepath.Join(checkout, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files["go.mod"] = "module example.com/m\n\ngo 1.26.0\n\nrequire github.com/flamingock/flamingock-go v0.0.0\n\n" +
		"replace github.com/flamingock/flamingock-go => " + checkout + "\n"
	files["go.sum"] = string(sum)
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const oneChange = `package m

import (
	"context"
	"database/sql"
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(ctx context.Context, tx *sql.Tx) error { return nil }
`

func generate(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Generate(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return res
}

func TestGenerateIgnoresABrokenPreviousOutput(t *testing.T) {
	for name, previous := range map[string]string{
		"a stale reference":          "package m\n\nvar _ = RenamedLongAgo\n",
		"a syntax error in the body": "package m\n\nvar _ = RenamedLongAgo {\n",
		"a broken import block":      "package m\n\nimport (\n\t\"fmt\"\n",
		"a foreign package clause":   "package other\n",
		"merge conflict markers":     "<<<<<<< HEAD\npackage m\n=======\n",
		"an empty file":              "",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := tempModule(t, map[string]string{"changes.go": oneChange, OutputName: previous})
			res := generate(t, Config{Dir: dir})
			if len(res.Errs) > 0 {
				t.Fatalf("Generate reported %v; a broken %s must not stop its regeneration", res.Errs, OutputName)
			}
			if !bytes.Contains(res.Content, []byte("= CreateUsers")) {
				t.Errorf("output does not refer to CreateUsers:\n%s", res.Content)
			}
		})
	}
}

func TestCommitWritesTheFilesAndDiffThenFindsNothing(t *testing.T) {
	dir := tempModule(t, map[string]string{"changes.go": oneChange})
	res := generate(t, Config{Dir: dir})
	d, err := res.Diff()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(d, []byte("+++ "+OutputName+" (generated)")) || !bytes.Contains(d, []byte("+++ "+LedgerName+" (generated)")) {
		t.Errorf("Diff before Commit does not show both files as new:\n%s", d)
	}
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{res.OutputPath: res.Content, res.LedgerPath: res.Ledger} {
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s = %q, %v; want the result's content", path, got, err)
		}
	}
	again := generate(t, Config{Dir: dir})
	if d, err := again.Diff(); err != nil || d != nil {
		t.Errorf("Diff after Commit = %q, %v; want nothing", d, err)
	}
}

func TestCommitLeavesUnchangedFilesAlone(t *testing.T) {
	dir := tempModule(t, map[string]string{"changes.go": oneChange})
	res := generate(t, Config{Dir: dir})
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{res.OutputPath, res.LedgerPath} {
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	if err := generate(t, Config{Dir: dir}).Commit(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{res.OutputPath, res.LedgerPath} {
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(past) {
			t.Errorf("%s was rewritten although its content did not change", p)
		}
	}
}

func TestDiffShowsAStaleFile(t *testing.T) {
	dir := tempModule(t, map[string]string{"changes.go": oneChange})
	res := generate(t, Config{Dir: dir})
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	added := oneChange + `
//flamingock:change id=add-email order=2 target=appdb
func AddEmail(ctx context.Context, tx *sql.Tx) error { return nil }
`
	if err := os.WriteFile(filepath.Join(dir, "changes.go"), []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := generate(t, Config{Dir: dir}).Diff()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+\t_ func(context.Context, *sql.Tx) error = AddEmail", "+2 add-email"} {
		if !strings.Contains(string(d), want) {
			t.Errorf("Diff does not contain %q:\n%s", want, d)
		}
	}
}

func TestAResultWithProblemsWritesNothing(t *testing.T) {
	dir := tempModule(t, map[string]string{"changes.go": oneChange + "\n//flamingock:change id=create-users order=2 target=appdb\nfunc Again(ctx context.Context, tx *sql.Tx) error { return nil }\n"})
	res := generate(t, Config{Dir: dir})
	if len(res.Errs) != 1 || res.Content != nil || res.Ledger != nil {
		t.Fatalf("Generate = %d errors, content %v; want the duplicate id and no content", len(res.Errs), res.Content != nil)
	}
	if err := res.Commit(); err == nil {
		t.Error("Commit succeeded with problems")
	}
	if _, err := res.Diff(); err == nil {
		t.Error("Diff succeeded with problems")
	}
	for _, p := range []string{res.OutputPath, res.LedgerPath} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a refused Commit (%v)", p, err)
		}
	}
}

func TestGenerateRejectsAnInvalidStageName(t *testing.T) {
	dir := tempModule(t, map[string]string{"changes.go": oneChange})
	_, err := Generate(context.Background(), Config{Dir: dir, Stage: "my stage"})
	if err == nil || !strings.Contains(err.Error(), `invalid stage name "my stage"`) {
		t.Errorf("Generate error = %v, want an invalid stage name", err)
	}
}

func TestGenerateFailsToRunWithoutAPackage(t *testing.T) {
	dir := tempModule(t, map[string]string{})
	if _, err := Generate(context.Background(), Config{Dir: dir}); err == nil {
		t.Error("Generate succeeded in a directory without Go files")
	}
}

func TestLedgerViolationsMatchErrLedger(t *testing.T) {
	dir := tempModule(t, map[string]string{
		"changes.go": oneChange,
		LedgerName:   ledgerHeader + "\n1 create-users\n2 dropped\n",
	})
	res := generate(t, Config{Dir: dir})
	if len(res.Errs) != 1 || !errors.Is(res.Errs[0], ErrLedger) {
		t.Fatalf("Errs = %v, want one ledger violation", res.Errs)
	}
	allowed := generate(t, Config{Dir: dir, AllowLedgerRewrite: true})
	if len(allowed.Errs) != 0 || !strings.Contains(string(allowed.Ledger), "\nstage m\n1 create-users ") || strings.Contains(string(allowed.Ledger), "dropped") {
		t.Errorf("with AllowLedgerRewrite: Errs %v, ledger %q; want the ledger rewritten", allowed.Errs, allowed.Ledger)
	}
}

func TestChecksumIgnoresCommentsAndLayoutButNotCode(t *testing.T) {
	const base = `package m

func F(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "CREATE TABLE t (id INT)", 1, 2)
	return err
}
`
	sum := func(src string) string {
		t.Helper()
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "x.go", src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		c := &checker{input: input{fset: fset, info: &types.Info{}, readFile: func(string) ([]byte, error) { return []byte(src), nil }}}
		s, _, err := c.checksum(f.Decls[0])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := sum(base)
	same := map[string]string{
		"doc and inner comments": `package m

// F does things.
//
//flamingock:change id=a order=1 target=t
func F(ctx context.Context, tx *sql.Tx) error {
	// create it
	_, err := tx.ExecContext(ctx, "CREATE TABLE t (id INT)", 1, 2) // trailing
	return err /* block */
}
`,
		"arguments split over lines": `package m

func F(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(
		ctx,
		"CREATE TABLE t (id INT)",
		1, 2,
	)
	return err
}
`,
		"explicit semicolons on one line": `package m

func F(ctx context.Context, tx *sql.Tx) error { _, err := tx.ExecContext(ctx, "CREATE TABLE t (id INT)", 1, 2); return err }
`,
	}
	for name, src := range same {
		if got := sum(src); got != want {
			t.Errorf("%s: checksum changed", name)
		}
	}
	different := map[string]string{
		"another statement": strings.Replace(base, "INT)", "BIGINT)", 1),
		"another parameter": strings.Replace(base, "tx *sql.Tx", "tx *sql.Conn", 1),
		"another name":      strings.Replace(base, "func F", "func G", 1),
	}
	for name, src := range different {
		if got := sum(src); got == want {
			t.Errorf("%s: checksum did not change", name)
		}
	}
}

func TestDepsAreNamedAfterTheirTypesWithoutClashes(t *testing.T) {
	named := func(path, name string) *types.Named {
		pkg := types.NewPackage(path, filepath.Base(path))
		return types.NewNamed(types.NewTypeName(token.NoPos, pkg, name, nil), types.NewStruct(nil, nil), nil)
	}
	slogLogger := named("log/slog", "Logger")
	zapLogger := named("go.uber.org/zap", "Logger")
	config := named("example.com/m", "config")
	deps := []dep{
		{typ: types.NewPointer(slogLogger)},
		{typ: slogLogger},
		{typ: types.NewPointer(zapLogger)},
		{typ: config},
	}
	nameDeps(deps)
	var got []string
	for _, d := range deps {
		got = append(got, d.field)
	}
	want := []string{"Config", "SlogLogger", "SlogLoggerPtr", "ZapLogger"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("field names (-want +got):\n%s", diff)
	}
}

// Adding a dependency must not rename the fields applications already set:
// the fields the ledger records are kept, and new ones named around them.
func TestDepsKeepTheFieldsTheLedgerRecords(t *testing.T) {
	named := func(path, name string) *types.Named {
		pkg := types.NewPackage(path, filepath.Base(path))
		return types.NewNamed(types.NewTypeName(token.NoPos, pkg, name, nil), types.NewStruct(nil, nil), nil)
	}
	slogLogger := types.NewPointer(named("log/slog", "Logger"))
	zapLogger := types.NewPointer(named("go.uber.org/zap", "Logger"))
	otherZap := types.NewPointer(named("example.com/zap", "Logger"))
	deps := []dep{
		{typ: slogLogger, field: "Logger"}, // generated when it was the only one
		{typ: zapLogger},
		{typ: otherZap},
	}
	nameDeps(deps)
	got := map[string]string{}
	for _, d := range deps {
		got[depKey(d.typ)] = d.field
	}
	want := map[string]string{
		"*log/slog.Logger":        "Logger",
		"*go.uber.org/zap.Logger": "ZapLoggerPtr1",
		"*example.com/zap.Logger": "ZapLoggerPtr2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("field names (-want +got):\n%s", diff)
	}
}

func TestErrorFormatIsRelativeInsideTheDirectory(t *testing.T) {
	e := &Error{Pos: token.Position{Filename: "/work/p/changes.go", Line: 3, Column: 7}, Msg: "boom"}
	tests := []struct{ dir, want string }{
		{"/work/p", "changes.go:3:7: boom"},
		{"/work", "p/changes.go:3:7: boom"},
		{"/elsewhere", "/work/p/changes.go:3:7: boom"},
		{"", "/work/p/changes.go:3:7: boom"},
	}
	for _, tt := range tests {
		if got := e.Format(tt.dir); got != tt.want {
			t.Errorf("Format(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
	if got := (&Error{Msg: "no position"}).Error(); got != "no position" {
		t.Errorf("Error() without position = %q", got)
	}
}

func TestParsePosReadsGoPackagesPositions(t *testing.T) {
	tests := []struct {
		in   string
		want token.Position
		ok   bool
	}{
		{"/a/b.go:3:4", token.Position{Filename: "/a/b.go", Line: 3, Column: 4}, true},
		{"/a/b.go:3", token.Position{Filename: "/a/b.go", Line: 3}, true},
		{"/a/b.go", token.Position{}, false},
		{"-", token.Position{}, false},
		{"", token.Position{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePos(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parsePos(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAddingADependencyKeepsTheFieldsOfTheOthers(t *testing.T) {
	const first = `package m

import (
	"context"
	"database/sql"
	"log/slog"
)

//flamingock:change id=a order=1 target=appdb
func A(ctx context.Context, tx *sql.Tx, log *slog.Logger) error { return nil }
`
	dir := tempModule(t, map[string]string{"changes.go": first, "zap/zap.go": "package zap\n\ntype Logger struct{}\n"})
	if err := generate(t, Config{Dir: dir}).Commit(); err != nil {
		t.Fatal(err)
	}
	second := strings.Replace(first, `"log/slog"`, `"log/slog"

	"example.com/m/zap"`, 1) + `
//flamingock:change id=b order=2 target=appdb
func B(ctx context.Context, tx *sql.Tx, log *zap.Logger) error { return nil }
`
	if err := os.WriteFile(filepath.Join(dir, "changes.go"), []byte(second), 0o644); err != nil {
		t.Fatal(err)
	}
	res := generate(t, Config{Dir: dir})
	if len(res.Errs) > 0 {
		t.Fatal(res.Errs)
	}
	for _, want := range []string{"\tLogger *slog.Logger\n", "\tZapLogger *zap.Logger\n"} {
		if !bytes.Contains(res.Content, []byte(want)) {
			t.Errorf("Deps has no field %q:\n%s", want, res.Content)
		}
	}
}
