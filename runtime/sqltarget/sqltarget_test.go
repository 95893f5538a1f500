package sqltarget_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/markertest"
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
// transaction.
type plainStore struct{ audit.Store }

func TestStrategy(t *testing.T) {
	store := openStore(t)
	other := openDB(t)
	tests := []struct {
		name          string
		target        *sqltarget.Target
		store         audit.Store
		transactional bool
		want          audit.Strategy
		wantErr       string
	}{
		{"a store in the same database shares the change's transaction",
			sqltarget.New(store.DB()), store, true, audit.StrategySharedTx, ""},
		{"a store in another database needs a marker",
			sqltarget.New(other), store, true, audit.StrategySeparateTx, ""},
		{"a store that cannot append inside a transaction needs a marker",
			sqltarget.New(store.DB()), plainStore{store}, true, audit.StrategySeparateTx, ""},
		{"a change declared transactional=false is refused",
			sqltarget.New(store.DB()), store, false, "", "database/sql target cannot run a change outside a transaction (its handle is *sql.Tx)"},
		{"a nil database is refused",
			sqltarget.New(nil), store, true, "", "sqltarget: nil *sql.DB"},
		{"an invalid marker table name is refused",
			sqltarget.New(other, sqltarget.WithMarkerTable(`x"; DROP TABLE users; --`)), store, true, "",
			`sqltarget: WithMarkerTable: invalid table name "x\"; DROP TABLE users; --" (want [schema.]name of letters, digits and underscores)`},
		{"a nil option is refused",
			sqltarget.New(other, nil), store, true, "", "sqltarget: nil option"},
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
		t.Run(tt.name+" write, read, replace and clear markers", func(t *testing.T) {
			ctx := context.Background()
			store := openStore(t)
			db := openDB(t)
			tg := sqltarget.New(db, tt.opts...)
			markertest.Check(t, markertest.Target[*sql.Tx](tg), store)

			// Another target on the same database finds the table there.
			again := sqltarget.New(db, tt.opts...)
			if err := again.ClearMarker(ctx, audit.Key{Stage: "s1", ChangeID: "c1"}); err != nil {
				t.Errorf("second target on the same table: %v", err)
			}
			var name string
			if err := db.QueryRow(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`, tt.table).Scan(&name); err != nil {
				t.Errorf("marker table %s: %v", tt.table, err)
			}
		})
	}
}

func TestSharedWorkAppendsInsideTheChangeTransaction(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	tg := sqltarget.New(store.DB())
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
		w, err := tg.Begin(ctx, pipeline.BeginRequest{Store: store, Strategy: audit.StrategySharedTx})
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
		if _, err := w.(pipeline.AuditAppender).CommitAudit(ctx, lease, entry); err != nil {
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

func TestBeginRefusesASharedTransactionWithAnotherDatabase(t *testing.T) {
	store := openStore(t)
	_, err := sqltarget.New(openDB(t)).Begin(context.Background(), pipeline.BeginRequest{Store: store, Strategy: audit.StrategySharedTx})
	if err == nil {
		t.Fatal("Begin shared a transaction with a store in another database")
	}
}
