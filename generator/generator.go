// Package generator is the engine of flamingock-gen: it loads a Go package,
// validates its //flamingock:change directives (see package annotations),
// and computes the flamingock_gen.go file and the flamingock.ledger file
// that belong beside it.
//
// Generate returns a Result: the files' content, or every problem found, each
// positioned. Nothing is written until Result.Commit; Result.Diff compares
// the result with the files on disk, for a -check mode:
//
//	res, err := generator.Generate(ctx, generator.Config{Dir: "./migrations"})
//	if err != nil {
//		return err // could not run: no package, no go command
//	}
//	for _, e := range res.Errs {
//		fmt.Fprintln(os.Stderr, e.Format(cwd)) // file:line:col: message
//	}
//	if len(res.Errs) == 0 {
//		err = res.Commit()
//	}
//
// The same checks back Analyzer, for go vet and gopls.
package generator

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/diff"
	"golang.org/x/tools/go/packages"

	"github.com/flamingock/flamingock-go/annotations"
)

// File names, in the package directory.
const (
	// OutputName is the generated file.
	OutputName = "flamingock_gen.go"
	// LedgerName is the ledger file: the changes generated before.
	LedgerName = "flamingock.ledger"
)

// Config says which package to generate for, and how.
type Config struct {
	// Dir is the package directory; empty means the current directory.
	Dir string
	// Env is the environment of the go command; nil means os.Environ().
	Env []string
	// BuildFlags are passed to the go command, e.g. -tags=integration.
	BuildFlags []string
	// Stage names the stage in the audit trail; empty means the package
	// name. Renaming a stage whose changes were applied makes them new
	// changes to the runtime, so choose it once.
	Stage string
	// AllowLedgerRewrite permits what the ledger otherwise refuses: removing
	// or renumbering a change generated before, or ordering a new change
	// before one. Use it only for changes that were never applied anywhere.
	AllowLedgerRewrite bool
}

// Result is the outcome of Generate.
type Result struct {
	// PkgPath and PkgName identify the package.
	PkgPath, PkgName string
	// Dir is the package directory (absolute).
	Dir string
	// OutputPath and LedgerPath are where the files belong.
	OutputPath, LedgerPath string
	// Content and Ledger are the files' content. Both are nil when Errs is
	// not empty.
	Content, Ledger []byte
	// Errs are the problems found, sorted by position. Those matching
	// ErrLedger are ledger violations; the others are errors in the package.
	Errs []*Error
}

// Generate loads the package in cfg.Dir and computes its generated files.
// Problems in the package are reported in Result.Errs; the error is for
// failures to run at all (no package, no go command).
func Generate(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Stage != "" && !annotations.ValidID(cfg.Stage) {
		return nil, fmt.Errorf("invalid stage name %q: %s", cfg.Stage, annotations.IDRule)
	}
	dir, err := filepath.Abs(cmp.Or(cfg.Dir, "."))
	if err != nil {
		return nil, err
	}
	res := &Result{
		Dir:        dir,
		OutputPath: filepath.Join(dir, OutputName),
		LedgerPath: filepath.Join(dir, LedgerName),
	}
	pkg, err := load(ctx, cfg, res.OutputPath)
	if err != nil {
		return nil, err
	}
	res.PkgPath, res.PkgName = pkg.PkgPath, pkg.Name
	if res.Errs = packageErrors(pkg); len(res.Errs) > 0 {
		// Type errors make the directives' checks unreliable: report the
		// compiler's view first.
		sortErrors(res.Errs)
		return res, nil
	}

	stage := cmp.Or(cfg.Stage, pkg.Name)
	if !annotations.ValidID(stage) {
		return nil, fmt.Errorf("package name %q is not a valid stage name (%s): choose one with -stage", stage, annotations.IDRule)
	}

	changes, errs := check(input{
		fset:     pkg.Fset,
		files:    pkg.Syntax,
		pkg:      pkg.Types,
		info:     pkg.TypesInfo,
		readFile: os.ReadFile,
	})
	ledger, err := os.ReadFile(res.LedgerPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	entries, ledgerErrs := parseLedger(res.LedgerPath, ledger)
	errs = append(errs, ledgerErrs...)
	if !cfg.AllowLedgerRewrite {
		errs = append(errs, checkLedger(pkg.Fset, res.LedgerPath, entries, changes)...)
	}
	if len(errs) > 0 {
		sortErrors(errs)
		res.Errs = errs
		return res, nil
	}

	res.Content, err = render(pkg.Types, stage, changes)
	if err != nil {
		return nil, err
	}
	res.Ledger = formatLedger(changes)
	return res, nil
}

// loadMode is what validation needs: names, syntax with comments, types.
const loadMode = packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo

// load loads the package in the directory of output without output, so
// that a stale or broken generated file never stops its own regeneration.
//
// It first reads no more of output than its package clause. When the go
// command still trips over output (a broken import block, a foreign package
// clause, merge conflict markers), it loads again with an overlay that
// hides output behind a build constraint. The overlay is the fallback only:
// it makes go/packages type-check every dependency from source.
func load(ctx context.Context, cfg Config, output string) (*packages.Package, error) {
	pkg, err := loadWith(ctx, cfg, output, nil)
	if _, statErr := os.Stat(output); statErr != nil || !mentions(pkg, err, OutputName) {
		return pkg, err
	}
	return loadWith(ctx, cfg, output, map[string][]byte{output: []byte(hidden)})
}

// hidden replaces output in the overlay: the go command skips a file whose
// build constraint is not satisfied, whatever its package clause.
const hidden = "//go:build ignore\n\npackage ignored\n"

func loadWith(ctx context.Context, cfg Config, output string, overlay map[string][]byte) (*packages.Package, error) {
	pcfg := &packages.Config{
		Context:    ctx,
		Mode:       loadMode,
		Dir:        filepath.Dir(output),
		Env:        cfg.Env,
		BuildFlags: cfg.BuildFlags,
		Overlay:    overlay,
		ParseFile: func(fset *token.FileSet, filename string, src []byte) (*ast.File, error) {
			mode := parser.AllErrors | parser.ParseComments | parser.SkipObjectResolution
			if filepath.Base(filename) == OutputName {
				mode = parser.PackageClauseOnly
			}
			return parser.ParseFile(fset, filename, src, mode)
		},
	}
	pkgs, err := packages.Load(pcfg, ".")
	if err != nil {
		return nil, fmt.Errorf("loading the package in %s: %w", pcfg.Dir, err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("loading the package in %s: found %d packages, want 1", pcfg.Dir, len(pkgs))
	}
	pkg := pkgs[0]
	var fatal []string
	for _, e := range pkg.Errors {
		if _, ok := parsePos(e.Pos); !ok && !isCompilerOutput(pkg, e) {
			fatal = append(fatal, e.Msg)
		}
	}
	if len(fatal) > 0 || pkg.Types == nil {
		return pkg, fmt.Errorf("loading the package in %s: %s", pcfg.Dir, strings.Join(fatal, "; "))
	}
	return pkg, nil
}

// mentions reports whether loading failed or found errors because of file.
func mentions(pkg *packages.Package, err error, file string) bool {
	if err != nil && strings.Contains(err.Error(), file) {
		return true
	}
	return pkg != nil && slices.ContainsFunc(pkg.Errors, func(e packages.Error) bool {
		return strings.Contains(e.Pos, file) || !isCompilerOutput(pkg, e) && strings.Contains(e.Msg, file)
	})
}

// isCompilerOutput reports whether e is the go command's report of
// compiling pkg itself (go/packages asks it for export data). The type
// checker reports the same errors, positioned, and knows which to ignore.
func isCompilerOutput(pkg *packages.Package, e packages.Error) bool {
	return e.Kind == packages.ListError && strings.HasPrefix(e.Msg, "# "+pkg.PkgPath+"\n")
}

// packageErrors returns the package's parse and type errors, except those
// that only say the generated names are missing: they are, until this run
// writes them.
func packageErrors(pkg *packages.Package) []*Error {
	var errs []*Error
	for _, e := range pkg.Errors {
		if isCompilerOutput(pkg, e) ||
			e.Kind == packages.TypeError && slices.ContainsFunc(generatedNames, func(n string) bool { return e.Msg == "undefined: "+n }) {
			continue
		}
		pos, _ := parsePos(e.Pos)
		errs = append(errs, &Error{Pos: pos, Msg: e.Msg})
	}
	return errs
}

// Commit writes the generated file and the ledger, each only when its
// content changed. It refuses to write anything when r has problems. Each
// file is written to a temporary file and renamed into place, so a failure
// leaves the previous file whole.
func (r *Result) Commit() error {
	if len(r.Errs) > 0 || r.Content == nil {
		return fmt.Errorf("not writing %s: the package has %d problem(s)", OutputName, len(r.Errs))
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{r.OutputPath, r.Content}, {r.LedgerPath, r.Ledger}} {
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		if err := writeFile(f.path, f.data); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(0o644), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Diff returns a unified diff from the files on disk to the result's, or
// nil when they are up to date. r must have no problems.
func (r *Result) Diff() ([]byte, error) {
	if len(r.Errs) > 0 || r.Content == nil {
		return nil, fmt.Errorf("cannot compare %s: the package has %d problem(s)", OutputName, len(r.Errs))
	}
	var out []byte
	for _, f := range []struct {
		path string
		data []byte
	}{{r.OutputPath, r.Content}, {r.LedgerPath, r.Ledger}} {
		old, err := os.ReadFile(f.path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		name := filepath.Base(f.path)
		out = append(out, diff.Diff(name+" (on disk)", old, name+" (generated)", f.data)...)
	}
	return out, nil
}
