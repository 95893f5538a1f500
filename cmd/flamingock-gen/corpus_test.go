package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

// A corpus is the migrations directory of a real open-source Go project,
// taken from the module cache at test time: none of its files is
// committed here.
type corpus struct {
	module, version string
	dir             string // the migrations directory, in the module
}

// corpora are pinned: a new version is a new corpus to check.
var corpora = []corpus{
	// golang-migrate pairs with 14-digit versions: a plpgsql trigger
	// function in dollar quotes, a trigger, unique and partial indexes, a
	// column type change. (River's migrations, also golang-migrate pairs,
	// are templates: '/* TEMPLATE: schema */' inside a string literal, which
	// plain psql fails on as flamingock does.)
	{"github.com/acaloiaro/neoq", "v0.72.2", "backends/postgres/migrations"},
	// goose files, one of them -- +goose NO TRANSACTION with CREATE INDEX
	// CONCURRENTLY.
	{"github.com/openfga/openfga", "v1.22.1", "assets/migrations/postgres"},
	// golang-migrate pairs kept side by side per dialect as pop does
	// (.postgres.up.sql, .cockroach.up.sql, … beside a generic .up.sql),
	// with 20-digit versions, all beyond int64: 1,130 files, 212 changes on
	// PostgreSQL, some of them empty.
	{"github.com/ory/hydra/v2", "v2.3.0", "persistence/sql/migrations"},
}

// TestCorpus (issue 13, item 7) generates a package from each corpus as it
// is, applies it to a fresh PostgreSQL database through the generated
// stage, applies the same files with psql to another, and wants the two
// schemas, as pg_dump -s prints them, identical; a second run applies
// nothing.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the go command")
	}
	srv := pgtest.New(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, psqlTool := range []string{"psql", "pg_dump"} {
		if _, err := exec.LookPath(psqlTool); err != nil {
			unavailable(t, "%s is not installed: %v", psqlTool, err)
		}
	}
	for _, c := range corpora {
		t.Run(c.module+"@"+c.version, func(t *testing.T) {
			testCorpus(t, srv, root, c)
		})
	}
}

// unavailable skips t, or fails it when services are required (as in CI):
// a proof that silently did not run would prove nothing.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv(testenv.RequireServicesEnv) == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func testCorpus(t *testing.T, srv *pgtest.Server, root string, c corpus) {
	src := download(t, c)
	files := corpusFiles(t, src)
	t.Logf("corpus %s@%s/%s: %d files, %d to apply", c.module, c.version, c.dir, len(files.all), len(files.up))

	// The package of changes: the files as they are, and one Go file.
	mod := t.TempDir()
	pkg := filepath.Join(mod, "migrations")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range files.all {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(pkg, name), string(b))
	}
	writeFile(t, filepath.Join(pkg, "migrations.go"), `// Package migrations is `+c.module+"@"+c.version+"/"+c.dir+`, as it is.
package migrations

//go:generate go tool flamingock-gen

//flamingock:sql target=appdb handle=pgx dialect=postgres
`)
	writeFile(t, filepath.Join(mod, "go.mod"), "module example.com/corpus\n\ngo 1.26.0\n\nrequire github.com/flamingock/flamingock-go v0.0.0\n")
	writeFile(t, filepath.Join(mod, "main.go"), corpusMain)
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(mod, "go.sum"), string(gosum))
	gocmd(t, mod, "mod", "edit", "-replace=github.com/flamingock/flamingock-go="+root)
	gocmd(t, mod, "mod", "edit", "-tool=github.com/flamingock/flamingock-go/cmd/flamingock-gen")
	gocmd(t, mod, "mod", "tidy", "-e")
	// Build the generator first, so that the generate time is the
	// generator's, not the compiler's.
	gocmd(t, mod, "build", "-o", os.DevNull, "github.com/flamingock/flamingock-go/cmd/flamingock-gen")

	start := time.Now()
	out := gocmd(t, mod, "generate", "./...")
	genTime := time.Since(start)
	if out != "" {
		t.Logf("go generate said:\n%s", out)
	}
	app := filepath.Join(mod, "app")
	gocmd(t, mod, "build", "-o", app, ".")

	// Two fresh databases: a for flamingock, b for psql.
	base := pgtest.Name(t, "fcorpus")
	if len(base) > 60 {
		base = base[:60]
	}
	dbA, dbB := base+"_a", base+"_b"
	for _, db := range []string{dbA, dbB} {
		srv.Exec(t, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
		t.Cleanup(func() {
			if _, err := srv.Admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Errorf("drop database %s: %v", db, err)
			}
		})
	}
	dsnA := srv.ConnString(t, pgtest.Database(dbA))
	dsnB := srv.ConnString(t, pgtest.Database(dbB))

	start = time.Now()
	out = runCmd(t, mod, app, dsnA)
	applyTime := time.Since(start)
	if want := fmt.Sprintf("applied %d, skipped 0\n", len(files.up)); out != want {
		t.Fatalf("first run printed %q, want %q", out, want)
	}
	if out, want := runCmd(t, mod, app, dsnA), fmt.Sprintf("applied 0, skipped %d\n", len(files.up)); out != want {
		t.Errorf("second run printed %q, want %q", out, want)
	}

	start = time.Now()
	for _, f := range files.up {
		script := filepath.Join(t.TempDir(), "up.sql")
		writeFile(t, script, f.up(t, src))
		runCmd(t, mod, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsnB, "-f", script)
	}
	psqlTime := time.Since(start)

	a, b := dump(t, mod, dsnA), dump(t, mod, dsnB)
	if !strings.Contains(b, "CREATE TABLE public.") {
		t.Fatalf("pg_dump -s of the database psql migrated holds no table of schema public:\n%s", b)
	}
	if a != b {
		t.Errorf("pg_dump -s of the database flamingock migrated (-) and of the one psql did (+) differ:\n%s", unified(a, b))
	}
	t.Logf("%d files (%d changes): go generate %v, flamingock apply %v (process included), psql %v (%d processes)",
		len(files.all), len(files.up), genTime.Round(time.Millisecond), applyTime.Round(time.Millisecond), psqlTime.Round(time.Millisecond), len(files.up))
}

// download returns the directory of c in the module cache, downloading the
// module when needed.
func download(t *testing.T, c corpus) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", c.module+"@"+c.version)
	cmd.Dir = t.TempDir() // outside any module: nothing of ours is edited
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); err != nil || jerr != nil || m.Error != "" || m.Dir == "" {
		unavailable(t, "go mod download %s@%s: %v %s %s", c.module, c.version, err, m.Error, stderr.String())
	}
	return filepath.Join(m.Dir, filepath.FromSlash(c.dir))
}

type corpusFile struct {
	name  string
	goose bool
}

type fileSet struct {
	all []string     // every .sql file, copied as is
	up  []corpusFile // the files psql applies, in version order
}

var versionRE = regexp.MustCompile(`^([0-9]+)_`)

// popDialects are the dialect suffixes of pop's file names.
var popDialects = map[string]bool{"postgres": true, "cockroach": true, "mysql": true, "sqlite": true, "sqlite3": true, "mariadb": true}

// corpusFiles lists the .sql files of dir and the ones that hold an up
// section in the order goose and golang-migrate apply them: by version, as
// a number.
func corpusFiles(t *testing.T, dir string) fileSet {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s fileSet
	// Of the up files of one version, psql applies the PostgreSQL variant
	// when there is one, else the file for all dialects, else none: pop's
	// rule, written here again so that the proof does not rest on the
	// generator's reading of it.
	generic, postgres := map[string]string{}, map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		s.all = append(s.all, name)
		switch base, isUp := strings.CutSuffix(name, ".up.sql"); {
		case strings.HasSuffix(name, ".down.sql"):
		case isUp:
			version := versionRE.FindString(name)
			// Another suffix, such as popx's .autocommit, is part of the name.
			switch dialect := base[strings.LastIndexByte(base, '.')+1:]; {
			case dialect == "postgres":
				postgres[version] = name
			case !popDialects[dialect]:
				generic[version] = name
			}
		default:
			s.up = append(s.up, corpusFile{name: name, goose: true})
		}
	}
	for version, name := range generic {
		if _, ok := postgres[version]; !ok {
			s.up = append(s.up, corpusFile{name: name})
		}
	}
	for _, name := range postgres {
		s.up = append(s.up, corpusFile{name: name})
	}
	version := func(name string) *big.Int {
		m := versionRE.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("%s: no version prefix", name)
		}
		v, _ := new(big.Int).SetString(m[1], 10)
		return v
	}
	sort.Slice(s.up, func(i, j int) bool { return version(s.up[i].name).Cmp(version(s.up[j].name)) < 0 })
	if len(s.up) == 0 {
		t.Fatalf("%s holds no migration", dir)
	}
	return s
}

var gooseRE = regexp.MustCompile(`(?i)^--\s*\+goose\s+(\w+)`)

// up returns what psql applies of f: a golang-migrate up file whole; of a
// goose file, as goose does, the lines of its up section (goose's own
// annotations are comments to psql).
func (f corpusFile) up(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, f.name))
	if err != nil {
		t.Fatal(err)
	}
	if !f.goose {
		return string(b)
	}
	var up strings.Builder
	in := false
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if m := gooseRE.FindStringSubmatch(line); m != nil {
			switch strings.ToLower(m[1]) {
			case "up":
				in = true
			case "down":
				in = false
			}
		}
		if in {
			up.WriteString(line)
		}
	}
	return up.String()
}

// dump is the schema public of dsn (the audit store is in schema
// flamingock), as pg_dump prints it, without the random key of its
// \restrict lines.
func dump(t *testing.T, dir, dsn string) string {
	t.Helper()
	out := runCmd(t, dir, "pg_dump", "-s", "--no-owner", "--no-privileges", "-n", "public", "-d", dsn)
	var b strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(line, `\restrict `) || strings.HasPrefix(line, `\unrestrict `) {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// unified is a line diff of a and b: "-" lines only in a, "+" only in b,
// with two lines of context.
func unified(a, b string) string {
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	// Longest common subsequence, enough for schemas of a few thousand lines.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		line string
	}
	var ops []op
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, op{' ', x[i]})
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', y[j]})
			j++
		default:
			ops = append(ops, op{'-', x[i]})
			i++
		}
	}
	var out strings.Builder
	for k, o := range ops {
		near := false
		for d := -2; d <= 2; d++ {
			if n := k + d; n >= 0 && n < len(ops) && ops[n].kind != ' ' {
				near = true
			}
		}
		if near {
			out.WriteString(string(o.kind) + strings.TrimSuffix(o.line, "\n") + "\n")
		}
	}
	return out.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gocmd runs the go command in dir offline, as the scripts do: every
// module from the module cache, vouched for by the checkout's go.sum.
func gocmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return runCmd(t, dir, "go", args...)
}

func runCmd(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// corpusMain runs the generated stage on the database of its argument,
// the audit store in schema flamingock and the changes in the store's
// transactions, and prints what it applied.
const corpusMain = `package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"example.com/corpus/migrations"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func main() {
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dsn string) error {
	store, err := postgres.Open(ctx, dsn, postgres.WithSchema("flamingock"))
	if err != nil {
		return err
	}
	defer store.Close()
	stage := migrations.Stage(migrations.Targets{Appdb: pgxtarget.Shared(store)}, migrations.Deps{})
	runner, err := pipeline.New(store, []pipeline.Stage{stage}, pipeline.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	res, err := runner.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("applied %d, skipped %d\n", len(res.Applied()), len(res.Skipped()))
	for _, d := range res.Drift {
		fmt.Println("drift:", d)
	}
	return nil
}
`
