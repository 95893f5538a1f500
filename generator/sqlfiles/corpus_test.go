package sqlfiles

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
)

// TestCorpus loads a real project's migrations as they are: ory/hydra's
// persistence/sql/migrations, 1,130 golang-migrate files in pop's naming
// (variants per dialect, .cockroach. among them; generic down files beside
// dialect up files; empty files, the no-ops of one dialect; 20-digit
// versions). The module is downloaded at test time, none of its files is
// committed; without the module proxy the test is skipped, but under
// FLAMINGOCK_REQUIRE_SERVICES=1 (set by .ci/run) it fails.
func TestCorpus(t *testing.T) {
	if testing.Short() && os.Getenv("FLAMINGOCK_REQUIRE_SERVICES") != "1" {
		t.Skip("-short: the corpus is downloaded")
	}
	const module, version, sub = "github.com/ory/hydra/v2", "v2.3.0", "persistence/sql/migrations"
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = t.TempDir() // outside any module: nothing of ours is edited
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); err != nil || jerr != nil || m.Error != "" || m.Dir == "" {
		msg := "cannot download " + module + "@" + version + ": " + strings.TrimSpace(m.Error+" "+stderr.String())
		if err != nil {
			msg += " (" + err.Error() + ")"
		}
		if os.Getenv("FLAMINGOCK_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := filepath.Join(m.Dir, filepath.FromSlash(sub))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}

	chs, notices, errs := Load(os.DirFS(dir), Options{Dialect: "postgres"})
	for _, e := range errs {
		t.Error(e)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	kinds := map[string]int{}
	for _, n := range notices {
		switch {
		case strings.HasPrefix(n.Msg, "skipped: a variant for "):
			kinds["variants skipped"]++
		case strings.HasPrefix(n.Msg, "skipped: "):
			kinds["generic down files skipped"]++
		case n.Msg == emptyUp:
			kinds["empty up sections"]++
		default:
			kinds["other"]++
		}
	}
	t.Logf("%s@%s/%s: %d files, %d changes for postgres, %d notices %v", module, version, sub, len(entries), len(chs), len(notices), kinds)
	// The count of v2.3.0, so that a change in the rules shows.
	if len(chs) != 212 {
		t.Errorf("%d changes, want 212", len(chs))
	}

	// Every file of another known dialect is skipped, with a notice.
	noticed := map[string]string{}
	for _, n := range notices {
		noticed[n.File] = n.Msg
	}
	used := map[string]bool{}
	for _, c := range chs {
		used[c.File], used[c.DownFile] = true, true
	}
	variants := 0
	for _, e := range entries {
		fn := parseName(e.Name())
		switch {
		case fn.dialect != "" && fn.dialect != "postgres":
			variants++
			if msg := noticed[fn.file]; !strings.HasPrefix(msg, "skipped: a variant for "+fn.dialect+",") {
				t.Errorf("%s: notice %q, want a skipped variant", fn.file, msg)
			}
			if used[fn.file] {
				t.Errorf("%s, a %s variant, is used", fn.file, fn.dialect)
			}
		case !used[fn.file] && !strings.HasPrefix(noticed[fn.file], "skipped: "):
			t.Errorf("%s is neither used nor skipped with a notice (%q)", fn.file, noticed[fn.file])
		}
	}
	if variants == 0 || kinds["variants skipped"] != variants {
		t.Errorf("%d variant files, %d notices of skipped variants", variants, kinds["variants skipped"])
	}

	// Orders beyond int64 kept exact, sorted as numbers.
	maxInt64 := big.NewInt(1<<63 - 1)
	beyond := 0
	var prev *big.Int
	for _, c := range chs {
		n, ok := new(big.Int).SetString(c.Order.String(), 10)
		if !ok {
			t.Fatalf("%s: order %q", c.ID, c.Order)
		}
		if v, _, _ := strings.Cut(c.ID, "_"); audit.MustParseOrder(v) != c.Order {
			t.Errorf("%s: order %s, not its version", c.ID, c.Order)
		}
		if prev != nil && prev.Cmp(n) >= 0 {
			t.Errorf("%s: order %s after %s", c.ID, c.Order, prev)
		}
		if n.Cmp(maxInt64) > 0 {
			beyond++
		}
		prev = n
	}
	if beyond == 0 {
		t.Error("no order beyond int64")
	}
	if c := chs[0]; c.ID != "20150101000001000000_networks" || c.Order.String() != "20150101000001000000" || c.File != "20150101000001000000_networks.postgres.up.sql" || c.DownFile != "20150101000001000000_networks.down.sql" {
		t.Errorf("first change %+v", c)
	}
	t.Logf("%d of %d orders are beyond int64", beyond, len(chs))

	// The other dialects load too: where a version has a file for all
	// dialects and one for the chosen dialect, the chosen dialect's runs.
	for _, d := range []string{"sqlite", "mysql"} {
		chs, _, errs := Load(os.DirFS(dir), Options{Dialect: d})
		for _, e := range errs {
			t.Errorf("%s: %v", d, e)
		}
		t.Logf("%s: %d changes", d, len(chs))
	}
}
