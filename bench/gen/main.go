// Command gen measures flamingock-gen against go vet on one package of SQL
// files and Go changes, and prints the ratios that issue 13 sets as
// targets (each ≤ 1.0× go vet of the package). It is a measurement, not a
// test: a missed target is reported as MISS and the exit status stays 0.
//
//	cd bench && go run ./gen            # 500 goose files + 50 Go changes
//	cd bench && go run ./gen -sql 2000 -go 0 -runs 7
//
// It writes a module in a temporary directory, required by replace to the
// flamingock-go checkout that holds this benchmark, with one package: N
// goose files (CREATE TABLE, an INSERT, a Down) and M Go changes on one
// SQLite target (database/sql), plus a file of helpers that no change
// uses. The generator is built once, untimed (go tool caches it). Each
// round then times, as whole commands run from the module:
//
//   - first generation: go generate after deleting what it generated;
//   - regeneration after an edit: go generate after adding a declaration
//     to the helpers file, as a developer's edit does;
//   - regeneration, nothing changed;
//   - go vet of the package after the same kind of edit (go vet caches its
//     verdict on unchanged input, so it is measured after an edit too).
//
// The four alternate within each round so that the machine's drift spreads
// over all of them; each cell is the median of the rounds.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nSQL := fs.Int("sql", 500, "goose SQL files in the package")
	nGo := fs.Int("go", 50, "Go changes in the package")
	runs := fs.Int("runs", 5, "timed rounds; the median is reported")
	keep := fs.Bool("keep", false, "keep the module (its path is printed) instead of deleting it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nSQL < 0 || *nGo < 0 || *nSQL+*nGo == 0 || *runs < 1 {
		fmt.Fprintln(stderr, "gen: want -sql, -go ≥ 0, not both 0, and -runs ≥ 1")
		return 2
	}
	m, err := newModule(*nSQL, *nGo)
	if err != nil {
		fmt.Fprintln(stderr, "gen:", err)
		return 1
	}
	if *keep {
		fmt.Fprintln(stderr, "gen: module kept at", m.dir)
	} else {
		defer os.RemoveAll(m.dir)
	}
	table, err := m.measure(*runs, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gen:", err)
		return 1
	}
	table.print(stdout, *nSQL, *nGo, *runs)
	return 0
}

// module is the temporary module the commands run in.
type module struct {
	dir   string
	edits int // declarations added to the helpers file so far
}

const pkg = "changes"

func newModule(nSQL, nGo int) (*module, error) {
	root, err := output("", "go", "list", "-m", "-f", "{{.Dir}}", "github.com/flamingock/flamingock-go")
	if err != nil {
		return nil, fmt.Errorf("finding the flamingock-go checkout: %w", err)
	}
	root = strings.TrimSpace(root)
	dir, err := os.MkdirTemp("", "flamingock-genbench-")
	if err != nil {
		return nil, err
	}
	m := &module{dir: dir}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"go.mod": "module example.com/genbench\n\ngo 1.26.0\n\nrequire github.com/flamingock/flamingock-go v0.0.0\n\n" +
			"replace github.com/flamingock/flamingock-go => " + root + "\n\ntool github.com/flamingock/flamingock-go/cmd/flamingock-gen\n",
		"go.sum": string(sum),
		filepath.Join(pkg, "changes.go"): "// Package changes is the benchmark's package of changes.\npackage changes\n\n" +
			"//go:generate go tool flamingock-gen\n\n//flamingock:sql target=appdb handle=database/sql dialect=sqlite\n",
		filepath.Join(pkg, "helpers.go"): "package changes\n\n// Edits of the benchmark land here.\n",
	}
	for i := 1; i <= nSQL; i++ {
		files[filepath.Join(pkg, fmt.Sprintf("%05d_table_%d.sql", i, i))] = fmt.Sprintf(
			"-- +goose Up\nCREATE TABLE t%d (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO t%[1]d (name) VALUES ('first');\n\n-- +goose Down\nDROP TABLE t%[1]d;\n", i)
	}
	for i := 1; i <= nGo; i++ {
		files[filepath.Join(pkg, fmt.Sprintf("go_change_%d.go", i))] = fmt.Sprintf(`package changes

import (
	"context"
	"database/sql"
)

//flamingock:change id=go-change-%d order=%d target=appdb
func GoChange%[1]d(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "UPDATE t1 SET name = ? WHERE id = ?", "change %[1]d", %[1]d)
	return err
}
`, i, nSQL+i)
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	// Untimed: resolve the module graph, build the generator, generate and
	// vet once, so that every timed command finds the build cache warm.
	for _, c := range [][]string{
		{"go", "mod", "tidy", "-e"},
		{"go", "build", "-o", os.DevNull, "github.com/flamingock/flamingock-go/cmd/flamingock-gen"},
		{"go", "generate", "./" + pkg},
		{"go", "vet", "./" + pkg},
	} {
		if out, err := output(dir, c[0], c[1:]...); err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", strings.Join(c, " "), err, out)
		}
	}
	return m, nil
}

// edit adds a declaration to the helpers file.
func (m *module) edit() error {
	m.edits++
	f, err := os.OpenFile(filepath.Join(m.dir, pkg, "helpers.go"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\nconst edit%d = %[1]d\n", m.edits)
	return errors.Join(err, f.Close())
}

// removeGenerated deletes what flamingock-gen writes.
func (m *module) removeGenerated() error {
	for _, name := range []string{"flamingock_gen.go", "flamingock_gen_test.go", "flamingock.ledger"} {
		if err := os.Remove(filepath.Join(m.dir, pkg, name)); err != nil {
			return err
		}
	}
	return nil
}

// step is one timed command with what prepares it, untimed.
type step struct {
	name    string
	prepare func() error
	command []string
}

type results map[string][]time.Duration

func (m *module) measure(runs int, progress io.Writer) (results, error) {
	steps := []step{
		{"first generation", m.removeGenerated, []string{"go", "generate", "./" + pkg}},
		{"regeneration after an edit", m.edit, []string{"go", "generate", "./" + pkg}},
		{"regeneration, nothing changed", func() error { return nil }, []string{"go", "generate", "./" + pkg}},
		{"go vet after an edit", m.edit, []string{"go", "vet", "./" + pkg}},
	}
	r := results{}
	for round := range runs {
		fmt.Fprintf(progress, "gen: round %d of %d\n", round+1, runs)
		for _, s := range steps {
			if err := s.prepare(); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			start := time.Now()
			out, err := output(m.dir, s.command[0], s.command[1:]...)
			took := time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w\n%s", s.name, strings.Join(s.command, " "), err, out)
			}
			r[s.name] = append(r[s.name], took)
		}
	}
	return r, nil
}

func (r results) print(w io.Writer, nSQL, nGo, runs int) {
	fmt.Fprintf(w, "flamingock-gen vs go vet: one package of %d goose SQL files and %d Go changes; median of %d rounds (min–max), commands alternating within each round\n", nSQL, nGo, runs)
	vet := median(r["go vet after an edit"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "command\ttime\tvs go vet\ttarget ≤ 1.0×")
	for _, name := range []string{"first generation", "regeneration after an edit", "regeneration, nothing changed", "go vet after an edit"} {
		d := r[name]
		verdict := "PASS"
		ratio := float64(median(d)) / float64(vet)
		switch {
		case name == "go vet after an edit":
			verdict = ""
		case ratio > 1.0:
			verdict = fmt.Sprintf("MISS by %.0f%%", (ratio-1)*100)
		}
		fmt.Fprintf(tw, "%s\t%s (%s–%s)\t%.2f×\t%s\n", name, msOf(median(d)), msOf(slices.Min(d)), msOf(slices.Max(d)), ratio, verdict)
	}
	tw.Flush()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func msOf(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// output runs a command in dir and returns its combined output.
func output(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
