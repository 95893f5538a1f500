package pgxtarget_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// plainStore hides every method of the store but audit.Store's.
type plainStore struct{ audit.Store }

func TestStrategy(t *testing.T) {
	// Neither pools nor stores connect before their first use: nothing
	// needs to listen at the address.
	lazyPool := func(maxConns int) *pgxpool.Pool {
		p, err := pgxpool.New(context.Background(), fmt.Sprintf("postgres://u@127.0.0.1:1/db?pool_max_conns=%d", maxConns))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	pool, other, single := lazyPool(4), lazyPool(4), lazyPool(1)
	store, err := postgres.New(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	onSingle, err := postgres.New(context.Background(), single)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		target        *pgxtarget.Target
		store         audit.Store
		transactional bool
		want          audit.Strategy
		wantErr       string
	}{
		{"a store on the target's pool shares the change's transaction",
			pgxtarget.New(pool), store, true, audit.StrategySharedTx, ""},
		{"a store on another pool needs a marker, even if both reach one database",
			pgxtarget.New(other), store, true, audit.StrategySeparateTx, ""},
		{"a store that cannot append inside a pgx transaction needs a marker",
			pgxtarget.New(pool), plainStore{store}, true, audit.StrategySeparateTx, ""},
		{"a change declared transactional=false runs without a transaction",
			pgxtarget.New(pool), store, false, audit.StrategyNonTx, ""},
		{"a store sharing a pool of one connection is refused: the runner could not refresh its lock",
			pgxtarget.New(single), onSingle, false, "",
			"pgxtarget: the pool the audit store shares has 1 connection; it needs at least 2, one for the change and one for refreshing the lock meanwhile"},
		{"a pool of one connection is fine for a target the store does not share",
			pgxtarget.New(single), store, true, audit.StrategySeparateTx, ""},
		{"a nil pool is refused",
			pgxtarget.New(nil), store, true, "", "pgxtarget: nil pool"},
		{"a nil option is refused",
			pgxtarget.New(pool, nil), store, true, "", "pgxtarget: nil option"},
		{"a marker table name smuggling SQL is refused",
			pgxtarget.New(pool, pgxtarget.WithMarkerTable(`x"; DROP TABLE users; --`)), store, true, "",
			`pgxtarget: WithMarkerTable: invalid table name "x\"; DROP TABLE users; --": "x\"; DROP TABLE users; --": use letters, digits and underscores, not starting with a digit`},
		{"a marker table name with three parts is refused",
			pgxtarget.New(pool, pgxtarget.WithMarkerTable("db.ops.marker")), store, true, "",
			`pgxtarget: WithMarkerTable: invalid table name "db.ops.marker": want name or schema.name`},
		{"an empty schema in a marker table name is refused",
			pgxtarget.New(pool, pgxtarget.WithMarkerTable(".marker")), store, true, "",
			`pgxtarget: WithMarkerTable: invalid table name ".marker": empty name`},
		{"a marker table name PostgreSQL would truncate is refused",
			pgxtarget.New(pool, pgxtarget.WithMarkerTable(strings.Repeat("m", 64))), store, true, "",
			`pgxtarget: WithMarkerTable: invalid table name "` + strings.Repeat("m", 64) + `": "` + strings.Repeat("m", 64) + `" is longer than 63 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.target.Strategy(tt.store, tt.transactional)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Strategy error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Strategy = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestBeginRefusesASharedTransactionOnAnotherPool(t *testing.T) {
	e := newEnv(t)
	other := e.srv.Pool(t, pgtest.MaxConns(1))
	_, err := pgxtarget.New(other).Begin(t.Context(), pipeline.BeginRequest{Store: e.store, Strategy: audit.StrategySharedTx})
	if err == nil || !strings.Contains(err.Error(), "needs the audit/postgres store on this target's pool") {
		t.Fatalf("Begin = %v, want a refusal", err)
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
			key := audit.Key{Stage: "s1", ChangeID: "c1"}
			first := pipeline.Marker{Key: key, ExecutionID: "exec-1"}
			second := pipeline.Marker{Key: key, ExecutionID: "exec-2"}
			has := func(m pipeline.Marker) bool {
				t.Helper()
				ok, err := tg.HasMarker(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			exists := func() bool {
				t.Helper()
				var ok bool
				if err := e.srv.Admin.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", tt.table.Sanitize()).Scan(&ok); err != nil {
					t.Fatal(err)
				}
				return ok
			}
			write := func(m pipeline.Marker, commit bool) {
				t.Helper()
				w, err := tg.Begin(ctx, pipeline.BeginRequest{Store: e.store, Strategy: audit.StrategySeparateTx})
				if err != nil {
					t.Fatal(err)
				}
				if err := w.(pipeline.MarkerWriter).WriteMarker(ctx, m); err != nil {
					t.Fatal(err)
				}
				if commit {
					err = w.Commit(ctx)
				} else {
					err = w.Abort(ctx)
				}
				if err != nil {
					t.Fatal(err)
				}
			}

			// Reading and clearing before any change ran find nothing and
			// create nothing: a dry run must not change the target.
			if has(first) {
				t.Fatal("a marker before any was written")
			}
			if err := tg.ClearMarker(ctx, key); err != nil {
				t.Fatalf("ClearMarker before the table exists: %v", err)
			}
			if exists() {
				t.Fatal("reading a marker created the table")
			}
			write(first, true)
			if !has(first) || has(second) {
				t.Errorf("after committing exec-1's marker: exec-1 %v, exec-2 %v; want true, false", has(first), has(second))
			}
			write(second, false)
			if !has(first) || has(second) {
				t.Errorf("after aborting exec-2's marker: exec-1 %v, exec-2 %v; want true, false", has(first), has(second))
			}
			write(second, true)
			if has(first) || !has(second) {
				t.Errorf("after committing exec-2's marker: exec-1 %v, exec-2 %v; want false, true", has(first), has(second))
			}
			if err := tg.ClearMarker(ctx, key); err != nil {
				t.Fatal(err)
			}
			if has(second) {
				t.Error("the marker survived ClearMarker")
			}
			if !exists() {
				t.Errorf("no table %s", tt.table.Sanitize())
			}
		})
	}
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
			w, err := tg.Begin(t.Context(), pipeline.BeginRequest{Store: e.store, Strategy: audit.StrategySeparateTx})
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
