package pgxtarget_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// plainStore hides every method of the store but audit.Store's: it is not
// a pgxtarget.SharedStore.
type plainStore struct{ audit.Store }

var _ pgxtarget.SharedStore = (*postgres.Store)(nil)

// lazyPool is a pool of maxConns connections that connects at its first
// use only: nothing needs to listen at its address.
func lazyPool(t *testing.T, maxConns int) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), fmt.Sprintf("postgres://u@127.0.0.1:1/db?pool_max_conns=%d", maxConns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// lazyStore is a store on pool; stores connect at their first use only.
func lazyStore(t *testing.T, pool *pgxpool.Pool) *postgres.Store {
	t.Helper()
	s, err := postgres.New(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStrategy(t *testing.T) {
	pool, other, single := lazyPool(t, 4), lazyPool(t, 4), lazyPool(t, 1)
	store, onSingle := lazyStore(t, pool), lazyStore(t, single)
	tests := []struct {
		name          string
		target        *pgxtarget.Target
		transactional bool
		want          audit.Strategy
		wantErr       string
	}{
		{"a target built by Shared shares the store's transactions",
			pgxtarget.Shared(store), true, audit.StrategySharedTx, ""},
		{"a target built by New on the store's own pool needs a marker: sharing is never guessed",
			pgxtarget.New(pool), true, audit.StrategySeparateTx, ""},
		{"a target built by New on another pool needs a marker, even if both reach one database",
			pgxtarget.New(other), true, audit.StrategySeparateTx, ""},
		{"a change declared transactional=false runs without a transaction",
			pgxtarget.New(pool), false, audit.StrategyNonTx, ""},
		{"a change declared transactional=false runs without a transaction on a shared target too",
			pgxtarget.Shared(store), false, audit.StrategyNonTx, ""},
		{"a store sharing a pool of one connection is refused: the runner could not refresh its lock",
			pgxtarget.Shared(onSingle), true, "",
			"pgxtarget: the pool the audit store shares has 1 connection; it needs at least 2, one for the change and one for refreshing the lock meanwhile"},
		{"a store sharing a pool of one connection is refused for a change without a transaction too",
			pgxtarget.Shared(onSingle), false, "",
			"pgxtarget: the pool the audit store shares has 1 connection; it needs at least 2, one for the change and one for refreshing the lock meanwhile"},
		{"a pool of one connection is fine for a target the store does not share",
			pgxtarget.New(single), true, audit.StrategySeparateTx, ""},
		{"a nil pool is refused",
			pgxtarget.New(nil), true, "", "pgxtarget: nil pool"},
		{"a nil store is refused",
			pgxtarget.Shared(nil), true, "", "pgxtarget: nil audit store"},
		{"a nil option is refused",
			pgxtarget.New(pool, nil), true, "", "pgxtarget: nil option"},
		{"a nil option of a shared target is refused",
			pgxtarget.Shared(store, nil), true, "", "pgxtarget: nil option"},
		{"a marker table name smuggling SQL is refused",
			pgxtarget.New(pool, pgxtarget.WithMarkerTable(`x"; DROP TABLE users; --`)), true, "",
			`pgxtarget: WithMarkerTable: invalid table name "x\"; DROP TABLE users; --": use letters, digits and underscores, not starting with a digit`},
		{"a marker table name with three parts is refused",
			pgxtarget.New(pool, pgxtarget.WithMarkerTable("db.ops.marker")), true, "",
			`pgxtarget: WithMarkerTable: invalid table name "db.ops.marker": want name or schema.name`},
		{"an empty schema in a marker table name is refused",
			pgxtarget.New(pool, pgxtarget.WithMarkerTable(".marker")), true, "",
			`pgxtarget: WithMarkerTable: table name ".marker": invalid schema: empty`},
		{"a marker table name PostgreSQL would truncate is refused",
			pgxtarget.New(pool, pgxtarget.WithMarkerTable(strings.Repeat("m", 64))), true, "",
			`pgxtarget: WithMarkerTable: invalid table name "` + strings.Repeat("m", 64) + `": longer than 63 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.target.Strategy(tt.transactional)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Strategy error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Name() != tt.want {
				t.Errorf("Strategy = %s, %v; want %s", got.Name(), err, tt.want)
			}
		})
	}
}

func TestAuditStore(t *testing.T) {
	pool := lazyPool(t, 4)
	store := lazyStore(t, pool)
	if got := pgxtarget.Shared(store).AuditStore(); got != audit.Store(store) {
		t.Errorf("Shared(store).AuditStore() = %v, want the store", got)
	}
	if got := pgxtarget.New(pool).AuditStore(); got != nil {
		t.Errorf("New(pool).AuditStore() = %v, want nil", got)
	}
	// A store that cannot append inside a pgx transaction cannot be given
	// to Shared at all.
	if _, ok := any(plainStore{store}).(pgxtarget.SharedStore); ok {
		t.Error("plainStore is a SharedStore")
	}
}

func TestNewRefusesASharedTargetOfAnotherStore(t *testing.T) {
	pool := lazyPool(t, 4)
	store := lazyStore(t, pool)
	tests := []struct {
		name   string
		store  audit.Store
		target *pgxtarget.Target
		want   []string
	}{
		{"a shared target of another store, even on the same pool", lazyStore(t, pool), pgxtarget.Shared(store),
			[]string{`target "appdb" shares the transactions of another audit store than the pipeline's`}},
		{"a shared target of the store the pipeline's store wraps", plainStore{store}, pgxtarget.Shared(store),
			[]string{`target "appdb" shares the transactions of another audit store than the pipeline's`}},
		{"a shared target of no store", store, pgxtarget.Shared(nil),
			[]string{`target "appdb"`, "pgxtarget: nil audit store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pipeline.New(tt.store, stages(change("c1", 1, tt.target, true, func(context.Context, pgx.Tx) error { return nil })))
			if err == nil {
				t.Fatal("pipeline.New accepted the target")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("pipeline.New error = %v, want it to say %q", err, want)
				}
			}
		})
	}
	// The same target in a pipeline on its own store is accepted.
	if _, err := pipeline.New(store, stages(change("c1", 1, pgxtarget.Shared(store), true, func(context.Context, pgx.Tx) error { return nil }))); err != nil {
		t.Errorf("pipeline.New refused Shared(store) on store: %v", err)
	}
}

func TestBeginSharedRefusesATargetBuiltByNew(t *testing.T) {
	e := newEnv(t)
	// Even on the store's own pool: a target shares the store's
	// transactions only when Shared says so.
	_, err := pgxtarget.New(e.pool).BeginShared(t.Context(), pipeline.BeginRequest{})
	if err == nil || !strings.Contains(err.Error(), "build it with Shared") {
		t.Fatalf("BeginShared = %v, want a refusal naming Shared", err)
	}
	if n := e.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections held after the refusal, want 0", n)
	}
}

func TestMarkers(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		opts  []pgxtarget.Option
		table pgx.Identifier
	}{
		// The default table goes to the first schema of the search_path.
		{"the default table", nil, pgx.Identifier{e.schema, "flamingock_marker"}},
		{"a schema-qualified table with capitals",
			[]pgxtarget.Option{pgxtarget.WithMarkerTable(e.schema + ".Deploy_Marker")}, pgx.Identifier{e.schema, "Deploy_Marker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" writes, reads, replaces and clears markers", func(t *testing.T) {
			ctx := t.Context()
			// A pool whose search_path is the test's schema only, so that the
			// default table lands there.
			pool := e.srv.Pool(t, pgtest.MaxConns(2), pgtest.SearchPath(e.schema))
			tg := pgxtarget.New(pool, tt.opts...)
			exists := func() bool {
				t.Helper()
				var ok bool
				if err := e.srv.Admin.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", tt.table.Sanitize()).Scan(&ok); err != nil {
					t.Fatal(err)
				}
				return ok
			}

			// Reading and clearing before any change ran find nothing and
			// create nothing: a dry run must not change the target.
			if ok, err := tg.HasMarker(ctx, pipeline.Marker{Key: audit.Key{Stage: "s1", ChangeID: "c1"}, ExecutionID: "exec-1"}); err != nil || ok {
				t.Fatalf("HasMarker before the table exists = %v, %v; want false", ok, err)
			}
			if err := tg.ClearMarker(ctx, audit.Key{Stage: "s1", ChangeID: "c1"}); err != nil {
				t.Fatalf("ClearMarker before the table exists: %v", err)
			}
			if exists() {
				t.Fatal("reading a marker created the table")
			}
			// The marker contract itself is TestConformance's (targettest), on
			// the default table; this drives each statement through the
			// table named here, and a second target finds the table the
			// first created.
			markerRoundTrip(t, tg, pgxtarget.New(pool, tt.opts...))
			if !exists() {
				t.Errorf("no table %s", tt.table.Sanitize())
			}
		})
	}
}

// markerRoundTrip writes a committed marker of one change through tg, then
// a later execution's, that replaces it, and clears it through again, a
// target on the same table: each marker statement runs once.
func markerRoundTrip(t *testing.T, tg, again *pgxtarget.Target) {
	t.Helper()
	ctx := t.Context()
	key := audit.Key{Stage: "s1", ChangeID: "c1"}
	first := pipeline.Marker{Key: key, ExecutionID: "exec-1"}
	second := pipeline.Marker{Key: key, ExecutionID: "exec-2"}
	write := func(m pipeline.Marker) {
		t.Helper()
		w, err := tg.BeginSeparate(ctx, pipeline.BeginRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMarker(ctx, m); err != nil {
			w.Abort(ctx)
			t.Fatal(err)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := func(when string, tg *pgxtarget.Target, exec1, exec2 bool) {
		t.Helper()
		for _, c := range []struct {
			m    pipeline.Marker
			want bool
		}{{first, exec1}, {second, exec2}} {
			got, err := tg.HasMarker(ctx, c.m)
			if err != nil {
				t.Fatalf("%s: HasMarker(%s): %v", when, c.m.ExecutionID, err)
			}
			if got != c.want {
				t.Errorf("%s: HasMarker(%s) = %v, want %v", when, c.m.ExecutionID, got, c.want)
			}
		}
	}
	write(first)
	want("after committing exec-1's marker", tg, true, false)
	write(second)
	want("after committing exec-2's marker", tg, false, true)
	want("another target, after committing exec-2's marker", again, false, true)
	if err := again.ClearMarker(ctx, key); err != nil {
		t.Fatalf("ClearMarker through another target on the same table: %v", err)
	}
	want("after ClearMarker", tg, false, false)
}

func TestMarkerTableCreatedOnceByConcurrentTargets(t *testing.T) {
	e := newEnv(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		// A target per process, each on a pool of its own.
		tg := pgxtarget.New(e.srv.Pool(t, pgtest.MaxConns(1)), pgxtarget.WithMarkerTable(e.schema+".flamingock_marker"))
		wg.Go(func() {
			<-start
			w, err := tg.BeginSeparate(t.Context(), pipeline.BeginRequest{})
			if err == nil {
				err = w.Abort(t.Context())
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("target %d: %v", i, err)
		}
	}
}

// TestSharedWork drives a shared transaction's work as the runner does:
// BeginShared, the change, CommitAudit, and Abort after a failed CommitAudit.
// Each path gives the work's connection back to the pool exactly once.
func TestSharedWork(t *testing.T) {
	e := newEnv(t, pgtest.MaxConns(2))
	fx := effects(t, e.pool, e.schema)
	tg := pgxtarget.Shared(e.store)
	lockTable := pgx.Identifier{e.schema, "flamingock_lock"}.Sanitize()
	entry := func(id string) audit.Entry {
		return audit.Entry{ExecutionID: "exec", Stage: "s1", ChangeID: id, State: audit.StateApplied,
			Time: time.Now(), Strategy: audit.StrategySharedTx, Recovery: audit.RecoveryManual}
	}
	// begin starts the work of change id under a lease of its own and runs
	// the change's statement.
	begin := func(t *testing.T, id string) (pipeline.SharedWork[pgx.Tx], audit.Lease) {
		t.Helper()
		lease, err := e.store.Acquire(t.Context(), id, "runner-a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		w, err := tg.BeginShared(t.Context(), pipeline.BeginRequest{LeaseTTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := effect(fx, id)(t.Context(), w.Handle()); err != nil {
			t.Fatal(err)
		}
		return w, lease
	}
	// conns is how many connections of the pool are out.
	conns := func() int32 { return e.pool.Stat().AcquiredConns() }
	// abortedNothingCommitted aborts w after a failed CommitAudit and checks
	// that change id left nothing behind and the connection went back.
	abortedNothingCommitted := func(t *testing.T, w pipeline.SharedWork[pgx.Tx], id string) {
		t.Helper()
		if err := w.Abort(t.Context()); err != nil {
			t.Errorf("Abort: %v", err)
		}
		if held := conns(); held != 0 {
			t.Errorf("%d connections held after Abort, want 0", held)
		}
		if n := ran(t, e.pool, fx, id); n != 0 {
			t.Errorf("the change left %d rows, want none", n)
		}
		if h := history(t, e.store, id); len(h) != 0 {
			t.Errorf("entries = %v, want none", h)
		}
	}

	t.Run("CommitAudit commits the change with its entry and gives the connection back", func(t *testing.T) {
		w, lease := begin(t, "committed")
		stored, err := w.CommitAudit(t.Context(), lease, entry("committed"))
		if err != nil {
			t.Fatal(err)
		}
		if held := conns(); held != 0 {
			t.Errorf("%d connections held after CommitAudit, want 0", held)
		}
		if h := history(t, e.store, "committed"); len(h) != 1 || h[0].Seq != stored.Seq {
			t.Errorf("entries = %v, want the one CommitAudit returned (seq %d)", h, stored.Seq)
		}
		if n := ran(t, e.pool, fx, "committed"); n != 1 {
			t.Errorf("the change left %d rows, want 1", n)
		}
		// The runner does not call Abort after a success; if anything did,
		// it must not touch the connection, which another may use now.
		if err := w.Abort(t.Context()); err != nil {
			t.Errorf("Abort after CommitAudit: %v", err)
		}
	})

	t.Run("a lease taken over before CommitAudit commits nothing and Abort gives the connection back", func(t *testing.T) {
		w, lease := begin(t, "fenced")
		pid := w.Handle().Conn().PgConn().PID()
		exec(t, e.srv.Admin, "UPDATE "+lockTable+" SET owner = 'runner-b', epoch = epoch + 1 WHERE key = 'fenced'")

		_, err := w.CommitAudit(t.Context(), lease, entry("fenced"))

		if !errors.Is(err, audit.ErrFenced) {
			t.Fatalf("CommitAudit = %v, want ErrFenced", err)
		}
		if held := conns(); held != 1 {
			t.Errorf("%d connections held after a refused CommitAudit, want the work's until Abort", held)
		}
		abortedNothingCommitted(t, w, "fenced")
		// The work's connection is back in the pool, not closed, and works.
		idle := e.pool.AcquireAllIdle(t.Context())
		defer func() {
			for _, c := range idle {
				c.Release()
			}
		}()
		i := slices.IndexFunc(idle, func(c *pgxpool.Conn) bool { return c.Conn().PgConn().PID() == pid })
		if i < 0 {
			t.Fatal("the work's connection is not idle in the pool after Abort")
		}
		if _, err := idle[i].Exec(t.Context(), "SELECT 1"); err != nil {
			t.Errorf("the work's connection after Abort: %v", err)
		}
	})

	t.Run("CommitAudit after a failed statement commits nothing and is no refusal", func(t *testing.T) {
		w, lease := begin(t, "failed")
		if _, err := w.Handle().Exec(t.Context(), "SELECT 1 FROM no_such_table"); err == nil {
			t.Fatal("a statement on a missing table succeeded")
		}

		_, err := w.CommitAudit(t.Context(), lease, entry("failed"))

		if err == nil || errors.Is(err, audit.ErrFenced) {
			t.Fatalf("CommitAudit = %v, want an error other than ErrFenced", err)
		}
		abortedNothingCommitted(t, w, "failed")
	})
}
