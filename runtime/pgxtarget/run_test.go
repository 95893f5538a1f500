package pgxtarget_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestSharedTransaction(t *testing.T) {
	t.Run("the change and its APPLIED entry commit together; a failing change leaves neither", func(t *testing.T) {
		e := newEnv(t)
		fx := effects(t, e.pool, e.schema)
		tg := pgxtarget.Shared(e.store)
		broken := func(ctx context.Context, tx pgx.Tx) error {
			if err := effect(fx, "c2")(ctx, tx); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO no_such_table VALUES (1)")
			return err
		}
		st := stages(change("c1", 1, tg, true, effect(fx, "c1")), change("c2", 2, tg, true, broken))

		res, err := runner(t, e.store, st).Run(t.Context())

		if !errors.Is(err, pipeline.ErrChangeFailed) || !strings.Contains(err.Error(), "no_such_table") {
			t.Fatalf("Run error = %v, want c2's failure", err)
		}
		if diff := cmp.Diff([]string{"s1/c1=applied", "s1/c2=failed"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"APPLIED SHARED_TX"}, states(history(t, e.store, "c1"))); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
		// FAILED is recorded after the rollback; no APPLIED, and no row of
		// the statement that succeeded before the one that failed.
		if diff := cmp.Diff([]string{"FAILED SHARED_TX"}, states(history(t, e.store, "c2"))); diff != "" {
			t.Errorf("c2 entries (-want +got):\n%s", diff)
		}
		if c1, c2 := ran(t, e.pool, fx, "c1"), ran(t, e.pool, fx, "c2"); c1 != 1 || c2 != 0 {
			t.Errorf("effects: c1 %d, c2 %d; want 1 and 0", c1, c2)
		}

		fixed := stages(change("c1", 1, tg, true, effect(fx, "c1")), change("c2", 2, tg, true, effect(fx, "c2")))
		res, err = runner(t, e.store, fixed).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"s1/c1=skipped", "s1/c2=applied"}, statuses(res)); diff != "" {
			t.Errorf("outcomes of the next run (-want +got):\n%s", diff)
		}
		if c1, c2 := ran(t, e.pool, fx, "c1"), ran(t, e.pool, fx, "c2"); c1 != 1 || c2 != 1 {
			t.Errorf("effects after the next run: c1 %d, c2 %d; want 1 and 1", c1, c2)
		}
	})

	t.Run("a change whose lease was taken over meanwhile is rolled back with its entry", func(t *testing.T) {
		e := newEnv(t)
		fx := effects(t, e.pool, e.schema)
		lockTable := pgx.Identifier{e.schema, "flamingock_lock"}.Sanitize()
		takeover := func(ctx context.Context, tx pgx.Tx) error {
			if err := effect(fx, "c1")(ctx, tx); err != nil {
				return err
			}
			// Another runner takes the lock over, as after an expiry.
			_, err := e.srv.Admin.Exec(ctx, "UPDATE "+lockTable+" SET owner = 'usurper', epoch = epoch + 1")
			return err
		}

		res, err := runner(t, e.store, stages(change("c1", 1, pgxtarget.Shared(e.store), true, takeover))).Run(t.Context())

		if !errors.Is(err, pipeline.ErrLockLost) || !errors.Is(err, audit.ErrFenced) {
			t.Fatalf("Run error = %v, want the lost lock", err)
		}
		if diff := cmp.Diff([]string{"s1/c1=failed"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if h := history(t, e.store, "c1"); len(h) != 0 {
			t.Errorf("c1 entries = %v, want none", states(h))
		}
		if n := ran(t, e.pool, fx, "c1"); n != 0 {
			t.Errorf("c1 left %d effects, want 0: its transaction must roll back with the refused entry", n)
		}
		if n := e.pool.Stat().AcquiredConns(); n != 0 {
			t.Errorf("%d connections still held after the run, want 0", n)
		}
	})

	t.Run("a change that hid a failed statement is not committed and is recorded FAILED", func(t *testing.T) {
		e := newEnv(t)
		fx := effects(t, e.pool, e.schema)
		hiding := func(ctx context.Context, tx pgx.Tx) error {
			if err := effect(fx, "c1")(ctx, tx); err != nil {
				return err
			}
			_, _ = tx.Exec(ctx, "INSERT INTO no_such_table VALUES (1)") // the error is dropped
			return nil
		}

		res, err := runner(t, e.store, stages(change("c1", 1, pgxtarget.Shared(e.store), true, hiding))).Run(t.Context())

		if !errors.Is(err, pipeline.ErrChangeFailed) || errors.Is(err, audit.ErrFenced) {
			t.Fatalf("Run error = %v, want a change failure", err)
		}
		if diff := cmp.Diff([]string{"s1/c1=failed"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"FAILED SHARED_TX"}, states(history(t, e.store, "c1"))); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
		if n := ran(t, e.pool, fx, "c1"); n != 0 {
			t.Errorf("c1 left %d effects, want 0", n)
		}
		if n := e.pool.Stat().AcquiredConns(); n != 0 {
			t.Errorf("%d connections still held after the run, want 0", n)
		}
	})
}

func TestMarkerStrategyInAnotherDatabase(t *testing.T) {
	e := newEnv(t)
	target := e.srv.Pool(t, pgtest.Database(e.srv.Database(t)), pgtest.MaxConns(2))
	fx := effects(t, target, "")
	tg := pgxtarget.New(target)
	st := stages(change("c1", 1, tg, true, effect(fx, "c1")), change("c2", 2, tg, true, effect(fx, "c2")))
	ctx := t.Context()

	// The first run commits c1 in the target and dies before recording
	// APPLIED.
	res, err := runner(t, refusingStore{Store: e.store, refuse: audit.StateApplied}, st, pipeline.WithRunnerID("first")).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "simulated crash") || !strings.Contains(err.Error(), "stays STARTED") {
		t.Fatalf("first run error = %v, want the crash before APPLIED", err)
	}
	if diff := cmp.Diff([]string{"s1/c1=failed", "s1/c2=not run"}, statuses(res)); diff != "" {
		t.Errorf("first run outcomes (-want +got):\n%s", diff)
	}
	if found, err := tg.HasMarker(ctx, pipeline.Marker{Key: audit.Key{Stage: "s1", ChangeID: "c1"}, ExecutionID: res.ExecutionID}); err != nil || !found {
		t.Fatalf("marker of the first run: %v, %v; want it committed with c1", found, err)
	}

	plan, err := runner(t, e.store, st).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Changes[0].Action; got != pipeline.ActionRecover {
		t.Errorf("planned action for c1 = %s, want %s", got, pipeline.ActionRecover)
	}

	res, err = runner(t, e.store, st, pipeline.WithRunnerID("second")).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s1/c1=recovered", "s1/c2=applied"}, statuses(res)); diff != "" {
		t.Errorf("second run outcomes (-want +got):\n%s", diff)
	}
	if c1, c2 := ran(t, target, fx, "c1"), ran(t, target, fx, "c2"); c1 != 1 || c2 != 1 {
		t.Errorf("effects: c1 %d, c2 %d; want each once", c1, c2)
	}
	h := history(t, e.store, "c1")
	if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "APPLIED SEPARATE_TX"}, states(h)); diff != "" {
		t.Errorf("c1 entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "APPLIED SEPARATE_TX"}, states(history(t, e.store, "c2"))); diff != "" {
		t.Errorf("c2 entries (-want +got):\n%s", diff)
	}
	var markers int
	if err := target.QueryRow(ctx, "SELECT count(*) FROM flamingock_marker").Scan(&markers); err != nil {
		t.Fatal(err)
	}
	if markers != 0 {
		t.Errorf("%d markers left after APPLIED, want none", markers)
	}
}

func TestTargetFaults(t *testing.T) {
	t.Run("a target server that is down fails the change before it runs, with the address", func(t *testing.T) {
		e := newEnv(t)
		down := e.srv.Pool(t, pgtest.MaxConns(1))
		// The same pool settings, at an address where nothing listens.
		cfg := down.Config()
		cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", 1
		tg := pgxtarget.New(pgtest.NewPool(t, cfg))
		var calls counter
		apply := func(context.Context, pgx.Tx) error { calls.add(); return nil }

		_, err := runner(t, e.store, stages(change("c1", 1, tg, true, apply))).Run(t.Context())

		for _, want := range []string{"127.0.0.1:1", "connection refused"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Run error = %v, want it to say %q", err, want)
			}
		}
		if !errors.Is(err, pipeline.ErrChangeFailed) {
			t.Errorf("Run error = %v, want a change failure", err)
		}
		if calls.get() != 0 {
			t.Errorf("the change ran %d times, want 0", calls.get())
		}
		// A transactional change that failed is applied again next time.
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "FAILED SEPARATE_TX"}, states(history(t, e.store, "c1"))); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
	})

	t.Run("permission denied on the marker table fails the change before it runs, with the GRANT", func(t *testing.T) {
		e := newEnv(t)
		role := e.srv.Role(t)
		r := pgx.Identifier{role}.Sanitize()
		fx := effects(t, e.pool, e.schema)
		exec(t, e.pool, "GRANT USAGE ON SCHEMA "+pgx.Identifier{e.schema}.Sanitize()+" TO "+r)
		exec(t, e.pool, "GRANT SELECT, INSERT ON "+fx+" TO "+r)
		marker := pgxtarget.WithMarkerTable(e.schema + ".flamingock_marker")
		// An administrator created the marker table, without grants.
		if w, err := pgxtarget.New(e.srv.Admin, marker).BeginSeparate(t.Context(), pipeline.BeginRequest{}); err != nil {
			t.Fatal(err)
		} else if err := w.Abort(t.Context()); err != nil {
			t.Fatal(err)
		}
		var calls counter
		apply := func(ctx context.Context, tx pgx.Tx) error { calls.add(); return effect(fx, "c1")(ctx, tx) }
		asRole := e.srv.Pool(t, pgtest.User(role), pgtest.MaxConns(2))
		st := stages(change("c1", 1, pgxtarget.New(asRole, marker), true, apply))

		_, err := runner(t, e.store, st).Run(t.Context())

		grant := "GRANT SELECT, INSERT, UPDATE, DELETE ON " + pgx.Identifier{e.schema, "flamingock_marker"}.Sanitize() + " TO " + r
		for _, want := range []string{"permission denied", grant} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Run error = %v, want it to say %q", err, want)
			}
		}
		if calls.get() != 0 || ran(t, e.pool, fx, "c1") != 0 {
			t.Errorf("the change ran %d times and left %d effects, want none", calls.get(), ran(t, e.pool, fx, "c1"))
		}
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "FAILED SEPARATE_TX"}, states(history(t, e.store, "c1"))); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}

		// The GRANT the error names is enough.
		exec(t, e.pool, grant)
		if _, err := runner(t, e.store, st).Run(t.Context()); err != nil {
			t.Fatalf("run after the GRANT: %v", err)
		}
		if n := ran(t, e.pool, fx, "c1"); n != 1 {
			t.Errorf("c1 left %d effects after the GRANT, want 1", n)
		}
	})

	t.Run("a user that may not create the marker table is told how to get it", func(t *testing.T) {
		e := newEnv(t)
		role := e.srv.Role(t)
		exec(t, e.pool, "GRANT USAGE ON SCHEMA "+pgx.Identifier{e.schema}.Sanitize()+" TO "+pgx.Identifier{role}.Sanitize())
		asRole := e.srv.Pool(t, pgtest.User(role), pgtest.MaxConns(1))
		_, err := pgxtarget.New(asRole, pgxtarget.WithMarkerTable(e.schema+".flamingock_marker")).
			BeginSeparate(t.Context(), pipeline.BeginRequest{})
		for _, want := range []string{"create marker table", "permission denied for schema",
			"GRANT CREATE ON SCHEMA " + pgx.Identifier{e.schema}.Sanitize() + " TO " + pgx.Identifier{role}.Sanitize(),
			"CREATE TABLE IF NOT EXISTS"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("BeginSeparate error = %v, want it to say %q", err, want)
			}
		}
	})
}
