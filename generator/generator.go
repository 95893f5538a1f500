// Package generator is the engine of flamingock-gen: it loads a Go package,
// validates its //flamingock:change directives (see package annotations),
// checks them against the ledger of what was generated before, and computes
// the files that belong beside them: flamingock_gen.go (the registry),
// flamingock.ledger and flamingock_gen_test.go (which fails the package's
// tests while the others are stale; see package gencheck).
//
// Generate returns a Result: the files' content, or every problem found, each
// positioned. Nothing is written until Result.Commit; Result.Stale and
// Result.Diff compare the result with the files on disk, for a -check mode:
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
// The same checks back Analyzer, for go vet (cmd/flamingock-vet).
//
// The files follow the phases, as wire's parse → analyze → gen: this file
// loads the package and returns the Result; analyze.go turns directives
// into validated changes (embed.go: what their checksums cover; unbuilt.go:
// directives the build never sees; sqlchanges.go: the package's SQL files,
// under its //flamingock:sql directive, read by package sqlfiles;
// yamlchanges.go: its MongoDB steps files, under //flamingock:yaml, parsed
// by package runtime/mongosteps); ledger.go checks them against what was
// generated before; render.go writes the registry (registry.go reads it
// back); types.go and names.go hold the type writing and the naming that
// analysis and rendering share.
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
	"github.com/flamingock/flamingock-go/audit"
)

// File names, in the package directory.
const (
	// OutputName is the generated file.
	OutputName = "flamingock_gen.go"
	// LedgerName is the ledger file: the changes generated before.
	LedgerName = "flamingock.ledger"
	// TestOutputName is the generated test that fails the package's tests
	// while the generated files are stale.
	TestOutputName = "flamingock_gen_test.go"
)

// Config says which package to generate for, and how.
type Config struct {
	// Dir is the package directory; empty means the current directory.
	Dir string
	// Env is the environment of the go command; nil means os.Environ().
	Env []string
	// BuildFlags are passed to the go command, e.g. -tags=integration.
	BuildFlags []string
	// Stage names the stage in the audit trail. The first generation
	// records it in the ledger (empty means the package name), and later
	// generations keep the recorded name whatever the package is called:
	// the stage is part of every change's identity in the trail. A Stage
	// other than the recorded one is refused unless RenameStage is set.
	Stage string
	// RenameStage permits Stage to replace the name the ledger records.
	// Every environment that ran the stage under its recorded name then
	// refuses to start (its trail holds the changes under the old name), so
	// rename only a stage that never ran anywhere.
	RenameStage bool
	// AllowLedgerRewrite permits what the ledger otherwise refuses: removing
	// or renumbering a change generated before, or ordering a new change
	// before one. Use it only for changes that were never applied anywhere;
	// Unreleased says so of one change at a time. It does not accept edits.
	AllowLedgerRewrite bool
	// Cosmetic lists the ids of changes whose edit does not change what they
	// do (a renamed variable, a fixed comment in an embedded SQL file): the
	// ledger records the new checksum and keeps the old one as equivalent,
	// so that environments that applied the earlier version do not report
	// the change as edited.
	Cosmetic []string
	// Unreleased lists the ids of changes that never ran anywhere: the
	// ledger forgets what it recorded of them, so they may be edited,
	// renumbered or removed like changes not generated yet.
	Unreleased []string
}

// Result is the outcome of Generate.
type Result struct {
	// PkgPath and PkgName identify the package.
	PkgPath, PkgName string
	// Dir is the package directory (absolute).
	Dir string
	// OutputPath, LedgerPath and TestPath are where the files belong.
	OutputPath, LedgerPath, TestPath string
	// Content, Ledger and Test are the files' content: the registry, the
	// ledger and the test that fails while they are stale. All are nil when
	// Errs is not empty.
	Content, Ledger, Test []byte
	// Errs are the problems found, sorted by position. Those matching
	// ErrLedger are ledger violations; the others are errors in the package.
	Errs []*Error
	// Warnings say what the generation did that is not an error but must
	// be seen: a renamed stage, an edit recorded as cosmetic. They come with
	// Content as well as with Errs.
	Warnings []*Error

	// What Stale compares the files on disk with.
	fset       *token.FileSet
	changes    []*change
	equivalent map[string][]string
}

// Generate loads the package in cfg.Dir and computes its generated files.
// Problems in the package are reported in Result.Errs; the error is for
// failures to run at all (no package, no go command).
func Generate(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Stage != "" && (!annotations.ValidID(cfg.Stage) || len(cfg.Stage) > audit.MaxIDLen) {
		return nil, fmt.Errorf("invalid stage name %q: %s, at most %d bytes", cfg.Stage, annotations.IDRule, audit.MaxIDLen)
	}
	if cfg.RenameStage && cfg.Stage == "" {
		return nil, errors.New("renaming the stage needs the new name: -stage NAME -rename-stage")
	}
	dir, err := filepath.Abs(cmp.Or(cfg.Dir, "."))
	if err != nil {
		return nil, err
	}
	res := &Result{
		Dir:        dir,
		OutputPath: filepath.Join(dir, OutputName),
		LedgerPath: filepath.Join(dir, LedgerName),
		TestPath:   filepath.Join(dir, TestOutputName),
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

	ledgerData, err := os.ReadFile(res.LedgerPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	led, errs := parseLedger(res.LedgerPath, ledgerData)
	stage, stageErr, warning := resolveStage(cfg, pkg.Name, res.LedgerPath, led)
	if stageErr != nil {
		errs = append(errs, stageErr)
	}
	if warning != nil {
		res.Warnings = append(res.Warnings, warning)
	}

	changes, checkErrs, checkWarnings := check(input{
		fset:       pkg.Fset,
		files:      pkg.Syntax,
		pkg:        pkg.Types,
		info:       pkg.TypesInfo,
		readFile:   os.ReadFile,
		dir:        dir,
		embedFiles: pkg.EmbedFiles,
	})
	errs = append(errs, checkErrs...)
	res.Warnings = append(res.Warnings, checkWarnings...)
	unbuilt, err := unbuiltDirectives(pkg.Fset, dir, pkg.GoFiles)
	if err != nil {
		return nil, fmt.Errorf("reading the package directory: %w", err)
	}
	errs = append(errs, unbuilt...)
	rc := reconcile(pkg.Fset, res.LedgerPath, led, changes, policy{
		rewrite:    cfg.AllowLedgerRewrite,
		cosmetic:   set(cfg.Cosmetic),
		unreleased: set(cfg.Unreleased),
	})
	errs = append(errs, rc.errs...)
	res.Warnings = append(res.Warnings, rc.warnings...)
	sortErrors(res.Warnings)
	if len(errs) > 0 {
		sortErrors(errs)
		res.Errs = errs
		return res, nil
	}

	m := model{stage: stage, changes: changes, deps: depsOf(changes, led.deps), equivalent: rc.cosmetic}
	res.Content, err = render(pkg.Types, m)
	if err != nil {
		return nil, err
	}
	res.Ledger = formatLedger(m)
	if res.Test, err = renderTest(pkg.Name); err != nil {
		return nil, err
	}
	res.fset, res.changes, res.equivalent = pkg.Fset, changes, rc.cosmetic
	return res, nil
}

// model is what analysis found and the ledger allows: what render and
// formatLedger write.
type model struct {
	stage   string
	changes []*change // sorted by order
	deps    []dep     // sorted by field
	// equivalent holds, by change id, the checksums of earlier versions
	// that the ledger records as cosmetic edits.
	equivalent map[string][]string
}

// resolveStage returns the stage's name: the one the ledger records, or
// for a first generation cfg.Stage (validated by Generate) or the package
// name. A cfg.Stage that would rename a recorded stage is an error unless
// cfg.RenameStage, and then a warning.
func resolveStage(cfg Config, pkgName, path string, led ledger) (stage string, _, warning *Error) {
	pos := token.Position{Filename: path, Line: led.stageLine, Column: 1}
	switch {
	case led.stage == "" && cfg.Stage != "":
		return cfg.Stage, nil, nil
	case led.stage == "":
		if !annotations.ValidID(pkgName) || len(pkgName) > audit.MaxIDLen {
			return pkgName, &Error{Msg: fmt.Sprintf("package name %q is not a valid stage name (%s, at most %d bytes): choose one with -stage", pkgName, annotations.IDRule, audit.MaxIDLen)}, nil
		}
		return pkgName, nil, nil
	case cfg.Stage == "" || cfg.Stage == led.stage:
		return led.stage, nil, nil
	case !cfg.RenameStage:
		return led.stage, &Error{Pos: pos, Err: ErrLedger, Msg: fmt.Sprintf(
			"stage %q was recorded when this package was first generated, and -stage %s would rename it: the audit trail keys every change by its stage, so environments that ran it would take its changes for new ones; "+
				"drop -stage to keep the name, or rename a stage that never ran anywhere with -stage %s -rename-stage", led.stage, cfg.Stage, cfg.Stage)}, nil
	}
	return cfg.Stage, nil, &Error{Pos: pos, Msg: fmt.Sprintf(
		"stage renamed from %q to %q: every environment that ran stage %q keeps its changes under that name and will refuse to start; rename only a stage that never ran anywhere",
		led.stage, cfg.Stage, led.stage)}
}

// set returns the elements of list as a set.
func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// loadMode is what validation needs: names, syntax with comments, types,
// and the embedded files that checksums cover.
const loadMode = packages.NeedName | packages.NeedFiles | packages.NeedEmbedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo

// load loads the package in the directory of output without output, so
// that a stale or broken generated file never stops its own regeneration.
//
// It loads with fastLoad when it can, else with go/packages, which first
// reads no more of output than its package clause. When the go
// command still trips over output (a broken import block, a foreign package
// clause, merge conflict markers), it loads again with an overlay that
// hides output behind a build constraint. The overlay is the fallback only:
// it makes go/packages type-check every dependency from source.
func load(ctx context.Context, cfg Config, output string) (*packages.Package, error) {
	if pkg, err := fastLoad(ctx, cfg, output); !errors.Is(err, errSlowPath) {
		return pkg, err
	}
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
	for _, f := range r.files() {
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		if err := writeFile(f.path, f.data); err != nil {
			return err
		}
	}
	return nil
}

// file is one file of a Result.
type file struct {
	path string
	data []byte
}

// files returns the files that r writes.
func (r *Result) files() []file {
	return []file{{r.OutputPath, r.Content}, {r.LedgerPath, r.Ledger}, {r.TestPath, r.Test}}
}

// Stale compares the files on disk with r and returns a problem for each
// difference, each saying to run go generate: a change that
// flamingock_gen.go does not register (or registers differently, or that is
// no longer declared), positioned at the change, and a file that is missing
// or differs. It returns nil when the files are up to date. r must have no
// problems.
func (r *Result) Stale() ([]*Error, error) {
	if len(r.Errs) > 0 || r.Content == nil {
		return nil, fmt.Errorf("cannot compare %s: the package has %d problem(s)", OutputName, len(r.Errs))
	}
	var errs []*Error
	disk, err := os.ReadFile(r.OutputPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []*Error{{Pos: token.Position{Filename: r.OutputPath}, Msg: "missing: run go generate"}}, nil
	case err != nil:
		return nil, err
	}
	if !bytes.Equal(disk, r.Content) {
		f, err := parser.ParseFile(r.fset, r.OutputPath, disk, parser.SkipObjectResolution)
		if err != nil {
			return []*Error{{Pos: token.Position{Filename: r.OutputPath}, Msg: fmt.Sprintf("does not parse (%v): run go generate", err)}}, nil
		}
		errs = staleness(r.fset, r.changes, readRegistry(f), r.equivalent, func(*change) bool { return true }, true)
		if len(errs) == 0 {
			errs = append(errs, &Error{Pos: token.Position{Filename: r.OutputPath}, Msg: "differs from what flamingock-gen writes for the package: run go generate"})
		}
	}
	for _, f := range r.files()[1:] {
		old, err := os.ReadFile(f.path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		switch {
		case err != nil:
			errs = append(errs, &Error{Pos: token.Position{Filename: f.path}, Msg: "missing: run go generate"})
		case !bytes.Equal(old, f.data):
			errs = append(errs, &Error{Pos: token.Position{Filename: f.path}, Msg: "not up to date: run go generate"})
		}
	}
	sortErrors(errs)
	return errs, nil
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
	for _, f := range r.files() {
		old, err := os.ReadFile(f.path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		name := filepath.Base(f.path)
		out = append(out, diff.Diff(name+" (on disk)", old, name+" (generated)", f.data)...)
	}
	return out, nil
}
