// Package gencheck fails a package's tests while its flamingock-gen output
// is stale. flamingock-gen writes flamingock_gen_test.go, which calls
// UpToDate, beside the registry it generates:
//
//	func TestFlamingockGenerated(t *testing.T) { gencheck.UpToDate(t) }
//
// so that a //flamingock:change added, edited or removed without running
// go generate fails go test ./..., naming the change, instead of building,
// passing and never running. It needs the go command, as go generate does.
package gencheck

import (
	"os"
	"os/exec"
	"testing"

	"github.com/flamingock/flamingock-go/generator"
)

// UpToDate fails t, one error per problem, unless the generated files of
// the package in the current directory (where go test runs a package's
// tests) are what flamingock-gen would write now: every change registered
// as declared, and nothing the ledger refuses. It skips t when there is no
// go command to load the package with.
func UpToDate(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("cannot check that flamingock_gen.go is up to date: %v", err)
	}
	res, err := generator.Generate(t.Context(), generator.Config{})
	if err != nil {
		t.Fatalf("flamingock-gen cannot check the package: %v", err)
	}
	dir, err := os.Getwd()
	if err != nil {
		dir = ""
	}
	for _, e := range res.Errs {
		t.Error(e.Format(dir))
	}
	if len(res.Errs) > 0 {
		return
	}
	stale, err := res.Stale()
	if err != nil {
		t.Fatalf("flamingock-gen cannot compare the generated files: %v", err)
	}
	for _, e := range stale {
		t.Error(e.Format(dir))
	}
}
