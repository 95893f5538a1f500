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
//	-allow-ledger-rewrite
//		permit removing or renumbering every change generated before, and
//		adding a change before them. Only for changes that were never
//		applied anywhere. It accepts no edit: name each with -cosmetic or
//		-unreleased.
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
	flags := flag.NewFlagSet("flamingock-gen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	check := flags.Bool("check", false, "report whether the generated files are up to date; write nothing")
	stage := flags.String("stage", "", "stage `name` in the audit trail (default: the one the ledger records, else the package name)")
	renameStage := flags.Bool("rename-stage", false, "with -stage, rename the stage the ledger records (only a stage that never ran anywhere)")
	allowRewrite := flags.Bool("allow-ledger-rewrite", false, "permit removing, renumbering or inserting before generated changes")
	var cosmetic, unreleased idList
	flags.Var(&cosmetic, "cosmetic", "record that the edit of change `id` does not change what it does (repeatable)")
	flags.Var(&unreleased, "unreleased", "record that change `id` never ran anywhere: it may be edited, renumbered or removed (repeatable)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: flamingock-gen [flags] [dir]\n\nflags:\n")
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
