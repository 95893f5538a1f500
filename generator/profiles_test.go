package generator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestProfilesAreRenderedAndReadBack: a change's profiles are in its Meta
// as written, the registry reads them back, and a profile edited without
// go generate makes the registry stale, for the generated test and go vet.
func TestProfilesAreRenderedAndReadBack(t *testing.T) {
	src := strings.Replace(oneChange, "order=1 target=appdb", "order=1 target=appdb profile=dev,!prod", 1)
	dir := tempModule(t, map[string]string{"changes.go": src})
	res := generate(t, Config{Dir: dir})
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.Content), `Profiles: []string{"dev", "!prod"},`) || !strings.Contains(string(res.Content), "Profiled: 1,") {
		t.Errorf("generated file lacks the change's profiles:\n%s", res.Content)
	}
	if stale, err := generate(t, Config{Dir: dir}).Stale(); err != nil || len(stale) != 0 {
		t.Fatalf("Stale right after generating = %v, %v", stale, err)
	}

	for _, tt := range []struct{ name, directive, want string }{
		{"a profile changed", "profile=dev,test", "profile dev,test, registered dev,!prod"},
		{"the profiles removed", "", "profile none, registered dev,!prod"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edited := strings.Replace(src, "profile=dev,!prod", tt.directive, 1)
			if err := os.WriteFile(filepath.Join(dir, "changes.go"), []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			want := []string{`changes.go:9:6: change "create-users" differs from its registration in flamingock_gen.go (` + tt.want + `): run go generate`}
			if diff := cmp.Diff(want, analyzeDirs(t, dir, ".")[dir]); diff != "" {
				t.Errorf("analyzer diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}
