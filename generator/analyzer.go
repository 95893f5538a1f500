package generator

import (
	"path/filepath"

	"golang.org/x/tools/go/analysis"
)

// Analyzer reports the problems that flamingock-gen would report in a
// package's //flamingock:change directives, with the same checks, so that
// go vet -vettool (through a singlechecker or unitchecker main) and gopls
// show them in the editor before go generate runs, and a registry that
// flamingock_gen.go holds but that no longer matches the directives (go
// generate was not run). It does not check the ledger, which is not Go
// source, nor the files a change embeds, and, as analyzers do, it skips
// packages that do not type-check. cmd/flamingock-vet runs it.
var Analyzer = &analysis.Analyzer{
	Name: "flamingock",
	Doc: `check //flamingock:change directives

The flamingock analyzer reports malformed //flamingock:change directives,
directives on declarations that cannot be changes, wrong change and rollback
signatures, duplicate ids and orders, and conflicting targets: what
flamingock-gen (go generate) would refuse. It also reports a change that
flamingock_gen.go does not register as declared: run go generate.`,
	URL: "https://pkg.go.dev/github.com/flamingock/flamingock-go/generator#Analyzer",
	Run: analyze,
}

func analyze(pass *analysis.Pass) (any, error) {
	changes, errs, _ := check(input{
		fset:     pass.Fset,
		files:    pass.Files,
		pkg:      pass.Pkg,
		info:     pass.TypesInfo,
		readFile: pass.ReadFile,
	})
	if len(errs) == 0 {
		// A registry is stale only against valid directives.
		var regs []registered
		generated := false
		for _, f := range pass.Files {
			if filepath.Base(pass.Fset.File(f.FileStart).Name()) == OutputName {
				regs, generated = readRegistry(f), true
			}
		}
		if generated || len(changes) > 0 {
			// An analysis pass reads no embedded file, so the checksum of a
			// change that embeds some is not its whole checksum.
			// Nor the SQL files, whose changes it cannot know.
			errs = staleness(pass.Fset, changes, regs, nil, func(ch *change) bool { return !ch.embeds }, false)
		}
	}
	for _, e := range errs {
		pass.Report(analysis.Diagnostic{Pos: e.at, Message: e.Msg})
	}
	return nil, nil
}
