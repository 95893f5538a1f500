package generator

import (
	"golang.org/x/tools/go/analysis"
)

// Analyzer reports the problems that flamingock-gen would report in a
// package's //flamingock:change directives, with the same checks, so that
// go vet -vettool (through a singlechecker or unitchecker main) and gopls
// show them in the editor before go generate runs. It does not check the
// ledger, which is not Go source, and, as analyzers do, it skips packages
// that do not type-check.
var Analyzer = &analysis.Analyzer{
	Name: "flamingock",
	Doc: `check //flamingock:change directives

The flamingock analyzer reports malformed //flamingock:change directives,
directives on declarations that cannot be changes, wrong change and rollback
signatures, duplicate ids and orders, and conflicting targets: what
flamingock-gen (go generate) would refuse.`,
	URL: "https://pkg.go.dev/github.com/flamingock/flamingock-go/generator#Analyzer",
	Run: analyze,
}

func analyze(pass *analysis.Pass) (any, error) {
	_, errs := check(input{
		fset:     pass.Fset,
		files:    pass.Files,
		pkg:      pass.Pkg,
		info:     pass.TypesInfo,
		readFile: pass.ReadFile,
	})
	for _, e := range errs {
		pass.Report(analysis.Diagnostic{Pos: e.at, Message: e.Msg})
	}
	return nil, nil
}
