// Flamingock-gen generates the registry of a package of flamingock-go changes.
//
// Declare each change with a //flamingock:change directive, on a function
//
//	//flamingock:change id=create-users order=1 target=appdb author=alice rollback=DropUsers
//	func CreateUsers(ctx context.Context, tx *sql.Tx) error { … }
//
//	func DropUsers(ctx context.Context, tx *sql.Tx) error { … }
//
// or on a type whose Apply and optional Rollback methods have that shape:
//
//	//flamingock:change id=add-index order=2 target=appdb transactional=false
//	type AddIndex struct{}
//
//	func (AddIndex) Apply(ctx context.Context, tx *sql.Tx) error { … }
//
// and run flamingock-gen in the package, usually through go generate:
//
//	//go:generate go tool flamingock-gen
//
// A change is func(context.Context, H, deps...) error, where H is the handle
// its target gives it and the further parameters are dependencies, injected
// by type. The directive's attributes are id= (required, unique), order= (a
// non-negative integer, or a file-name prefix as in 0001_create_users.go),
// target= (required), author=, rollback= (function form only),
// recovery=manual|retry and transactional=true|false; see package
// github.com/flamingock/flamingock-go/annotations for the grammar.
//
// Flamingock-gen writes flamingock_gen.go, which declares
//
//	type Targets struct  // one pipeline.Target[H] field per target id
//	type Deps struct     // one field per dependency type
//	func Stage(t Targets, d Deps) pipeline.Stage
//
// and compile-time guards that break the build when a change function is
// renamed or retyped, until go generate runs again. It also keeps
// flamingock.ledger: the stage's name, recorded the first time, and the
// changes generated before, as order, id and checksum (of the change's
// source and of the files it embeds); and flamingock_gen_test.go, a test
// that fails go test while the generated files are stale, naming the
// change concerned. Commit all three. A change that was generated before
// may not be removed, renumbered or edited, and a new change may not be
// ordered before it: once applied somewhere, a change is fixed. Renaming
// the package keeps the recorded stage name, which is part of every
// change's identity in the audit trail.
//
// SQL files beside the Go files (goose, golang-migrate or flamingock form)
// are changes too, on the target that one Go file of the package names:
//
//	//flamingock:sql target=appdb handle=database/sql dialect=sqlite
//
// Each is checked and split into statements at generate time and embedded
// in flamingock_gen.go; see package generator/sqlfiles for the forms.
//
// So are MongoDB steps files, <order>_<name>.yaml, on the mongotarget that
// one Go file names:
//
//	//flamingock:yaml target=appdb
//
// Each is parsed at generate time (package runtime/mongosteps, which also
// runs it) and embedded; any other .yaml or .yml file of the package
// directory is an error, but those whose names start with "." or "_".
//
// A //flamingock:change in a _test.go file or in a file that build
// constraints exclude is an error: it would declare no change.
//
// Usage:
//
//	flamingock-gen [flags] [dir]
//
// With no dir, flamingock-gen works on the package in the current directory,
// which is where go generate runs it. The flags are:
//
//	-check
//		write nothing; report whether the generated files are up to date,
//		naming each change that is not registered as declared, and printing
//		a diff. For CI.
//	-stage name
//		the stage's name in the audit trail, for the first generation
//		(default: the package name). Later generations keep the recorded
//		name; another one is refused unless -rename-stage.
//	-rename-stage
//		with -stage, replace the recorded name, with a warning: environments
//		that ran the stage under its old name then refuse to start. Only for
//		a stage that never ran anywhere.
//	-cosmetic id
//		record that the edit of change id does not change what it does: the
//		ledger keeps its old checksum as equivalent, and environments that
//		applied the old version do not report it as changed. Repeatable, or
//		a comma-separated list.
//	-unreleased id
//		record that change id never ran anywhere: it may be edited,
//		renumbered or removed. Repeatable, or a comma-separated list.
//	-renumber id
//		move change id after the last order, then generate: its order= or
//		the order in its file names is rewritten, and the ledger forgets
//		it. For a change that never ran anywhere, such as one that took
//		the order of another branch's in a merge (go generate names it);
//		one the ledger records outside a merge needs -unreleased id too.
//	-allow-ledger-rewrite
//		permit removing or renumbering every change generated before, and
//		adding a change before them. Only for changes that were never
//		applied anywhere. It accepts no edit: name each with -cosmetic or
//		-unreleased.
//
// The next change is written by
//
//	flamingock-gen new [-sql|-yaml] [-dir dir] NAME
//
// with the next order (sequential or a timestamp, as the package's orders
// are, above every order of the package and of its ledger), the package's
// file names and ids, in Go by default, as a SQL file (-sql, in the form of
// the package's SQL files) or as MongoDB steps (-yaml); it prints the
// path of each file it wrote. "flamingock-gen new" alone still generates
// the package in the directory new.
//
// A ledger with git's conflict markers is read as the union of its sides,
// and the generated files are regenerated whatever a merge left in them.
//
// Every problem is reported at once, one per line, as file:line:col: message;
// warnings (a renamed stage, an edit recorded as cosmetic) as
// file:line:col: warning: message.
//
// Exit status: 0 when the files were written (or, with -check, are up to
// date); 1 when the package has problems (with -check: the files are stale or
// the ledger is violated); 2 when flamingock-gen could not run (bad flags, no
// package; with -check: the package has problems other than the ledger's).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flamingock/flamingock-go/generator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK       = 0
	exitProblems = 1
	exitError    = 2
)

// run is flamingock-gen with arguments args; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// "new NAME" is the subcommand; "new" alone stays the directory ./new
	// of the form flamingock-gen [flags] [dir], which takes one argument.
	if len(args) > 1 && args[0] == "new" {
		return runNew(args[1:], stdout, stderr)
	}
	flags := flag.NewFlagSet("flamingock-gen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	check := flags.Bool("check", false, "report whether the generated files are up to date; write nothing")
	stage := flags.String("stage", "", "stage `name` in the audit trail (default: the one the ledger records, else the package name)")
	renameStage := flags.Bool("rename-stage", false, "with -stage, rename the stage the ledger records (only a stage that never ran anywhere)")
	allowRewrite := flags.Bool("allow-ledger-rewrite", false, "permit removing, renumbering or inserting before generated changes")
	var cosmetic, unreleased idList
	flags.Var(&cosmetic, "cosmetic", "record that the edit of change `id` does not change what it does (repeatable)")
	renumber := flags.String("renumber", "", "move change `id`, which never ran anywhere, after the last order (its directive or file names, and the ledger), then generate")
	flags.Var(&unreleased, "unreleased", "record that change `id` never ran anywhere: it may be edited, renumbered or removed (repeatable)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: flamingock-gen [flags] [dir]\n       flamingock-gen new [-sql|-yaml] [-dir dir] NAME\n\nflags:\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if flags.NArg() > 1 {
		flags.Usage()
		return exitError
	}
	dir := flags.Arg(0)
	if *renumber != "" {
		if *check {
			fmt.Fprintln(stderr, "flamingock-gen: -renumber edits the package; -check writes nothing: choose one")
			return exitError
		}
		r, err := generator.Renumber(generator.RenumberConfig{Dir: dir, ID: *renumber, Unreleased: slices.Contains(unreleased, *renumber)})
		if err == nil {
			err = r.Commit()
		}
		if err != nil {
			fmt.Fprintf(stderr, "flamingock-gen: %v\n", err)
			return exitError
		}
		what := ""
		for _, rn := range r.Renames {
			what += fmt.Sprintf(", %s → %s", filepath.Base(rn[0]), filepath.Base(rn[1]))
		}
		if r.NewID != r.ID {
			what += fmt.Sprintf(", now id %s", r.NewID)
		}
		fmt.Fprintf(stderr, "flamingock-gen: change %s moved from order %s to %s%s\n", r.ID, r.From, r.To, what)
		unreleased = slices.DeleteFunc(unreleased, func(id string) bool { return id == *renumber })
	}

	res, err := generator.Generate(ctx, generator.Config{
		Dir:                dir,
		Stage:              *stage,
		RenameStage:        *renameStage,
		AllowLedgerRewrite: *allowRewrite,
		Cosmetic:           cosmetic,
		Unreleased:         unreleased,
	})
	if err != nil {
		fmt.Fprintf(stderr, "flamingock-gen: %v\n", err)
		return exitError
	}
	cwd, err := os.Getwd()
	if err != nil {
		cwd = ""
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w.FormatWarning(cwd))
	}
	if len(res.Errs) > 0 {
		onlyLedger := true
		for _, e := range res.Errs {
			fmt.Fprintln(stderr, e.Format(cwd))
			onlyLedger = onlyLedger && errors.Is(e, generator.ErrLedger)
		}
		if *check && !onlyLedger {
			return exitError
		}
		return exitProblems
	}
	if *check {
		stale, err := res.Stale()
		if err != nil {
			fmt.Fprintf(stderr, "flamingock-gen: %v\n", err)
			return exitError
		}
		if len(stale) == 0 {
			return exitOK
		}
		diff, err := res.Diff()
		if err != nil {
			fmt.Fprintf(stderr, "flamingock-gen: %v\n", err)
			return exitError
		}
		stdout.Write(diff)
		for _, e := range stale {
			fmt.Fprintln(stderr, e.Format(cwd))
		}
		fmt.Fprintf(stderr, "flamingock-gen: %s is not up to date: run go generate\n", res.PkgPath)
		return exitProblems
	}
	if err := res.Commit(); err != nil {
		fmt.Fprintf(stderr, "flamingock-gen: %v\n", err)
		return exitError
	}
	return exitOK
}

// idList is a repeatable flag of change ids; a value may also list several,
// separated by commas.
type idList []string

func (l *idList) String() string { return strings.Join(*l, ",") }

func (l *idList) Set(v string) error {
	for id := range strings.SplitSeq(v, ",") {
		if id = strings.TrimSpace(id); id == "" {
			return errors.New("empty change id")
		}
		*l = append(*l, id)
	}
	return nil
}

// runNew is flamingock-gen new: it writes the next change of the package
// and prints the path of each file it wrote.
func runNew(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("flamingock-gen new", flag.ContinueOnError)
	flags.SetOutput(stderr)
	sqlFile := flags.Bool("sql", false, "write a SQL file (the package needs a //flamingock:sql directive)")
	yamlFile := flags.Bool("yaml", false, "write a MongoDB steps file (the package needs a //flamingock:yaml directive)")
	dir := flags.String("dir", "", "the package `directory` (default: the current directory)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: flamingock-gen new [-sql|-yaml] [-dir dir] NAME\n\nflags:\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if flags.NArg() != 1 || *sqlFile && *yamlFile {
		flags.Usage()
		return exitError
	}
	kind := generator.GoChange
	switch {
	case *sqlFile:
		kind = generator.SQLChange
	case *yamlFile:
		kind = generator.YAMLChange
	}
	files, err := generator.NewChange(generator.NewConfig{Dir: *dir, Name: flags.Arg(0), Kind: kind})
	if err != nil {
		fmt.Fprintf(stderr, "flamingock-gen new: %v\n", err)
		return exitError
	}
	cwd, _ := os.Getwd()
	for _, f := range files {
		if err := writeNew(f.Path, f.Data); err != nil {
			fmt.Fprintf(stderr, "flamingock-gen new: %v\n", err)
			return exitError
		}
		path := f.Path
		if rel, err := filepath.Rel(cwd, path); err == nil && filepath.IsLocal(rel) {
			path = rel
		}
		fmt.Fprintln(stdout, path)
	}
	return exitOK
}

// writeNew writes a file that must not exist.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}
