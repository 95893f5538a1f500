package generator

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/tools/go/packages"
)

// errSlowPath says that fastLoad cannot load the package and the caller
// must load it with go/packages: a package with cgo, a go command that
// fails, a file that does not parse.
var errSlowPath = errors.New("load with go/packages")

// listed is what `go list -json` says of a package.
type listed struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	EmbedFiles []string
	Imports    []string
	ImportMap  map[string]string
	Export     string
	Module     *struct{ GoVersion string }
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

// fastLoad loads the package in the directory of output as load does,
// without what go/packages does for NeedTypes: `go list -export -deps`
// compiles the package itself for export data the generator never uses,
// then type-checks it again from source, so that a regeneration after an
// edit cost several times `go vet`. Here the package is listed without
// -export, only its imports are listed with it (their export data is in
// the build cache), and the package is type-checked once, from source.
//
// output is parsed for its package clause only, as in loadWith, so that a
// stale generated file never stops its own regeneration. Any case this
// path does not handle returns errSlowPath.
func fastLoad(ctx context.Context, cfg Config, output string) (*packages.Package, error) {
	dir := filepath.Dir(output)
	p, ok := buildList(cfg, dir)
	if !ok {
		var root []listed
		if err := goList(ctx, cfg, dir, false, []string{"."}, &root); err != nil || len(root) != 1 {
			return nil, errSlowPath
		}
		p = root[0]
	}
	if p.Error != nil || len(p.DepsErrors) > 0 || len(p.CgoFiles) > 0 || p.Name == "" {
		return nil, errSlowPath
	}
	exports := map[string]string{}
	if len(p.Imports) > 0 {
		var deps []listed
		if err := goList(ctx, cfg, dir, true, p.Imports, &deps); err != nil {
			return nil, errSlowPath
		}
		for _, d := range deps {
			if d.Error != nil || d.Export == "" && d.ImportPath != "unsafe" {
				return nil, errSlowPath
			}
			exports[d.ImportPath] = d.Export
		}
	}

	fset := token.NewFileSet()
	pkg := &packages.Package{ID: p.ImportPath, Name: p.Name, PkgPath: p.ImportPath, Fset: fset}
	for _, f := range p.GoFiles {
		pkg.GoFiles = append(pkg.GoFiles, filepath.Join(p.Dir, f))
	}
	for _, f := range p.EmbedFiles {
		pkg.EmbedFiles = append(pkg.EmbedFiles, filepath.Join(p.Dir, f))
	}
	for _, name := range pkg.GoFiles {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, errSlowPath
		}
		mode := parser.AllErrors | parser.ParseComments | parser.SkipObjectResolution
		if filepath.Base(name) == OutputName {
			mode = parser.PackageClauseOnly
		}
		f, err := parser.ParseFile(fset, name, src, mode)
		if err != nil {
			return nil, errSlowPath // go/packages reports syntax errors as it always has
		}
		pkg.Syntax = append(pkg.Syntax, f)
	}

	lookup := func(path string) (io.ReadCloser, error) {
		if mapped, ok := p.ImportMap[path]; ok {
			path = mapped
		}
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(file)
	}
	pkg.TypesInfo = &types.Info{
		Types:        map[ast.Expr]types.TypeAndValue{},
		Instances:    map[*ast.Ident]types.Instance{},
		Defs:         map[*ast.Ident]types.Object{},
		Uses:         map[*ast.Ident]types.Object{},
		Implicits:    map[ast.Node]types.Object{},
		Selections:   map[*ast.SelectorExpr]*types.Selection{},
		Scopes:       map[ast.Node]*types.Scope{},
		FileVersions: map[*ast.File]string{},
	}
	tc := &types.Config{
		Importer: importer.ForCompiler(fset, "gc", lookup),
		Sizes:    types.SizesFor("gc", runtime.GOARCH),
		Error: func(err error) {
			var te types.Error
			if errors.As(err, &te) {
				pkg.Errors = append(pkg.Errors, packages.Error{Pos: te.Fset.Position(te.Pos).String(), Msg: te.Msg, Kind: packages.TypeError})
			}
		},
	}
	if p.Module != nil && p.Module.GoVersion != "" {
		tc.GoVersion = "go" + p.Module.GoVersion // the language version go/packages checks with
	}
	pkg.Types, _ = tc.Check(p.ImportPath, fset, pkg.Syntax, pkg.TypesInfo)
	return pkg, nil
}

// buildList lists the package in dir as `go list` would, with go/build
// and the module's go.mod instead of a go command (one process fewer,
// 50-90 ms of a regeneration), when nothing can make the two differ: no
// build flags or GOFLAGS, no cgo, and no //go:embed outside the generated
// file (go list resolves the patterns). Otherwise ok is false.
func buildList(cfg Config, dir string) (p listed, ok bool) {
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	getenv := func(key string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if k, v, _ := strings.Cut(env[i], "="); k == key {
				return v
			}
		}
		return ""
	}
	if len(cfg.BuildFlags) > 0 || getenv("GOFLAGS") != "" || getenv("GO111MODULE") == "off" {
		return listed{}, false
	}
	ctxt := build.Default
	ctxt.GOOS = cmp.Or(getenv("GOOS"), runtime.GOOS)
	ctxt.GOARCH = cmp.Or(getenv("GOARCH"), runtime.GOARCH)
	bp, err := ctxt.ImportDir(dir, 0)
	if err != nil || len(bp.CgoFiles) > 0 {
		return listed{}, false
	}
	for _, pos := range bp.EmbedPatternPos {
		for _, at := range pos {
			if filepath.Base(at.Filename) != OutputName {
				return listed{}, false
			}
		}
	}
	modDir, data := dir, []byte(nil)
	for {
		if data, err = os.ReadFile(filepath.Join(modDir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(modDir)
		if parent == modDir || !errors.Is(err, fs.ErrNotExist) {
			return listed{}, false
		}
		modDir = parent
	}
	mod, err := modfile.ParseLax(filepath.Join(modDir, "go.mod"), data, nil)
	if err != nil || mod.Module == nil {
		return listed{}, false
	}
	rel, err := filepath.Rel(modDir, dir)
	if err != nil {
		return listed{}, false
	}
	p = listed{ImportPath: path.Join(mod.Module.Mod.Path, filepath.ToSlash(rel)), Name: bp.Name, Dir: dir, GoFiles: bp.GoFiles, Imports: bp.Imports}
	if mod.Go != nil {
		p.Module = &struct{ GoVersion string }{mod.Go.Version}
	}
	return p, true
}

// goList runs `go list -json` (with -export -deps when export is set) on
// patterns in dir and decodes what it prints into out.
func goList(ctx context.Context, cfg Config, dir string, export bool, patterns []string, out *[]listed) error {
	args := []string{"list", "-e", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles,EmbedFiles,Imports,ImportMap,Export,Module,Error,DepsErrors"}
	if export {
		args = append(args, "-export", "-deps")
	}
	args = append(append(args, cfg.BuildFlags...), "--")
	args = append(args, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = cfg.Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go list: %w: %s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var l listed
		if err := dec.Decode(&l); err != nil {
			return err
		}
		*out = append(*out, l)
	}
	return nil
}
