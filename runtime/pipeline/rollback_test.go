package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// undoable declares change id with a rollback. On a database/sql target
// (shared or separate) the change creates table t_<id> and its rollback
// drops it; without a transaction they count "id" and "id:rollback" in
// the recorder. rb, when set, runs at the end of the rollback and its
// error fails it (inside the transaction, which is then rolled back).
func (e *env) undoable(id string, order uint64, s audit.Strategy, recovery audit.Recovery, rb func(context.Context) error) pipeline.Change {
	m := e.meta(spec{id: id, order: order, strategy: s, recovery: recovery})
	after := func(ctx context.Context) error {
		if rb != nil {
			return rb(ctx)
		}
		return nil
	}
	if s == nonTx {
		return pipeline.NewChange(m, pipeline.NonTransactional(e.rec),
			func(_ context.Context, r *recorder) error { r.add(id); return nil },
			func(ctx context.Context, r *recorder) error { r.add(id + ":rollback"); return after(ctx) })
	}
	t := e.shared
	if s == separate {
		t = e.separate
	}
	return pipeline.NewChange(m, pipeline.Target[*sql.Tx](t),
		func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `CREATE TABLE t_`+id+` (x INTEGER)`)
			return err
		},
		func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DROP TABLE t_`+id); err != nil {
				return err
			}
			return after(ctx)
		})
}

// hasTable reports whether table t_<id> exists in the database of the
// target of strategy s.
func (e *env) hasTable(s audit.Strategy, id string) bool {
	e.t.Helper()
	db := e.store.DB()
	if s == separate {
		db = e.targetDB
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, "t_"+id).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n == 1
}

// applied runs the pipeline of stages and fails the test unless it
// succeeds.
func (e *env) applied(stages []pipeline.Stage) {
	e.t.Helper()
	if _, err := e.runner(stages).Run(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func TestRollbackToRollsBackNewerChangesNewestFirst(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stages := []pipeline.Stage{
		{Name: "s1", Changes: []pipeline.Change{
			e.undoable("a", 1, shared, manual, nil),
			e.undoable("b", 2, separate, manual, nil),
		}},
		{Name: "s2", Changes: []pipeline.Change{
			e.undoable("c", 1, nonTx, manual, nil),
			e.change(spec{id: "never", order: 2, strategy: nonTx}), // no rollback, but not applied
			e.undoable("d", 3, shared, manual, nil),
		}},
	}
	r := e.runner(stages)
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// "never" is rolled back by hand and marked so.
	e.seed(seedEntry("s2", "never", audit.StateManualRolledBack, nonTx, manual))

	res, err := r.RollbackTo(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}

	want := []string{"s2/d=rolled back", "s2/never=skipped", "s2/c=rolled back", "s1/b=rolled back"}
	if diff := cmp.Diff(want, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if len(res.RolledBack()) != 3 {
		t.Errorf("RolledBack() = %+v, want 3 changes", res.RolledBack())
	}
	if !e.hasTable(shared, "a") || e.hasTable(separate, "b") || e.hasTable(shared, "d") {
		t.Errorf("tables a, b, d exist: %v %v %v, want only a", e.hasTable(shared, "a"), e.hasTable(separate, "b"), e.hasTable(shared, "d"))
	}
	if n := e.rec.count("c:rollback"); n != 1 {
		t.Errorf("the rollback of c ran %d times, want 1", n)
	}
	tests := []struct {
		stage, id string
		want      []audit.State
		// rollback is how many of the entries the rollback wrote.
		rollback int
	}{
		// The shared transaction needs no STARTED: a crash leaves nothing.
		{"s1", "a", []audit.State{audit.StateApplied}, 0},
		{"s1", "b", []audit.State{audit.StateStarted, audit.StateApplied, audit.StateStarted, audit.StateRolledBack}, 2},
		{"s2", "c", []audit.State{audit.StateStarted, audit.StateApplied, audit.StateStarted, audit.StateRolledBack}, 2},
		{"s2", "d", []audit.State{audit.StateApplied, audit.StateRolledBack}, 1},
	}
	for _, tt := range tests {
		h := e.history(tt.stage, tt.id)
		if diff := cmp.Diff(tt.want, states(h)); diff != "" {
			t.Errorf("entries of %s (-want +got):\n%s", tt.id, diff)
			continue
		}
		for _, en := range h[len(h)-tt.rollback:] {
			if en.ExecutionID != res.ExecutionID || en.Reason != `rollback of every change after "a"` {
				t.Errorf("rollback entry of %s = execution %s reason %q, want execution %s and the rollback's reason",
					tt.id, en.ExecutionID, en.Reason, res.ExecutionID)
			}
		}
	}
	for _, exec := range []string{res.ExecutionID, res.ExecutionID + "/rolled-back"} {
		if e.hasMarker("s1", "b", exec) {
			t.Errorf("marker of %s left behind", exec)
		}
	}
	if l := e.lock(); l.Held() {
		t.Errorf("lock still held after the rollback: %+v", l)
	}

	// What was rolled back is pending, and the next run applies it again.
	var pe *pipeline.PendingError
	if err := r.Validate(ctx); !errors.As(err, &pe) || len(pe.Changes) != 4 {
		t.Errorf("Validate = %v, want b, c, never and d pending", err)
	}
	res, err = r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"s1/a=skipped", "s1/b=applied", "s2/c=applied", "s2/never=applied", "s2/d=applied"}
	if diff := cmp.Diff(want, statuses(res)); diff != "" {
		t.Errorf("outcomes of the next run (-want +got):\n%s", diff)
	}
	if !e.hasTable(separate, "b") || !e.hasTable(shared, "d") || e.rec.count("c") != 2 {
		t.Error("the next run did not apply b, c and d again")
	}
}

func TestRollbackToInclusiveRollsBackTheGivenChangeToo(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{
		e.undoable("a", 1, shared, manual, nil),
		e.undoable("b", 2, nonTx, manual, nil),
	}}})
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}

	res, err := r.RollbackTo(ctx, "a", pipeline.Inclusive())
	if err != nil {
		t.Fatal(err)
	}

	if diff := cmp.Diff([]string{"s1/b=rolled back", "s1/a=rolled back"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if e.hasTable(shared, "a") {
		t.Error("table a still exists")
	}
	if h := e.history("s1", "a"); h[len(h)-1].Reason != `rollback of change "a" and every change after it` {
		t.Errorf("reason recorded = %q", h[len(h)-1].Reason)
	}

	// Nothing is applied any more: the next rollback has nothing to do
	// and takes no lock, even one another runner holds.
	other, err := e.store.Acquire(ctx, lockKey, "other-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	res, err = r.RollbackTo(ctx, "a", pipeline.Inclusive())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/b=skipped", "s1/a=skipped"}, statuses(res)); diff != "" {
		t.Errorf("outcomes of the second rollback (-want +got):\n%s", diff)
	}
	if l := e.lock(); l.Owner != "other-runner" || l.Epoch != other.Epoch {
		t.Errorf("lock = %+v, want the other runner's untouched", l)
	}
}

func TestRollbackToRefusesBeforeAnythingRuns(t *testing.T) {
	tests := []struct {
		name string
		// seed adds entries after the pipeline was applied.
		seed    func(e *env)
		id      string
		wantErr error
		wantMsg []string
	}{
		{
			name: "an id no stage declares", id: "nope", wantErr: pipeline.ErrUnknownChange,
			wantMsg: []string{`unknown change: no stage of the pipeline declares change "nope"`},
		},
		{
			name: "a change in the range that declares no rollback", id: "a", wantErr: pipeline.ErrRollbackRefused,
			wantMsg: []string{`rollback refused: 1 change cannot be rolled back, so nothing was rolled back
  change "b" (stage "s1"): it is applied and declares no rollback`},
		},
		{
			name: "an issue anywhere in the pipeline", id: "b", wantErr: pipeline.ErrManualInterventionRequired,
			seed:    func(e *env) { e.seed(seedEntry("s1", "a", audit.StateStarted, nonTx, manual)) },
			wantMsg: []string{`change "a" (stage "s1"): STARTED`, "flamingock audit fix a --resolution applied"},
		},
		{
			name: "a change whose outcome is uncertain under recovery retry", id: "b", wantErr: pipeline.ErrRollbackRefused,
			seed:    func(e *env) { e.seed(seedEntry("s1", "c", audit.StateFailed, nonTx, retry)) },
			wantMsg: []string{`change "c" (stage "s1"): FAILED; it failed without a transaction, so it may have partly taken effect; run the pipeline first`},
		},
		{
			name: "a separate transaction committed but not recorded yet", id: "b", wantErr: pipeline.ErrRollbackRefused,
			seed: func(e *env) {
				e.seed(seedEntry("s1", "d", audit.StateStarted, separate, manual))
				e.seedMarker("s1", "d", seedExec)
			},
			wantMsg: []string{`change "d" (stage "s1"): STARTED at 2025-03-01T10:00:00Z by runner old-runner; the marker in target "otherdb" shows its transaction committed; run the pipeline first, which records it as applied`},
		},
	}
	for _, tt := range tests {
		t.Run("RollbackTo refuses "+tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			r := e.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{
				e.undoable("a", 1, shared, manual, nil),
				e.change(spec{id: "b", order: 2, strategy: nonTx}),
				e.undoable("c", 3, nonTx, retry, nil),
				e.undoable("d", 4, separate, manual, nil),
			}}})
			if _, err := r.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if tt.seed != nil {
				tt.seed(e)
			}
			before, err := e.store.History(ctx, audit.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			lock := e.lock()

			res, err := r.RollbackTo(ctx, tt.id)

			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("RollbackTo error = %v, want one matching %v", err, tt.wantErr)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error message\n%s\ndoes not contain\n%s", err, m)
				}
			}
			if res == nil || len(res.RolledBack()) != 0 {
				t.Errorf("Result = %+v, want one with nothing rolled back", res)
			}
			after, err := e.store.History(ctx, audit.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("the trail grew from %d to %d entries", len(before), len(after))
			}
			if n := e.rec.count("c:rollback"); n != 0 || !e.hasTable(shared, "a") || !e.hasTable(separate, "d") {
				t.Error("a rollback ran")
			}
			if l := e.lock(); l.Epoch != lock.Epoch {
				t.Errorf("lock epoch went from %d to %d: RollbackTo took the lock", lock.Epoch, l.Epoch)
			}
		})
	}
}

func TestAFailedRollbackStopsTheRollback(t *testing.T) {
	errUndo := errors.New("cannot undo")
	tests := []struct {
		name      string
		strategy  audit.Strategy
		wantNew   []audit.State // entries of the failed change after its apply
		wantState audit.State
		// wantNext is what the next run does with the failed change.
		wantNext error
	}{
		{"without a transaction the change is left ROLLBACK_FAILED, an issue", nonTx,
			[]audit.State{audit.StateStarted, audit.StateRollbackFailed}, audit.StateRollbackFailed, pipeline.ErrManualInterventionRequired},
		{"in a shared transaction nothing was undone: ROLLBACK_FAILED, then APPLIED again", shared,
			[]audit.State{audit.StateRollbackFailed, audit.StateApplied}, audit.StateApplied, nil},
		{"in a separate transaction nothing was undone: ROLLBACK_FAILED, then APPLIED again", separate,
			[]audit.State{audit.StateStarted, audit.StateRollbackFailed, audit.StateApplied}, audit.StateApplied, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			r := e.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{
				e.undoable("a", 1, nonTx, manual, nil),
				e.undoable("b", 2, nonTx, manual, nil),
				e.undoable("c", 3, tt.strategy, manual, func(context.Context) error { return errUndo }),
				e.undoable("d", 4, nonTx, manual, nil),
			}}})
			if _, err := r.Run(ctx); err != nil {
				t.Fatal(err)
			}
			applied := len(e.history("s1", "c"))

			res, err := r.RollbackTo(ctx, "a")

			var re *pipeline.RollbackError
			if !errors.As(err, &re) || !errors.Is(err, pipeline.ErrRollbackFailed) || !errors.Is(err, errUndo) {
				t.Fatalf("RollbackTo error = %v, want a *RollbackError matching ErrRollbackFailed and the rollback's error", err)
			}
			if re.ChangeID != "c" || re.State != tt.wantState {
				t.Errorf("RollbackError = %+v, want change c in state %s", re, tt.wantState)
			}
			if diff := cmp.Diff([]string{"s1/d=rolled back", "s1/c=failed", "s1/b=not run"}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			h := e.history("s1", "c")
			if diff := cmp.Diff(tt.wantNew, states(h[applied:])); diff != "" {
				t.Errorf("entries of c after its apply (-want +got):\n%s", diff)
			}
			for _, en := range h[applied:] {
				if en.State == audit.StateRollbackFailed && (en.ErrorMessage != "cannot undo" || en.ErrorKind != "*errors.errorString") {
					t.Errorf("ROLLBACK_FAILED error = %q (%s), want the rollback's", en.ErrorMessage, en.ErrorKind)
				}
			}
			if tt.strategy != nonTx && !e.hasTable(tt.strategy, "c") {
				t.Error("table c was dropped although the rollback's transaction failed")
			}
			if tt.strategy == separate && (e.hasMarker("s1", "c", res.ExecutionID) || e.hasMarker("s1", "c", res.ExecutionID+"/rolled-back")) {
				t.Error("marker of the rollback left behind")
			}
			if e.rec.count("b:rollback") != 0 || len(e.history("s1", "b")) != 2 {
				t.Error("b was rolled back after c failed")
			}

			// The next run judges c by the state the rollback left.
			err = r.Validate(ctx)
			var ie *pipeline.IssuesError
			switch {
			case tt.wantNext != nil && !errors.Is(err, tt.wantNext):
				t.Errorf("Validate = %v, want %v", err, tt.wantNext)
			case tt.wantNext != nil && (!errors.As(err, &ie) || len(ie.Issues) != 1 || ie.Issues[0].ChangeID != "c"):
				t.Errorf("issues = %v, want c", err)
			case tt.wantNext == nil:
				var pe *pipeline.PendingError
				if !errors.As(err, &pe) || len(pe.Changes) != 1 || pe.Changes[0].ChangeID != "d" {
					t.Errorf("Validate = %v, want only d pending: c is applied", err)
				}
			}
		})
	}
}

// TestARollbackInterruptedMidwayIsJudgedRightByTheNextRun stops
// rollbacks at the points where a crash could: the store refuses the
// entry that would have ended them.
func TestARollbackInterruptedMidwayIsJudgedRightByTheNextRun(t *testing.T) {
	errUndo := errors.New("cannot undo")
	tests := []struct {
		name     string
		strategy audit.Strategy
		recovery audit.Recovery
		// rollbackErr fails the rollback; refuse is the entry the store
		// refuses.
		rollbackErr error
		refuse      audit.State
		wantAction  pipeline.Action
		wantTable   bool // after the next run
	}{
		{"without a transaction, rolled back but not recorded: an issue under recovery manual", nonTx, manual,
			nil, audit.StateRolledBack, pipeline.ActionIssue, false},
		{"without a transaction, rolled back but not recorded: applied again under recovery retry", nonTx, retry,
			nil, audit.StateRolledBack, pipeline.ActionApply, false},
		{"in a separate transaction that committed: no marker of the execution, so applied again", separate, manual,
			nil, audit.StateRolledBack, pipeline.ActionApply, true},
		{"in a separate transaction that did not commit: its marker proves the change is still applied", separate, manual,
			errUndo, audit.StateRollbackFailed, pipeline.ActionRecover, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			var rb func(context.Context) error
			if tt.rollbackErr != nil {
				rb = func(context.Context) error { return tt.rollbackErr }
			}
			stages := []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{
				e.undoable("a", 1, nonTx, manual, nil),
				e.undoable("b", 2, tt.strategy, tt.recovery, rb),
			}}}
			e.applied(stages)
			broken, err := pipeline.New(refusingStore{Store: e.store, refuse: tt.refuse}, stages, pipeline.WithRunnerID("broken"))
			if err != nil {
				t.Fatal(err)
			}

			res, err := broken.RollbackTo(ctx, "a")

			if err == nil || !strings.Contains(err.Error(), "disk I/O error") {
				t.Fatalf("RollbackTo error = %v, want the refused %s", err, tt.refuse)
			}
			if diff := cmp.Diff([]string{"s1/b=failed"}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if h := e.history("s1", "b"); h[len(h)-1].State != audit.StateStarted {
				t.Fatalf("latest entry of b = %s, want the rollback's STARTED", h[len(h)-1].State)
			}

			p, err := e.runner(stages).Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Changes[1].Action; got != tt.wantAction {
				t.Fatalf("next run's action for b = %s (%s), want %s", got, p.Changes[1].Reason, tt.wantAction)
			}
			res, err = e.runner(stages).Run(ctx)
			if tt.wantAction == pipeline.ActionIssue {
				if !errors.Is(err, pipeline.ErrManualInterventionRequired) {
					t.Errorf("next run error = %v, want the issue", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantStatus := map[pipeline.Action]string{pipeline.ActionApply: "applied", pipeline.ActionRecover: "recovered"}[tt.wantAction]
			if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=" + wantStatus}, statuses(res)); diff != "" {
				t.Errorf("next run's outcomes (-want +got):\n%s", diff)
			}
			if tt.strategy == separate && !e.hasTable(separate, "b") {
				t.Error("table b does not exist after the next run")
			}
		})
	}
}

func TestALostLeaseStopsTheRollback(t *testing.T) {
	tests := []struct {
		strategy audit.Strategy
		wantNew  []audit.State // entries of c written by the rollback
		wantNext pipeline.Action
	}{
		// (A shared SQLite transaction cannot lose its lease: it holds the
		// write lock, so nobody can take the lock over, and the store renews
		// the lease when it records the rollback.)
		//
		// The rollback committed with its own marker, but ROLLED_BACK was
		// refused: the next run finds no marker of the execution that wrote
		// STARTED and applies c again.
		{separate, []audit.State{audit.StateStarted}, pipeline.ActionApply},
		// The rollback happened; the next run sees STARTED without a
		// transaction.
		{nonTx, []audit.State{audit.StateStarted}, pipeline.ActionIssue},
	}
	for _, tt := range tests {
		t.Run("under "+string(tt.strategy)+" the refused write stops the rollback with ErrLockLost", func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			stall := new(atomic.Bool)
			// The rollback stops the refreshes and returns only once its
			// lease is gone: taken over.
			hook := func(ctx context.Context) error {
				stall.Store(true)
				giveUp := time.Now().Add(time.Minute) // a guard: the lease expires in 150ms
				for time.Now().Before(giveUp) {
					if _, err := e.store.Acquire(ctx, lockKey, "intruder", time.Minute); err == nil {
						return nil
					} else if !errors.Is(err, audit.ErrLockHeld) {
						return err
					}
					time.Sleep(5 * time.Millisecond) // waiting for the store's clock to pass the expiry
				}
				return errors.New("the lease never expired")
			}
			stages := []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{
				e.undoable("b", 1, nonTx, manual, nil),
				e.undoable("c", 2, tt.strategy, manual, hook),
				e.undoable("d", 3, nonTx, manual, nil),
			}}}
			e.applied(stages)
			r, err := pipeline.New(stalledStore{Store: e.store, stall: stall}, stages, pipeline.WithLease(150*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			applied := len(e.history("s1", "c"))

			res, err := r.RollbackTo(ctx, "b")

			if !errors.Is(err, pipeline.ErrLockLost) || !errors.Is(err, audit.ErrFenced) {
				t.Fatalf("RollbackTo error = %v, want one matching ErrLockLost and audit.ErrFenced", err)
			}
			if diff := cmp.Diff([]string{"s1/d=rolled back", "s1/c=failed"}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNew, states(e.history("s1", "c")[applied:])); diff != "" {
				t.Errorf("entries of c written by the rollback (-want +got):\n%s", diff)
			}
			if tt.strategy == separate && e.hasTable(separate, "c") {
				t.Error("table c still exists although its rollback committed")
			}
			if tt.strategy == nonTx && e.rec.count("c:rollback") != 1 {
				t.Error("the rollback of c did not run")
			}
			if e.rec.count("b:rollback") != 0 {
				t.Error("b was rolled back after the lease was lost")
			}
			p, err := e.runner(stages).Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Changes[1].Action; got != tt.wantNext {
				t.Errorf("next run's action for c = %s (%s), want %s", got, p.Changes[1].Reason, tt.wantNext)
			}
		})
	}
}

func TestAPanicInARollbackIsRecordedAsItsFailure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.runner([]pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{
		e.undoable("a", 1, nonTx, manual, nil),
		e.undoable("b", 2, nonTx, manual, func(context.Context) error { panic("rollback exploded") }),
	}}})
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}

	_, err := r.RollbackTo(ctx, "a")

	var pe *pipeline.PanicError
	if !errors.As(err, &pe) || !errors.Is(err, pipeline.ErrRollbackFailed) || pe.Value != "rollback exploded" {
		t.Fatalf("RollbackTo error = %v, want a *RollbackError wrapping the *PanicError", err)
	}
	h := e.history("s1", "b")
	if last := h[len(h)-1]; last.State != audit.StateRollbackFailed || last.ErrorKind != "panic" {
		t.Errorf("latest entry = %s (%s), want ROLLBACK_FAILED (panic)", last.State, last.ErrorKind)
	}
}
