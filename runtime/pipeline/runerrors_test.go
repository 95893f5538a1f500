package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// documented are the errors Run's documentation lists: every error it
// returns matches at least one.
var documented = []struct {
	name string
	err  error
}{
	{"ErrManualInterventionRequired", pipeline.ErrManualInterventionRequired},
	{"ErrLockNotAcquired", pipeline.ErrLockNotAcquired},
	{"ErrLockLost", pipeline.ErrLockLost},
	{"ErrChangeFailed", pipeline.ErrChangeFailed},
	{"ErrStageRenamed", pipeline.ErrStageRenamed},
	{"ErrStoreFailed", pipeline.ErrStoreFailed},
	{"ErrInvalidPipeline", pipeline.ErrInvalidPipeline},
	{"context.Canceled", context.Canceled},
	{"context.DeadlineExceeded", context.DeadlineExceeded},
}

func matching(err error) []string {
	var out []string
	for _, d := range documented {
		if errors.Is(err, d.err) {
			out = append(out, d.name)
		}
	}
	return out
}

// markerTrouble is the separate target whose marker reads fail while
// fails says so.
type markerTrouble struct {
	*sqltarget.Target
	fails func(n int) error
	n     *int
}

// Strategy returns m, so that the runner reads markers through it.
func (m markerTrouble) Strategy(bool) (pipeline.Strategy[*sql.Tx], error) {
	return pipeline.SeparateTx[*sql.Tx](m), nil
}

func (m markerTrouble) HasMarker(ctx context.Context, mk pipeline.Marker) (bool, error) {
	*m.n++
	if err := m.fails(*m.n); err != nil {
		return false, err
	}
	return m.Target.HasMarker(ctx, mk)
}

// brokenShared is the SQLite store whose shared-transaction appends fail
// as a lost connection would, and whose trail cannot be read afterwards to
// tell whether the transaction committed.
type brokenShared struct{ *sqlite.Store }

func (brokenShared) AppendSQLTx(context.Context, *sql.Tx, audit.Lease, audit.Entry) (audit.Entry, error) {
	return audit.Entry{}, errors.New("connection reset by peer")
}

func (brokenShared) History(context.Context, audit.Filter) ([]audit.Entry, error) {
	return nil, errors.New("connection reset by peer")
}

// always fails every call named call with err.
func always(call string, err error) func(string, int) (error, bool) {
	return func(c string, _ int) (error, bool) {
		if c == call {
			return err, false
		}
		return nil, false
	}
}

var (
	errDenied   = errors.New("permission denied for table flamingock_audit")
	errDiskFull = errors.New("database or disk is full")
)

// Every way Run can fail returns an error that matches a documented error,
// the one that says what happened.
func TestEveryRunErrorMatchesADocumentedError(t *testing.T) {
	short := pipeline.WithLease(300 * time.Millisecond) // retries within 100ms
	flaky := func(e *env, fail func(string, int) (error, bool)) audit.Store {
		return &flakyStore{Store: e.store, fail: fail, calls: map[string]int{}}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, e *env) (*pipeline.Result, error)
		want error
		// says is in the error's message.
		says string
	}{
		{"the audit trail cannot be read", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(flaky(e, always("Snapshot", errDenied)), []spec{{id: "c1", strategy: nonTx}}, short)
		}, pipeline.ErrStoreFailed, "read audit trail"},
		{"a record of the trail cannot be trusted", func(t *testing.T, e *env) (*pipeline.Result, error) {
			corrupt := &audit.CorruptError{Where: "entry seq 7", Err: errors.New("unknown state")}
			return e.runOn(flaky(e, always("Snapshot", corrupt)), []spec{{id: "c1", strategy: nonTx}}, short)
		}, audit.ErrCorrupt, "entry seq 7"},
		{"a marker cannot be read while deciding", func(t *testing.T, e *env) (*pipeline.Result, error) {
			e.seed(seedEntry("s1", "c1", audit.StateStarted, separate, manual))
			n := 0
			target := markerTrouble{Target: e.separate, n: &n, fails: func(int) error { return errors.New("no such table: flamingock_marker") }}
			return e.runWith(target, short)
		}, pipeline.ErrStoreFailed, "read marker"},
		{"the lock cannot be acquired", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(flaky(e, always("Acquire", errDenied)), []spec{{id: "c1", strategy: nonTx}}, short)
		}, pipeline.ErrStoreFailed, "acquire lock"},
		{"another runner holds the lock for the whole wait", func(t *testing.T, e *env) (*pipeline.Result, error) {
			if _, err := e.store.Acquire(context.Background(), lockKey, "other-runner", time.Minute); err != nil {
				t.Fatal(err)
			}
			return e.runOn(e.store, []spec{{id: "c1", strategy: nonTx}}, pipeline.WithLockWait(0, time.Millisecond))
		}, pipeline.ErrLockNotAcquired, "other-runner"},
		{"a change's outcome is uncertain", func(t *testing.T, e *env) (*pipeline.Result, error) {
			e.seed(seedEntry("s1", "c1", audit.StateStarted, nonTx, manual))
			return e.runOn(e.store, []spec{{id: "c1", strategy: nonTx}})
		}, pipeline.ErrManualInterventionRequired, "c1"},
		{"the trail records a change under another stage", func(t *testing.T, e *env) (*pipeline.Result, error) {
			e.seed(seedEntry("old", "c1", audit.StateApplied, nonTx, manual))
			return e.runOn(e.store, []spec{{id: "c1", strategy: nonTx}})
		}, pipeline.ErrStageRenamed, "old"},
		{"a change fails", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(e.store, []spec{{id: "c1", strategy: shared, fail: errBoom}})
		}, pipeline.ErrChangeFailed, "boom"},
		{"a change panics", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(e.store, []spec{{id: "c1", strategy: nonTx, panics: true}})
		}, pipeline.ErrChangeFailed, "exploded"},
		{"a change fails and FAILED cannot be recorded", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(flaky(e, always("Append FAILED", errDiskFull)), []spec{{id: "c1", strategy: nonTx, fail: errBoom}})
		}, pipeline.ErrChangeFailed, "disk is full"},
		{"STARTED cannot be recorded", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(flaky(e, always("Append STARTED", errDiskFull)), []spec{{id: "c1", strategy: nonTx}})
		}, pipeline.ErrStoreFailed, "record STARTED"},
		{"the store refuses a write: the lease moved on", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(flaky(e, always("Append STARTED", fmt.Errorf("lock taken over: %w", audit.ErrFenced))),
				[]spec{{id: "c1", strategy: nonTx}})
		}, pipeline.ErrLockLost, "taken over"},
		{"APPLIED cannot be recorded after the target committed", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(flaky(e, always("Append APPLIED", errDiskFull)), []spec{{id: "c1", strategy: separate}})
		}, pipeline.ErrStoreFailed, "committed"},
		{"APPLIED of a change without a transaction cannot be recorded", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(flaky(e, always("Append APPLIED", errDiskFull)), []spec{{id: "c1", strategy: nonTx}})
		}, pipeline.ErrStoreFailed, "was applied"},
		{"a shared transaction's commit fails and the trail cannot tell whether it committed", func(t *testing.T, e *env) (*pipeline.Result, error) {
			return e.runOn(brokenShared{e.store}, []spec{{id: "c1", strategy: shared}})
		}, pipeline.ErrStoreFailed, "could not be read"},
		{"a recovery proven by the marker cannot be recorded", func(t *testing.T, e *env) (*pipeline.Result, error) {
			e.seed(seedEntry("s1", "c1", audit.StateStarted, separate, manual))
			e.seedMarker("s1", "c1", seedExec)
			return e.runOn(flaky(e, always("Append APPLIED", errDiskFull)), []spec{{id: "c1", strategy: separate}})
		}, pipeline.ErrStoreFailed, "disk is full"},
		{"two generated stages declare one change id", func(t *testing.T, e *env) (*pipeline.Result, error) {
			builds := 0
			return e.runner([]pipeline.Stage{
				e.generated("s1", &builds, spec{id: "c1", strategy: nonTx}),
				e.generated("s2", &builds, spec{id: "c1", strategy: nonTx}),
			}).Run(context.Background())
		}, pipeline.ErrInvalidPipeline, "id already used"},
		{"the run is cancelled between two changes", func(t *testing.T, e *env) (*pipeline.Result, error) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := e.runner([]pipeline.Stage{e.stage("s1",
				spec{id: "c1", order: 1, strategy: nonTx, hook: func(context.Context) error { cancel(); return nil }},
				spec{id: "c2", order: 2, strategy: nonTx},
			)})
			return r.Run(ctx)
		}, context.Canceled, "c2"},
		{"the run's deadline passes while it waits for the lock", func(t *testing.T, e *env) (*pipeline.Result, error) {
			if _, err := e.store.Acquire(context.Background(), lockKey, "other-runner", time.Minute); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "c1", strategy: nonTx})},
				pipeline.WithLockWait(time.Minute, 5*time.Millisecond))
			return r.Run(ctx)
		}, context.DeadlineExceeded, "other-runner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res, err := tt.run(t, e)
			if res == nil {
				t.Error("Result is nil")
			}
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Run error does not match %v: %v", tt.want, err)
			}
			if got := matching(err); len(got) == 0 {
				t.Errorf("Run error matches no documented error: %v", err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Run error does not say %q: %v", tt.says, err)
			}
		})
	}
}

// runOn runs a stage "s1" of specs, on store.
func (e *env) runOn(store audit.Store, specs []spec, opts ...pipeline.Option) (*pipeline.Result, error) {
	e.t.Helper()
	if ss, ok := store.(sqltarget.SharedStore); ok {
		// A shared target shares the transactions of the store it runs on.
		prev := e.shared
		e.shared = sqltarget.Shared(ss)
		defer func() { e.shared = prev }()
	}
	r, err := pipeline.New(store, []pipeline.Stage{e.stage("s1", specs...)}, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Run(context.Background())
}

// runWith runs change "c1" of stage "s1" in a separate transaction on
// target.
func (e *env) runWith(target pipeline.Target[*sql.Tx], opts ...pipeline.Option) (*pipeline.Result, error) {
	e.t.Helper()
	c := pipeline.NewChange(e.meta(spec{id: "c1", strategy: separate}), target, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO effects (change_id) VALUES ('c1')`)
		return err
	}, nil)
	r, err := pipeline.New(e.store, []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{c}}}, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Run(context.Background())
}

// A marker read that fails is read again, as trail reads are.
func TestAMarkerReadThatFailsIsRetried(t *testing.T) {
	e := newEnv(t)
	e.seed(seedEntry("s1", "c1", audit.StateStarted, separate, manual))
	e.seedMarker("s1", "c1", seedExec)
	n := 0
	target := markerTrouble{Target: e.separate, n: &n, fails: func(n int) error {
		if n <= 2 {
			return errors.New("connection reset by peer")
		}
		return nil
	}}
	res, err := e.runWith(target)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if diff := cmp.Diff([]string{"s1/c1=recovered"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if e.ran("c1") != 0 {
		t.Error("c1 ran again although its marker proves it committed")
	}
}

// A change that returns its context's error was stopped, not broken: the
// trail and the events say so.
func TestACancelledChangeIsItsOwnErrorKind(t *testing.T) {
	tests := []struct {
		name     string
		strategy audit.Strategy
		ctx      func() (context.Context, context.CancelFunc)
		hook     func(cancel context.CancelFunc) func(context.Context) error
		want     string
	}{
		{"cancelled", nonTx, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			func(cancel context.CancelFunc) func(context.Context) error {
				return func(ctx context.Context) error {
					cancel()
					<-ctx.Done()
					return fmt.Errorf("create index: %w", ctx.Err())
				}
			}, audit.ErrorKindCancelled},
		{"deadline", shared, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, func(context.CancelFunc) func(context.Context) error {
			return func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			}
		}, audit.ErrorKindDeadline},
		{"panic", nonTx, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			func(context.CancelFunc) func(context.Context) error {
				return func(context.Context) error { panic("exploded") }
			}, audit.ErrorKindPanic},
		{"an error of its own", nonTx, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			func(context.CancelFunc) func(context.Context) error {
				return func(context.Context) error { return errBoom }
			}, "*errors.errorString"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is recorded as "+tt.want, func(t *testing.T) {
			e := newEnv(t)
			ctx, cancel := tt.ctx()
			defer cancel()
			var kinds []string
			r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "c1", strategy: tt.strategy, hook: tt.hook(cancel)})},
				pipeline.WithEvents(func(ev pipeline.Event) {
					if ev.Kind == pipeline.EventFailed {
						kinds = append(kinds, ev.ErrorKind)
					}
				}))
			_, err := r.Run(ctx)
			if !errors.Is(err, pipeline.ErrChangeFailed) {
				t.Fatalf("Run error = %v, want ErrChangeFailed", err)
			}
			h := e.history("s1", "c1")
			if len(h) == 0 || h[len(h)-1].State != audit.StateFailed || h[len(h)-1].ErrorKind != tt.want {
				t.Errorf("entries %+v, want the latest FAILED with error kind %q", h, tt.want)
			}
			if diff := cmp.Diff([]string{tt.want}, kinds); diff != "" {
				t.Errorf("error kinds of EventFailed (-want +got):\n%s", diff)
			}
		})
	}
}
