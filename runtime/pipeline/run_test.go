package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

func TestRunAppliesStagesInOrderThenSkipsWithoutLocking(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var events []string
	stages := []pipeline.Stage{
		e.stage("schema", spec{id: "c1", order: 1, strategy: shared}, spec{id: "c2", order: 2, strategy: separate}),
		e.stage("flags", spec{id: "c3", order: 1, strategy: nonTx, recovery: retry}),
	}
	r := e.runner(stages, pipeline.WithEvents(func(ev pipeline.Event) {
		if ev.ChangeID == "" {
			return // pipeline and stage events: see events_test.go
		}
		events = append(events, string(ev.Kind)+" "+ev.Stage+"/"+ev.ChangeID)
	}))

	res, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"schema/c1=applied", "schema/c2=applied", "flags/c3=applied"}
	if diff := cmp.Diff(want, statuses(res)); diff != "" {
		t.Errorf("first run outcomes (-want +got):\n%s", diff)
	}
	wantEvents := []string{
		"started schema/c1", "applied schema/c1",
		"started schema/c2", "applied schema/c2",
		"started flags/c3", "applied flags/c3",
	}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		if n := e.ran(id); n != 1 {
			t.Errorf("%s ran %d times, want 1", id, n)
		}
	}

	// Every field of an entry is recorded.
	got := e.history("schema", "c2")
	wantEntries := []audit.Entry{
		{ExecutionID: res.ExecutionID, Stage: "schema", ChangeID: "c2", Order: audit.OrderOf(2), Author: "tester", State: audit.StateStarted,
			RunnerID: "test-runner", TargetID: "otherdb", Strategy: separate, Recovery: manual, Checksum: "sum-c2"},
		{ExecutionID: res.ExecutionID, Stage: "schema", ChangeID: "c2", Order: audit.OrderOf(2), Author: "tester", State: audit.StateApplied,
			RunnerID: "test-runner", TargetID: "otherdb", Strategy: separate, Recovery: manual, Checksum: "sum-c2"},
	}
	if diff := cmp.Diff(wantEntries, got, cmpopts.IgnoreFields(audit.Entry{}, "Seq", "Time", "Duration", "Host")); diff != "" {
		t.Errorf("entries of c2 (-want +got):\n%s", diff)
	}
	for _, en := range got {
		if en.Host == "" || en.Time.IsZero() || en.Time.Location() != time.UTC {
			t.Errorf("entry %s: host %q time %v, want a host and a UTC time", en.State, en.Host, en.Time)
		}
	}
	if lock := e.lock(); lock.Held() {
		t.Errorf("lock still held after the run: %+v", lock)
	}

	// Nothing pending: the second run takes no lock, even one another runner holds.
	before := e.lock()
	other, err := e.store.Acquire(ctx, lockKey, "other-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	events = nil
	res2, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	want = []string{"schema/c1=skipped", "schema/c2=skipped", "flags/c3=skipped"}
	if diff := cmp.Diff(want, statuses(res2)); diff != "" {
		t.Errorf("second run outcomes (-want +got):\n%s", diff)
	}
	if res2.ExecutionID == res.ExecutionID {
		t.Error("two runs share an execution id")
	}
	if after := e.lock(); after.Epoch != other.Epoch || after.Owner != "other-runner" || other.Epoch != before.Epoch+1 {
		t.Errorf("lock after the no-op run = %+v, want the other runner's epoch %d untouched", after, other.Epoch)
	}
	if diff := cmp.Diff([]string{"skipped schema/c1", "skipped schema/c2", "skipped flags/c3"}, events); diff != "" {
		t.Errorf("second run events (-want +got):\n%s", diff)
	}
	if len(res2.Skipped()) != 3 || len(res2.Applied()) != 0 {
		t.Errorf("Skipped() = %d, Applied() = %d, want 3 and 0", len(res2.Skipped()), len(res2.Applied()))
	}
}

func TestRunReportsEveryIssueAndRunsNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := seedEntry("s1", "b", audit.StateStarted, nonTx, manual)
	c := seedEntry("s2", "c", audit.StateRollbackFailed, nonTx, manual)
	c.Time = c.Time.Add(time.Hour)
	e.seed(b, seedEntry("s2", "c", audit.StateStarted, nonTx, manual), c)
	var issueEvents []string
	r := e.runner([]pipeline.Stage{
		e.stage("s1", spec{id: "a", order: 1, strategy: shared}, spec{id: "b", order: 2, strategy: nonTx}),
		e.stage("s2", spec{id: "c", order: 1, strategy: nonTx}, spec{id: "d", order: 2, strategy: nonTx}),
	}, pipeline.WithEvents(func(ev pipeline.Event) {
		if ev.ChangeID == "" {
			return // pipeline events: see events_test.go
		}
		if ev.Kind != pipeline.EventIssueFound {
			t.Errorf("unexpected event %+v", ev)
		}
		issueEvents = append(issueEvents, ev.ChangeID)
	}))

	res, err := r.Run(ctx)

	var ie *pipeline.IssuesError
	if !errors.As(err, &ie) || !errors.Is(err, pipeline.ErrManualInterventionRequired) {
		t.Fatalf("Run error = %v, want an *IssuesError matching ErrManualInterventionRequired", err)
	}
	wantMsg := `manual intervention required: 2 changes need an operator before anything can run
  change "b" (stage "s1"): STARTED at 2025-03-01T10:00:00Z by runner old-runner (execution seed-execution, without a transaction, recovery MANUAL)
    it ran without a transaction and its outcome was not recorded, so whether it took effect is unknown
    if its effects are in place, mark it applied; the next run skips it:
      flamingock audit fix b --resolution applied --reason "describe what you checked" --store sqlite:app.db
    if it had no effect or you undid it, mark it rolled back; the next run applies it again:
      flamingock audit fix b --resolution rolled-back --reason "describe what you checked" --store sqlite:app.db
  change "c" (stage "s2"): ROLLBACK_FAILED at 2025-03-01T11:00:00Z by runner old-runner (execution seed-execution, without a transaction, recovery MANUAL)
    error: connection reset (*net.OpError)
    its rollback failed, so the change may be partly undone
    if its effects are in place, mark it applied; the next run skips it:
      flamingock audit fix c --resolution applied --reason "describe what you checked" --store sqlite:app.db
    if it had no effect or you undid it, mark it rolled back; the next run applies it again:
      flamingock audit fix c --resolution rolled-back --reason "describe what you checked" --store sqlite:app.db`
	// The store names itself: its file, wherever the test put it.
	wantMsg = strings.ReplaceAll(wantMsg, "sqlite:app.db", e.storeURL)
	if diff := cmp.Diff(wantMsg, err.Error()); diff != "" {
		t.Errorf("error message (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b", "c"}, issueEvents); diff != "" {
		t.Errorf("issue events (-want +got):\n%s", diff)
	}
	want := []string{"s1/a=not run", "s1/b=not run", "s2/c=not run", "s2/d=not run"}
	if diff := cmp.Diff(want, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if n := e.ran(id); n != 0 {
			t.Errorf("%s ran %d times, want 0", id, n)
		}
	}
	if n := len(e.history("s1", "a")) + len(e.history("s2", "d")); n != 0 {
		t.Errorf("the run recorded %d entries, want none", n)
	}
	if lock := e.lock(); lock.Held() {
		t.Errorf("lock still held after the run: %+v", lock)
	}
}

// TestRunStoreURLInCommands: the commands an issue prints name the store
// as it names itself (audit.Locator), with the flags that reach its tables
// and lock.
func TestRunStoreURLInCommands(t *testing.T) {
	e := newEnv(t)
	e.seed(seedEntry("s1", "b", audit.StateFailed, nonTx, manual))
	tests := []struct {
		name string
		opts []pipeline.Option
		want string
	}{
		{"the store's locator", nil, "--store " + e.storeURL},
		{"and the lock key when it is not the default", []pipeline.Option{pipeline.WithLockKey("deploy")},
			"--store " + e.storeURL + " --lock-key deploy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.runner([]pipeline.Stage{e.stage("s1", spec{id: "b", strategy: nonTx})}, tt.opts...)
			_, err := r.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestAFailedChangeStopsTheRun(t *testing.T) {
	tests := []struct {
		strategy audit.Strategy
		recovery audit.Recovery
		wantNew  []audit.State
		wantRan  int // a change without a transaction keeps what it did
		wantNext string
	}{
		{shared, manual, []audit.State{audit.StateFailed}, 0, "its transaction was rolled back, so nothing was applied"},
		{separate, manual, []audit.State{audit.StateStarted, audit.StateFailed}, 0, "its transaction was rolled back, so nothing was applied"},
		{nonTx, retry, []audit.State{audit.StateStarted, audit.StateFailed}, 1, "its recovery is retry, so the next run applies it again"},
		{nonTx, manual, []audit.State{audit.StateStarted, audit.StateFailed}, 1, "flamingock audit fix c1 --resolution rolled-back"},
	}
	for _, tt := range tests {
		t.Run(string(tt.strategy)+" with recovery "+string(tt.recovery)+" records FAILED and runs no later change", func(t *testing.T) {
			e := newEnv(t)
			r := e.runner([]pipeline.Stage{
				e.stage("s1", spec{id: "c1", order: 1, strategy: tt.strategy, recovery: tt.recovery, fail: errBoom}),
				e.stage("s2", spec{id: "c2", order: 1, strategy: shared}),
			})
			res, err := r.Run(context.Background())

			var ce *pipeline.ChangeError
			if !errors.As(err, &ce) || !errors.Is(err, pipeline.ErrChangeFailed) || !errors.Is(err, errBoom) {
				t.Fatalf("Run error = %v, want a *ChangeError matching ErrChangeFailed and the change's error", err)
			}
			if ce.Stage != "s1" || ce.ChangeID != "c1" || ce.State != audit.StateFailed || !strings.Contains(ce.Next, tt.wantNext) {
				t.Errorf("ChangeError = %+v, want s1/c1 FAILED with next step %q", ce, tt.wantNext)
			}
			if diff := cmp.Diff([]string{"s1/c1=failed", "s2/c2=not run"}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if f := res.Failed(); len(f) != 1 || !errors.Is(f[0].Err, errBoom) {
				t.Errorf("Failed() = %+v, want c1 with its error", f)
			}
			h := e.history("s1", "c1")
			if diff := cmp.Diff(tt.wantNew, states(h)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if last := h[len(h)-1]; last.ErrorMessage != "boom" || last.ErrorKind != "*errors.errorString" {
				t.Errorf("FAILED entry error = %q (%s), want boom (*errors.errorString)", last.ErrorMessage, last.ErrorKind)
			}
			if n := e.ran("c1"); n != tt.wantRan {
				t.Errorf("c1 left %d effects, want %d", n, tt.wantRan)
			}
			if n := e.ran("c2"); n != 0 || len(e.history("s2", "c2")) != 0 {
				t.Errorf("c2 ran after c1 failed")
			}
		})
	}
}

func TestCompensationOfANonTransactionalChange(t *testing.T) {
	rbErr := errors.New("cannot undo")
	tests := []struct {
		name                 string
		rollback, compensate bool
		rollbackErr          error
		wantNew              []audit.State
		wantState            audit.State
		wantEvents           []pipeline.EventKind
	}{
		{"a compensation that succeeds records ROLLED_BACK", true, true, nil,
			[]audit.State{audit.StateStarted, audit.StateFailed, audit.StateRolledBack}, audit.StateRolledBack,
			[]pipeline.EventKind{pipeline.EventStarted, pipeline.EventFailed, pipeline.EventRolledBack}},
		{"a compensation that fails records ROLLBACK_FAILED", true, true, rbErr,
			[]audit.State{audit.StateStarted, audit.StateFailed, audit.StateRollbackFailed}, audit.StateRollbackFailed,
			[]pipeline.EventKind{pipeline.EventStarted, pipeline.EventFailed, pipeline.EventRollbackFailed}},
		// An undo written for a fully applied change must not run on a
		// half-applied one (issue 11: it dropped a column and its data).
		{"a rollback without compensate is an undo: the change stays FAILED", true, false, nil,
			[]audit.State{audit.StateStarted, audit.StateFailed}, audit.StateFailed,
			[]pipeline.EventKind{pipeline.EventStarted, pipeline.EventFailed}},
		{"without a rollback the change stays FAILED", false, false, nil,
			[]audit.State{audit.StateStarted, audit.StateFailed}, audit.StateFailed,
			[]pipeline.EventKind{pipeline.EventStarted, pipeline.EventFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var kinds []pipeline.EventKind
			r := e.runner([]pipeline.Stage{e.stage("s1",
				spec{id: "c1", order: 1, strategy: nonTx, fail: errBoom, rollback: tt.rollback, rollbackErr: tt.rollbackErr, compensate: tt.compensate},
				spec{id: "c2", order: 2, strategy: nonTx},
			)}, pipeline.WithEvents(func(ev pipeline.Event) {
				if ev.ChangeID != "" { // pipeline and stage events: see events_test.go
					kinds = append(kinds, ev.Kind)
				}
			}))

			_, err := r.Run(context.Background())

			var ce *pipeline.ChangeError
			if !errors.As(err, &ce) || ce.State != tt.wantState || !errors.Is(err, errBoom) {
				t.Fatalf("Run error = %v, want a *ChangeError in state %s", err, tt.wantState)
			}
			if tt.rollbackErr != nil && (!errors.Is(err, tt.rollbackErr) || ce.RollbackErr != tt.rollbackErr) {
				t.Errorf("error %v does not carry the rollback's error", err)
			}
			h := e.history("s1", "c1")
			if diff := cmp.Diff(tt.wantNew, states(h)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if last := h[len(h)-1]; tt.rollbackErr != nil && last.ErrorMessage != "cannot undo" {
				t.Errorf("ROLLBACK_FAILED entry error = %q, want the rollback's", last.ErrorMessage)
			}
			wantRollbacks := 0
			if tt.compensate {
				wantRollbacks = 1
			}
			if n := e.rec.count("c1:rollback"); n != wantRollbacks {
				t.Errorf("the rollback ran %d times, want %d", n, wantRollbacks)
			}
			if diff := cmp.Diff(tt.wantEvents, kinds); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if e.ran("c2") != 0 {
				t.Error("c2 ran after c1 failed")
			}
		})
	}
}

func TestAPanicInAChangeIsRecordedAsAFailure(t *testing.T) {
	for _, s := range []audit.Strategy{shared, separate, nonTx} {
		t.Run("under "+string(s)+" the panic is recovered and recorded as FAILED", func(t *testing.T) {
			e := newEnv(t)
			r := e.runner([]pipeline.Stage{e.stage("s1",
				spec{id: "c1", order: 1, strategy: s, panics: true},
				spec{id: "c2", order: 2, strategy: s},
			)})

			res, err := r.Run(context.Background())

			var pe *pipeline.PanicError
			if !errors.As(err, &pe) || !errors.Is(err, pipeline.ErrChangeFailed) {
				t.Fatalf("Run error = %v, want a *ChangeError wrapping a *PanicError", err)
			}
			if pe.Value != "change c1 exploded" || !strings.Contains(string(pe.Stack), "panic") {
				t.Errorf("PanicError = %v with stack %q, want the panic value and its stack", pe.Value, pe.Stack)
			}
			h := e.history("s1", "c1")
			last := h[len(h)-1]
			if last.State != audit.StateFailed || last.ErrorKind != "panic" || last.ErrorMessage != "panic: change c1 exploded" {
				t.Errorf("latest entry = %s %q (%s), want FAILED \"panic: change c1 exploded\" (panic)", last.State, last.ErrorMessage, last.ErrorKind)
			}
			wantRan := 0
			if s == nonTx {
				wantRan = 1
			}
			if n := e.ran("c1"); n != wantRan {
				t.Errorf("c1 left %d effects, want %d", n, wantRan)
			}
			if diff := cmp.Diff([]string{"s1/c1=failed", "s1/c2=not run"}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a panic in a rollback is recorded as ROLLBACK_FAILED", func(t *testing.T) {
		e := newEnv(t)
		c := pipeline.NewChange(e.meta(spec{id: "c1", strategy: nonTx, compensate: true}), pipeline.NonTransactional(e.rec),
			func(context.Context, *recorder) error { return errBoom },
			func(context.Context, *recorder) error { panic("rollback exploded") })
		r := e.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{c}}})
		_, err := r.Run(context.Background())
		var ce *pipeline.ChangeError
		if !errors.As(err, &ce) || ce.State != audit.StateRollbackFailed {
			t.Fatalf("Run error = %v, want a *ChangeError in state ROLLBACK_FAILED", err)
		}
		h := e.history("s1", "c1")
		if last := h[len(h)-1]; last.ErrorKind != "panic" || last.ErrorMessage != "panic: rollback exploded" {
			t.Errorf("latest entry error = %q (%s), want the rollback's panic", last.ErrorMessage, last.ErrorKind)
		}
	})
}

func TestACancelledRunStillRecordsTheOutcome(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := e.runner([]pipeline.Stage{e.stage("s1",
		spec{id: "c1", order: 1, strategy: nonTx, hook: func(ctx context.Context) error {
			cancel()
			return ctx.Err()
		}},
		spec{id: "c2", order: 2, strategy: nonTx},
	)})

	res, err := r.Run(ctx)

	if !errors.Is(err, pipeline.ErrChangeFailed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want a change failure caused by the cancellation", err)
	}
	if diff := cmp.Diff([]audit.State{audit.StateStarted, audit.StateFailed}, states(e.history("s1", "c1"))); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"s1/c1=failed", "s1/c2=not run"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if lock := e.lock(); lock.Held() {
		t.Errorf("lock still held after a cancelled run: %+v", lock)
	}
}

// commitFault wraps a database/sql target so that its commit (Commit, or
// CommitAudit in a shared transaction) misbehaves.
type commitFault struct {
	*sqltarget.Target
	// committed says whether Commit commits before it reports its error.
	committed bool
}

// Strategy returns f, not the target it wraps, as the target of the
// strategy: a wrapper's Begin methods are reached only through it.
func (f commitFault) Strategy(transactional bool) (pipeline.Strategy[*sql.Tx], error) {
	s, err := f.Target.Strategy(transactional)
	if err != nil || s.Name() != audit.StrategySharedTx {
		return pipeline.SeparateTx[*sql.Tx](f), err
	}
	return pipeline.SharedTx[*sql.Tx](f), nil
}

func (f commitFault) BeginShared(ctx context.Context, req pipeline.BeginRequest) (pipeline.SharedWork[*sql.Tx], error) {
	w, err := f.Target.BeginShared(ctx, req)
	if err != nil {
		return nil, err
	}
	return &faultyShared{SharedWork: w, committed: f.committed}, nil
}

func (f commitFault) BeginSeparate(ctx context.Context, req pipeline.BeginRequest) (pipeline.MarkedWork[*sql.Tx], error) {
	w, err := f.Target.BeginSeparate(ctx, req)
	if err != nil {
		return nil, err
	}
	return &faultyMarked{MarkedWork: w, committed: f.committed}, nil
}

type faultyMarked struct {
	pipeline.MarkedWork[*sql.Tx]
	committed bool
}

func (w *faultyMarked) Commit(ctx context.Context) error {
	if w.committed {
		if err := w.MarkedWork.Commit(ctx); err != nil {
			return err
		}
	} else if err := w.Abort(ctx); err != nil {
		return err
	}
	return errors.New("connection lost during commit")
}

// faultyShared's CommitAudit misbehaves as faultyMarked's Commit does; when
// it does not commit, the runner's Abort rolls back.
type faultyShared struct {
	pipeline.SharedWork[*sql.Tx]
	committed bool
}

func (w *faultyShared) CommitAudit(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	if w.committed {
		if _, err := w.SharedWork.CommitAudit(ctx, l, e); err != nil {
			return audit.Entry{}, err
		}
	}
	return audit.Entry{}, errors.New("connection lost during commit")
}

func TestACommitErrorIsCheckedAgainstWhatCommitted(t *testing.T) {
	tests := []struct {
		name      string
		strategy  audit.Strategy
		committed bool
		want      pipeline.Status
		wantNew   []audit.State
		wantRan   int
	}{
		{"shared transaction that committed despite the error is applied (APPLIED was in it)", shared, true,
			pipeline.StatusApplied, []audit.State{audit.StateApplied}, 1},
		{"shared transaction that did not commit is FAILED", shared, false,
			pipeline.StatusFailed, []audit.State{audit.StateFailed}, 0},
		{"separate transaction that committed despite the error is applied (the marker proves it)", separate, true,
			pipeline.StatusApplied, []audit.State{audit.StateStarted, audit.StateApplied}, 1},
		{"separate transaction that did not commit is FAILED", separate, false,
			pipeline.StatusFailed, []audit.State{audit.StateStarted, audit.StateFailed}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tg := e.shared
			if tt.strategy == separate {
				tg = e.separate
			}
			m := e.meta(spec{id: "c1", strategy: tt.strategy})
			c := pipeline.NewChange(m, pipeline.Target[*sql.Tx](commitFault{Target: tg, committed: tt.committed}),
				func(ctx context.Context, tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO effects (change_id) VALUES ('c1')`)
					return err
				}, nil)
			r := e.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{c}}})

			res, err := r.Run(context.Background())

			if (tt.want == pipeline.StatusFailed) != errors.Is(err, pipeline.ErrChangeFailed) {
				t.Errorf("Run error = %v, want a change failure: %v", err, tt.want == pipeline.StatusFailed)
			}
			if diff := cmp.Diff([]string{"s1/c1=" + string(tt.want)}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNew, states(e.history("s1", "c1"))); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if n := e.ran("c1"); n != tt.wantRan {
				t.Errorf("c1 left %d effects, want %d", n, tt.wantRan)
			}
		})
	}
}

// refusingStore is the SQLite store with a write that fails.
type refusingStore struct {
	*sqlite.Store
	refuse audit.State
}

func (s refusingStore) Append(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	if e.State == s.refuse {
		return audit.Entry{}, errors.New("disk I/O error")
	}
	return s.Store.Append(ctx, l, e)
}

func TestACrashBetweenCommitAndAppliedIsRecoveredFromTheMarker(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stages := []pipeline.Stage{e.stage("s1", spec{id: "c1", order: 1, strategy: separate}, spec{id: "c2", order: 2, strategy: separate})}

	// The first run commits c1 but cannot record APPLIED, as if it died there.
	first, err := pipeline.New(refusingStore{Store: e.store, refuse: audit.StateApplied}, stages, pipeline.WithRunnerID("first"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := first.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "disk I/O error") || !strings.Contains(err.Error(), "stays STARTED") {
		t.Fatalf("first run error = %v, want the refused APPLIED", err)
	}
	if diff := cmp.Diff([]string{"s1/c1=failed", "s1/c2=not run"}, statuses(res)); diff != "" {
		t.Errorf("first run outcomes (-want +got):\n%s", diff)
	}
	if !e.hasMarker("s1", "c1", res.ExecutionID) {
		t.Fatal("no marker after the commit")
	}

	plan, err := e.runner(stages).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Changes[0].Action; got != pipeline.ActionRecover {
		t.Errorf("planned action for c1 = %s, want %s", got, pipeline.ActionRecover)
	}

	res, err = e.runner(stages).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/c1=recovered", "s1/c2=applied"}, statuses(res)); diff != "" {
		t.Errorf("second run outcomes (-want +got):\n%s", diff)
	}
	if n := e.ran("c1"); n != 1 {
		t.Errorf("c1 ran %d times, want 1", n)
	}
	h := e.history("s1", "c1")
	if diff := cmp.Diff([]audit.State{audit.StateStarted, audit.StateApplied}, states(h)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if !strings.Contains(h[1].Reason, "recovered") {
		t.Errorf("recovered APPLIED entry reason = %q, want it to say so", h[1].Reason)
	}
}
