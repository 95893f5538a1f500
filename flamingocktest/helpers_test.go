package flamingocktest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/flamingocktest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// recorder is a testing.TB that records what the kit reports instead of
// failing the test, so that a test can check that an assertion fails when
// it should, and with what message. Its Fatalf ends the goroutine, as
// testing.T's does: call the kit through do.
type recorder struct {
	testing.TB // the real test: TempDir, Cleanup, Context, Name

	mu     sync.Mutex
	errors []string
	fatal  string
	logs   []string
}

func record(t *testing.T) *recorder { return &recorder{TB: t} }

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Log(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprint(args...))
}

func (r *recorder) Logf(format string, args ...any) { r.Log(fmt.Sprintf(format, args...)) }

// do runs fn on a goroutine of its own, so that a Fatalf ends fn only, and
// reports whether fn returned (false: it called Fatalf).
func (r *recorder) do(fn func()) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
		returned = true
	}()
	<-done
	return returned
}

// failures is every error and the fatal message, one string.
func (r *recorder) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(append(append([]string(nil), r.errors...), r.fatal), "\n")
}

// failed reports whether the kit reported a failure.
func (r *recorder) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errors) > 0 || r.fatal != ""
}

// flags is a system without transactions: named flags on or off.
type flags struct {
	mu sync.Mutex
	on map[string]bool
}

func (f *flags) set(name string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on == nil {
		f.on = map[string]bool{}
	}
	f.on[name] = on
}

func (f *flags) snapshot() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for k, v := range f.on {
		out[k] = v
	}
	return out
}

// app is what the test stage changes: a table in the kit's SQLite database
// and the flags. calls counts the runs of each change function.
type app struct {
	db    *sql.DB
	flags *flags
	mu    sync.Mutex
	calls map[string]int
}

func (a *app) called(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls == nil {
		a.calls = map[string]int{}
	}
	a.calls[id]++
}

func (a *app) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[id]
}

// snapshot is the app's state: the tables of its database, the rows of
// users, the flags on.
func (a *app) snapshot(ctx context.Context) (any, error) {
	state := map[string]any{}
	rows, err := a.db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'flamingock%' AND name NOT LIKE 'sqlite%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		tables = append(tables, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	state["tables"] = tables
	var on []string
	for k, v := range a.flags.snapshot() {
		if v {
			on = append(on, k)
		}
	}
	slices.Sort(on)
	state["flags on"] = on
	return state, nil
}

// stageOptions varies the test stage.
type stageOptions struct {
	// badUndo makes flag-on's rollback leave the flag on.
	badUndo bool
}

// stage is a hand-written stage of three changes: a table (rollback: drop
// it), a row (no rollback), a flag (rollback: turn it off).
func (a *app) stage(k *flamingocktest.Kit, o stageOptions) pipeline.Stage {
	db := pipeline.Target[*sql.Tx](sqltarget.Shared(k.SQLite()))
	fl := pipeline.NonTransactional(a.flags)
	undoFlag := func(ctx context.Context, f *flags) error {
		a.called("flag-on rollback")
		if !o.badUndo {
			f.set("signup", false)
		}
		return nil
	}
	return pipeline.Stage{Name: "app", Changes: []pipeline.Change{
		pipeline.NewChange(pipeline.Meta{ID: "create-users", Order: audit.OrderOf(1), Author: "test", Target: "db", Checksum: "c1"}, db,
			func(ctx context.Context, tx *sql.Tx) error {
				a.called("create-users")
				_, err := tx.ExecContext(ctx, `CREATE TABLE users (email TEXT NOT NULL)`)
				return err
			},
			func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `DROP TABLE users`)
				return err
			}),
		pipeline.NewChange(pipeline.Meta{ID: "seed-admin", Order: audit.OrderOf(2), Author: "test", Target: "db", Checksum: "c2"}, db,
			func(ctx context.Context, tx *sql.Tx) error {
				a.called("seed-admin")
				_, err := tx.ExecContext(ctx, `INSERT INTO users (email) VALUES ('admin@example.com')`)
				return err
			}, nil),
		pipeline.NewChange(pipeline.Meta{ID: "flag-on", Order: audit.OrderOf(3), Author: "test", Target: "flags", Checksum: "c3"}, fl,
			func(ctx context.Context, f *flags) error {
				a.called("flag-on")
				f.set("signup", true)
				return nil
			}, undoFlag),
	}}
}

func newApp(k *flamingocktest.Kit) *app {
	return &app{db: k.SQLite().DB(), flags: &flags{}}
}

// exampleT stands for the *testing.T of a test in the examples, which have
// none: it prints what the kit reports.
type exampleT struct {
	testing.TB
	dirs     []string
	cleanups []func()
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Name() string                      { return "TestExample" }
func (t *exampleT) Context() context.Context          { return context.Background() }
func (t *exampleT) Log(args ...any)                   {}
func (t *exampleT) Logf(format string, args ...any)   {}
func (t *exampleT) Errorf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) TempDir() string {
	d, err := os.MkdirTemp("", "flamingocktest-example")
	if err != nil {
		panic(err)
	}
	t.dirs = append(t.dirs, d)
	return d
}

// end runs the cleanups, last first, and removes the directories, as the
// end of a test does.
func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	for _, d := range t.dirs {
		os.RemoveAll(d)
	}
}
