package generator

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFastLoadAgreesWithGoPackages: for every golden case the fast loader
// takes, it finds what go/packages finds (the same package, files, embedded
// files, problems, and a declaration for every identifier go/packages
// declares), so that skipping `go list -export` of the package itself
// changes what flamingock-gen sees in nothing.
func TestFastLoadAgreesWithGoPackages(t *testing.T) {
	root, cases := goldenCases(t)
	fast := 0
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			output := filepath.Join(root, c, OutputName)
			got, err := fastLoad(context.Background(), Config{}, output)
			if errors.Is(err, errSlowPath) {
				t.Skip("the fast loader leaves this package to go/packages")
			}
			if err != nil {
				t.Fatal(err)
			}
			fast++
			want, err := loadWith(context.Background(), Config{}, output, nil)
			if err != nil && want == nil {
				t.Fatalf("go/packages: %v", err)
			}
			if diff := cmp.Diff(
				[]any{want.Name, want.PkgPath, want.GoFiles, want.EmbedFiles, errorTexts(packageErrors(want))},
				[]any{got.Name, got.PkgPath, got.GoFiles, got.EmbedFiles, errorTexts(packageErrors(got))}); diff != "" {
				t.Errorf("fast load differs from go/packages (-want +got):\n%s", diff)
			}
			if len(got.TypesInfo.Defs) != len(want.TypesInfo.Defs) || len(got.TypesInfo.Uses) != len(want.TypesInfo.Uses) {
				t.Errorf("declarations and uses: fast %d/%d, go/packages %d/%d",
					len(got.TypesInfo.Defs), len(got.TypesInfo.Uses), len(want.TypesInfo.Defs), len(want.TypesInfo.Uses))
			}
		})
	}
	if fast < len(cases)/2 {
		t.Errorf("the fast loader took %d of %d cases: it should take the ordinary ones", fast, len(cases))
	}
}

func errorTexts(errs []*Error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Pos.String() + ": " + e.Msg
	}
	return out
}
