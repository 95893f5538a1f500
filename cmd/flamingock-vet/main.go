// Flamingock-vet reports, as go vet does, what flamingock-gen would refuse
// in a package's //flamingock:change directives, and a flamingock_gen.go
// left stale by a change added, edited or removed without go generate. It
// runs generator.Analyzer.
//
// Install it as a tool of your module and hand it to go vet:
//
//	go get -tool github.com/flamingock/flamingock-go/cmd/flamingock-vet
//	go vet -vettool=$(go tool -n flamingock-vet) ./...
//
// With -vettool, go vet runs this analyzer only: keep running plain go vet
// for the standard checks. Flamingock-vet also runs on its own, as
// flamingock-vet ./... (see flamingock-vet -h for its flags).
//
// It cannot show its diagnostics in an editor: gopls runs the analyzers
// compiled into it and loads no third-party ones. The generated
// flamingock_gen_test.go is what catches a stale registry in go test; this
// command catches it in go vet, without running tests.
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"github.com/flamingock/flamingock-go/generator"
)

func main() { singlechecker.Main(generator.Analyzer) }
