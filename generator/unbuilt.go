package generator

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flamingock/flamingock-go/annotations"
)

// Directives that the build never sees declare nothing: a change in a
// _test.go file or in a file that build constraints exclude is not in the
// registry, so it would never run. Each is reported, saying why.

const (
	whyTestFile = "is in a test file, which the stage never includes"
	whyExcluded = "is in a file that this build excludes (its //go:build line or a _GOOS/_GOARCH file name), and a stage must be the same in every build"
)

// unbuiltDirectives reports the directives in the Go files of dir that
// are not among built (absolute paths): test files and files excluded
// by build constraints. fset records the files it parses.
func unbuiltDirectives(fset *token.FileSet, dir string, built []string) ([]*Error, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var errs []*Error
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if e.IsDir() || !strings.HasSuffix(name, ".go") || name == OutputName || name == TestOutputName || slices.Contains(built, path) {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		// Only comments matter; a file the build skips may not parse.
		f, _ := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
		if f == nil {
			continue
		}
		why := whyExcluded
		if strings.HasSuffix(name, "_test.go") {
			why = whyTestFile
		}
		errs = append(errs, strayDirectives(fset, f, why)...)
	}
	return errs, nil
}

// strayDirectives reports every flamingock directive of f as not a change,
// because of why.
func strayDirectives(fset *token.FileSet, f *ast.File, why string) []*Error {
	var errs []*Error
	for _, cg := range f.Comments {
		for _, cm := range cg.List {
			if _, ok, _ := annotations.ParseSQLComment(cm); ok {
				errs = append(errs, &Error{Pos: fset.Position(cm.Slash), at: cm.Slash, Msg: "this //flamingock:sql says nothing: it " + why + "; move it to a file of the package that every build includes, or delete it"})
				continue
			}
			if _, ok, _ := annotations.ParseYAMLComment(cm); ok {
				errs = append(errs, &Error{Pos: fset.Position(cm.Slash), at: cm.Slash, Msg: "this //flamingock:yaml says nothing: it " + why + "; move it to a file of the package that every build includes, or delete it"})
				continue
			}
			ch, ok, _ := annotations.ParseComment(cm)
			if !ok {
				continue
			}
			what := "this //flamingock:change"
			if ch.ID != "" {
				what = "//flamingock:change id=" + ch.ID
			}
			errs = append(errs, &Error{Pos: fset.Position(cm.Slash), at: cm.Slash, Msg: what + " declares no change: it " + why + "; move the change to a file of the package that every build includes, or delete the directive"})
		}
	}
	return errs
}
