package sqltarget_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "target.db"))+"?_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// plainStore is an audit store that cannot append inside a caller's
// transaction: it is not a sqltarget.SharedStore.
type plainStore struct{ audit.Store }

var _ sqltarget.SharedStore = (*sqlite.Store)(nil)

func TestStrategy(t *testing.T) {
	store := openStore(t)
	other := openDB(t)
	tests := []struct {
		name          string
		target        *sqltarget.Target
		transactional bool
		want          audit.Strategy
		wantErr       string
	}{
		{"a target built by Shared shares the store's transactions",
			sqltarget.Shared(store), true, audit.StrategySharedTx, ""},
		{"a target built by New on the store's own database needs a marker: sharing is never guessed",
			sqltarget.New(store.DB()), true, audit.StrategySeparateTx, ""},
		{"a target built by New on another database needs a marker",
			sqltarget.New(other), true, audit.StrategySeparateTx, ""},
		{"a change declared transactional=false is refused by a separate-transaction target",
			sqltarget.New(store.DB()), false, "", "database/sql target cannot run a change outside a transaction (its handle is *sql.Tx)"},
		{"a change declared transactional=false is refused by a shared target",
			sqltarget.Shared(store), false, "", "database/sql target cannot run a change outside a transaction (its handle is *sql.Tx)"},
		{"a nil database is refused",
			sqltarget.New(nil), true, "", "sqltarget: nil *sql.DB"},
		{"a nil store is refused",
			sqltarget.Shared(nil), true, "", "sqltarget: nil audit store"},
		{"an invalid marker table name is refused",
			sqltarget.New(other, sqltarget.WithMarkerTable(`x"; DROP TABLE users; --`)), true, "",
			`sqltarget: WithMarkerTable: invalid table name "x\"; DROP TABLE users; --" (want [schema.]name of letters, digits and underscores)`},
		{"an invalid option of a shared target is refused",
			sqltarget.Shared(store, sqltarget.WithMarkerTable("")), true, "",
			`sqltarget: WithMarkerTable: invalid table name "" (want [schema.]name of letters, digits and underscores)`},
		{"a nil option is refused",
			sqltarget.New(other, nil), true, "", "sqltarget: nil option"},
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
	store := openStore(t)
	if got := sqltarget.Shared(store).AuditStore(); got != audit.Store(store) {
		t.Errorf("Shared(store).AuditStore() = %v, want the store", got)
	}
	if got := sqltarget.New(store.DB()).AuditStore(); got != nil {
		t.Errorf("New(store.DB()).AuditStore() = %v, want nil", got)
	}
	// A store that cannot append inside a database/sql transaction cannot
	// be given to Shared at all.
	if _, ok := any(plainStore{store}).(sqltarget.SharedStore); ok {
		t.Error("plainStore is a SharedStore")
	}
}

// stages declares one transactional change, c1 of stage s1, on tg.
func stages(tg pipeline.Target[*sql.Tx]) []pipeline.Stage {
	m := pipeline.Meta{ID: "c1", Order: audit.OrderOf(1), Author: "tester", Target: "appdb", Checksum: "sum-c1"}
	return []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{
		pipeline.NewChange(m, tg, func(context.Context, *sql.Tx) error { return nil }, nil)}}}
}

func TestNewRefusesASharedTargetOfAnotherStore(t *testing.T) {
	store := openStore(t)
	tests := []struct {
		name   string
		store  audit.Store
		target *sqltarget.Target
		want   []string
	}{
		{"a shared target of another store", openStore(t), sqltarget.Shared(store),
			[]string{`target "appdb" shares the transactions of another audit store than the pipeline's`}},
		{"a shared target of the store the pipeline's store wraps", plainStore{store}, sqltarget.Shared(store),
			[]string{`target "appdb" shares the transactions of another audit store than the pipeline's`}},
		{"a shared target of no store", store, sqltarget.Shared(nil),
			[]string{`target "appdb"`, "sqltarget: nil audit store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pipeline.New(tt.store, stages(tt.target))
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
	if _, err := pipeline.New(store, stages(sqltarget.Shared(store))); err != nil {
		t.Errorf("pipeline.New refused Shared(store) on store: %v", err)
	}
}

func TestMarkers(t *testing.T) {
	tests := []struct {
		name  string
		opts  []sqltarget.Option
		table string
	}{
		{"the default table with ? placeholders", nil, "flamingock_marker"},
		{"a schema-qualified table", []sqltarget.Option{sqltarget.WithMarkerTable("main.deploy_marker")}, "deploy_marker"},
		{"$N placeholders", []sqltarget.Option{sqltarget.WithDollarPlaceholders()}, "flamingock_marker"},
	}
	for _, tt := range tests {
		// The marker contract itself is TestConformance's (targettest), on
		// the default table; this drives each statement through the
		// option's table name and placeholders.
		t.Run(tt.name+" write, read, replace and clear markers", func(t *testing.T) {
			db := openDB(t)
			// A second target on the same database finds the table the
			// first created, and clears its marker.
			markerRoundTrip(t, sqltarget.New(db, tt.opts...), sqltarget.New(db, tt.opts...))
			var name string
			if err := db.QueryRow(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`, tt.table).Scan(&name); err != nil {
				t.Errorf("marker table %s: %v", tt.table, err)
			}
		})
	}
}

// markerRoundTrip writes a committed marker of one change through tg, then
// a later execution's, that replaces it, and clears it through again, a
// target on the same table: each marker statement runs once.
func markerRoundTrip(t *testing.T, tg, again *sqltarget.Target) {
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
	want := func(when string, tg *sqltarget.Target, exec1, exec2 bool) {
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

func TestSharedWorkAppendsInsideTheChangeTransaction(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	tg := sqltarget.Shared(store)
	if _, err := store.DB().Exec(`CREATE TABLE effects (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	lease, err := store.Acquire(ctx, "flamingock", "tester", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	entry := audit.Entry{ExecutionID: "e", Stage: "s1", ChangeID: "c1", State: audit.StateApplied, Time: time.Now().UTC(),
		Strategy: audit.StrategySharedTx, Recovery: audit.RecoveryManual}
	run := func(commit bool) {
		t.Helper()
		w, err := tg.BeginShared(ctx, pipeline.BeginRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Handle().ExecContext(ctx, `INSERT INTO effects (n) VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		if !commit {
			// The entry appended in the transaction, which is then aborted.
			if _, err := store.AppendSQLTx(ctx, w.Handle(), lease, entry); err != nil {
				t.Fatal(err)
			}
			if err := w.Abort(ctx); err != nil {
				t.Fatal(err)
			}
			return
		}
		if _, err := w.CommitAudit(ctx, lease, entry); err != nil {
			t.Fatal(err)
		}
		// The runner aborts after a CommitAudit that failed, whatever its
		// commit did: that must be harmless even when it committed.
		if err := w.Abort(ctx); err != nil {
			t.Errorf("Abort after CommitAudit committed: %v", err)
		}
	}
	count := func() (effects, entries int) {
		t.Helper()
		if err := store.DB().QueryRow(`SELECT COUNT(*) FROM effects`).Scan(&effects); err != nil {
			t.Fatal(err)
		}
		h, err := store.History(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return effects, len(h)
	}

	run(false)
	if e, n := count(); e != 0 || n != 0 {
		t.Errorf("after abort: %d effects, %d entries; want none", e, n)
	}
	run(true)
	if e, n := count(); e != 1 || n != 1 {
		t.Errorf("after commit: %d effects, %d entries; want 1 and 1", e, n)
	}
}

func TestBeginSharedRefusesATargetBuiltByNew(t *testing.T) {
	store := openStore(t)
	// Even on the store's own database: a target shares the store's
	// transactions only when Shared says so.
	_, err := sqltarget.New(store.DB()).BeginShared(context.Background(), pipeline.BeginRequest{})
	if err == nil || !strings.Contains(err.Error(), "build it with Shared") {
		t.Fatalf("BeginShared on a target built by New: %v, want a refusal naming Shared", err)
	}
}
