package sqltarget_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/internal/mysqltest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// myEnv is a pipeline's world on the MySQL test server: the audit store in
// a database of its own, and another database for a target of New.
type myEnv struct {
	store *mysql.Store
	other *sql.DB
}

// newMyEnv skips t without a configured MySQL (see internal/testenv).
func newMyEnv(t *testing.T) *myEnv {
	t.Helper()
	srv := mysqltest.New(t)
	store, err := mysql.Open(t.Context(), srv.URL(srv.Database(t, "sqltarget")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Snapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &myEnv{store: store, other: srv.Open(t, srv.Database(t, "sqltarget_other"))}
}

// myEffect inserts one row of change id into table effects of the
// change's database.
func myEffect(id string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO effects (change_id) VALUES (?)", id)
		return err
	}
}

func myEffects(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec("CREATE TABLE effects (change_id VARCHAR(64) NOT NULL) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
}

func myRan(t *testing.T, db *sql.DB, id string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM effects WHERE change_id = ?", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func myTableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// ddlThen is a Go change that inserts its effect, creates table name (DDL,
// which commits the transaction implicitly on MySQL), inserts its effect
// again, and returns fail.
func ddlThen(id, name string, fail error) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		if err := myEffect(id)(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE "+name+" (id INT PRIMARY KEY) ENGINE=InnoDB"); err != nil {
			return err
		}
		if err := myEffect(id)(ctx, tx); err != nil {
			return err
		}
		return fail
	}
}

func TestStrategyOnMySQL(t *testing.T) {
	e := newMyEnv(t)
	tests := []struct {
		name          string
		target        *sqltarget.Target
		transactional bool
		want          audit.Strategy
		implicit      bool
	}{
		{"Shared on a MySQL store shares its transactions, guarded against implicit commits",
			sqltarget.Shared(e.store), true, audit.StrategySharedTx, true},
		{"New with WithMySQL keeps markers, guarded against implicit commits",
			sqltarget.New(e.other, sqltarget.WithMySQL()), true, audit.StrategySeparateTx, true},
		{"a transactional=false change runs without a transaction on a Shared MySQL target",
			sqltarget.Shared(e.store), false, audit.StrategyNonTx, false},
		{"a transactional=false change runs without a transaction on a MySQL target of New",
			sqltarget.New(e.other, sqltarget.WithMySQL()), false, audit.StrategyNonTx, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.target.Strategy(tt.transactional)
			if err != nil || got.Name() != tt.want || got.ImplicitCommits() != tt.implicit {
				t.Errorf("Strategy(%v) = %s (implicit commits %v), %v; want %s (%v)", tt.transactional, got.Name(), got.ImplicitCommits(), err, tt.want, tt.implicit)
			}
		})
	}
	if _, err := sqltarget.New(e.other, sqltarget.WithMySQL(), sqltarget.WithPostgreSQL()).Strategy(true); err == nil || !strings.Contains(err.Error(), "'?' placeholders") {
		t.Errorf("WithMySQL with WithPostgreSQL: Strategy error = %v, want the conflict", err)
	}
}

// myKind is one of the two ways to run changes on MySQL: sharing the
// store's transactions, on its database, and with markers, on another
// database.
type myKind struct {
	name string
	s    audit.Strategy
}

var myKinds = []myKind{{"shared", audit.StrategySharedTx}, {"marker", audit.StrategySeparateTx}}

// target returns k's target on e, on store (e.store or a wrapper of it),
// and the database its changes change.
func (k myKind) target(e *myEnv, store sqltarget.SharedStore) (*sqltarget.Target, *sql.DB) {
	if k.s == audit.StrategySharedTx {
		return sqltarget.Shared(store), e.store.DB()
	}
	return sqltarget.New(e.other, sqltarget.WithMySQL()), e.other
}

func TestImplicitCommitsOnMySQL(t *testing.T) {
	t.Run("a change of DML alone is atomic: it commits with its entry, and fails leaving nothing", func(t *testing.T) {
		for _, tt := range myKinds {
			t.Run(tt.name, func(t *testing.T) {
				e := newMyEnv(t)
				tg, db := tt.target(e, e.store)
				myEffects(t, db)
				broken := func(ctx context.Context, tx *sql.Tx) error {
					if err := myEffect("c2")(ctx, tx); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
					return err
				}
				st := pgStages(tg, pgChange{"c1", myEffect("c1")}, pgChange{"c2", broken})
				st[0].Name = "dml-" + tt.name
				res, err := pgRunner(t, e.store, st).Run(t.Context())
				if !errors.Is(err, pipeline.ErrChangeFailed) || !strings.Contains(err.Error(), "no_such_table") {
					t.Fatalf("Run error = %v, want c2's failure", err)
				}
				if diff := cmp.Diff([]string{"c1=applied", "c2=failed"}, outcomes(res)); diff != "" {
					t.Errorf("outcomes (-want +got):\n%s", diff)
				}
				if c1, c2 := myRan(t, db, "c1"), myRan(t, db, "c2"); c1 != 1 || c2 != 0 {
					t.Errorf("effects: c1 %d, c2 %d; want 1 and 0", c1, c2)
				}
				c1, c2 := stageTrail(t, e.store, st[0].Name, "c1"), stageTrail(t, e.store, st[0].Name, "c2")
				if diff := cmp.Diff([]string{"STARTED " + string(tt.s), "APPLIED " + string(tt.s)}, c1); diff != "" {
					t.Errorf("c1 entries (-want +got):\n%s", diff)
				}
				wantC2 := []string{"FAILED SHARED_TX"}
				if tt.s == audit.StrategySeparateTx {
					wantC2 = []string{"STARTED SEPARATE_TX", "FAILED SEPARATE_TX"}
				}
				if diff := cmp.Diff(wantC2, c2); diff != "" {
					t.Errorf("c2 entries (-want +got):\n%s", diff)
				}
				p, err := pgRunner(t, e.store, st).Plan(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if pc := p.Changes[1]; pc.Action != pipeline.ActionApply || pc.Problem != "" {
					t.Errorf("c2 planned %s (problem %q), want applied again, certainly", pc.Action, pc.Problem)
				}
			})
		}
	})

	t.Run("a Go change that runs DDL is recorded as run without a transaction", func(t *testing.T) {
		for _, tt := range myKinds {
			t.Run(tt.name, func(t *testing.T) {
				e := newMyEnv(t)
				tg, db := tt.target(e, e.store)
				myEffects(t, db)
				var logs bytes.Buffer
				st := pgStages(tg, pgChange{"c1", ddlThen("c1", "made_by_c1", nil)})
				st[0].Name = "ddl-" + tt.name
				res, err := pgRunner(t, e.store, st, pipeline.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))).Run(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]string{"c1=applied"}, outcomes(res)); diff != "" {
					t.Errorf("outcomes (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{"STARTED " + string(tt.s), "APPLIED NON_TX"}, stageTrail(t, e.store, st[0].Name, "c1")); diff != "" {
					t.Errorf("c1 entries (-want +got):\n%s", diff)
				}
				if n := myRan(t, db, "c1"); n != 2 || !myTableExists(t, db, "made_by_c1") {
					t.Errorf("c1 left %d effects (want 2) and its table %v (want it)", n, myTableExists(t, db, "made_by_c1"))
				}
				if !strings.Contains(logs.String(), "committed the change's transaction by itself") {
					t.Errorf("log does not say the database committed the transaction by itself:\n%s", logs.String())
				}
			})
		}
	})

	t.Run("a Go change that fails after DDL is an issue, never taken for rolled back", func(t *testing.T) {
		for _, tt := range myKinds {
			t.Run(tt.name, func(t *testing.T) {
				e := newMyEnv(t)
				tg, db := tt.target(e, e.store)
				myEffects(t, db)
				st := pgStages(tg, pgChange{"c1", ddlThen("c1", "half_made", errors.New("broke after its DDL"))})
				st[0].Name = "half-" + tt.name
				_, err := pgRunner(t, e.store, st).Run(t.Context())
				var ce *pipeline.ChangeError
				if !errors.As(err, &ce) || ce.State != audit.StateFailed || !strings.Contains(ce.Next, "committed its transaction by itself") || !strings.Contains(ce.Next, "issue") {
					t.Fatalf("Run error = %v, want c1 FAILED, saying that its transaction was committed by the database and that it is an issue", err)
				}
				if diff := cmp.Diff([]string{"STARTED " + string(tt.s), "FAILED NON_TX"}, stageTrail(t, e.store, st[0].Name, "c1")); diff != "" {
					t.Errorf("c1 entries (-want +got):\n%s", diff)
				}
				if n := myRan(t, db, "c1"); n != 2 {
					t.Errorf("c1 left %d effects, want 2: what it did stays", n)
				}
				p, err := pgRunner(t, e.store, st).Plan(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if is := p.Issues(); len(is) != 1 || is[0].ChangeID != "c1" {
					t.Fatalf("issues = %+v, want c1", is)
				}
			})
		}
	})

	t.Run("a crash after a change's DDL leaves it STARTED, an issue", func(t *testing.T) {
		for _, tt := range myKinds {
			t.Run(tt.name, func(t *testing.T) {
				e := newMyEnv(t)
				// The process dies once the change has failed after its
				// DDL: its FAILED entry is never written.
				dying := refusingMyStore{Store: e.store, refuse: audit.StateFailed}
				tg, db := tt.target(e, dying)
				myEffects(t, db)
				st := pgStages(tg, pgChange{"c1", ddlThen("c1", "crashed_in", errors.New("broke after its DDL"))})
				st[0].Name = "crash-" + tt.name
				if _, err := pgRunner(t, dying, st).Run(t.Context()); err == nil || !strings.Contains(err.Error(), "simulated crash") {
					t.Fatalf("Run error = %v, want the simulated crash", err)
				}
				if diff := cmp.Diff([]string{"STARTED " + string(tt.s)}, stageTrail(t, e.store, st[0].Name, "c1")); diff != "" {
					t.Errorf("c1 entries (-want +got):\n%s", diff)
				}
				p, err := pgRunner(t, dying, st).Plan(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if is := p.Issues(); len(is) != 1 || is[0].ChangeID != "c1" || !strings.Contains(is[0].Problem, "by itself part-way") {
					t.Fatalf("issues = %+v, want c1, partly committed by the database", is)
				}
			})
		}
	})

	t.Run("a begun marker alone, left by a crash in a change with DDL, is an issue", func(t *testing.T) {
		for _, recovery := range []audit.Recovery{audit.RecoveryManual, audit.RecoveryRetry} {
			t.Run(string(recovery), func(t *testing.T) {
				e := newMyEnv(t)
				tg := sqltarget.New(e.other, sqltarget.WithMySQL())
				myEffects(t, e.other)
				m := pipeline.Meta{ID: "c1", Order: audit.OrderOf(1), Author: "tester", Target: "appdb", Checksum: "sum-c1", Recovery: recovery}
				st := []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{pipeline.NewChange(m, tg, myEffect("c1"), func(context.Context, *sql.Tx) error { return nil })}}}
				// The first run commits c1 and dies before recording
				// APPLIED; then its marker is made the begun marker, as a
				// crash right after an implicit commit would have left it.
				res, err := pgRunner(t, refusingMyStore{Store: e.store, refuse: audit.StateApplied}, st).Run(t.Context())
				if err == nil {
					t.Fatal("first run succeeded, want the simulated crash")
				}
				if _, err := e.other.Exec("UPDATE flamingock_marker SET execution_id = ? WHERE change_id = 'c1'", res.ExecutionID+pipeline.BegunMarker); err != nil {
					t.Fatal(err)
				}
				p, err := pgRunner(t, e.store, st).Plan(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				pc := p.Changes[0]
				if !strings.Contains(pc.Problem, "by itself part-way") {
					t.Errorf("c1's problem = %q, want it partly committed by the database", pc.Problem)
				}
				if recovery == audit.RecoveryManual {
					if is := p.Issues(); len(is) != 1 || is[0].ChangeID != "c1" || is[0].Problem != pc.Problem {
						t.Fatalf("issues = %+v, want c1", is)
					}
					// The CLI reads the trail alone, where the marker
					// decides: the printed commands must force the mark.
					for _, r := range p.Issues()[0].Resolutions {
						if !strings.Contains(r.Command, " --force") {
							t.Errorf("resolution %q lacks --force, which the CLI needs for a change whose marker it cannot read", r.Command)
						}
					}
					return
				}
				// With recovery retry it is applied again, and RollbackTo
				// refuses it, naming what is uncertain.
				if pc.Action != pipeline.ActionApply {
					t.Errorf("with recovery retry c1 planned %s, want applied again", pc.Action)
				}
				_, err = pgRunner(t, e.store, st).RollbackTo(t.Context(), "c1", pipeline.Inclusive())
				var refused *pipeline.RollbackRefusedError
				if !errors.As(err, &refused) || !strings.Contains(err.Error(), "by itself part-way") {
					t.Errorf("RollbackTo error = %v, want c1 refused, saying what is uncertain", err)
				}
			})
		}
	})

	t.Run("a transactional=false SQL change runs statement by statement and records how far it got", func(t *testing.T) {
		for _, tt := range myKinds {
			t.Run(tt.name, func(t *testing.T) {
				e := newMyEnv(t)
				tg, db := tt.target(e, e.store)
				myEffects(t, db)
				script := scriptOf("0001_ddl.sql", "INSERT INTO effects (change_id) VALUES ('c1')\n"+
					"CREATE TABLE by_script (id INT PRIMARY KEY) ENGINE=InnoDB\n"+
					"INSERT INTO no_such_table VALUES (1)\n")
				m := pipeline.Meta{ID: "c1", Order: audit.OrderOf(1), Author: "tester", Target: "appdb", Checksum: "sum-c1", WithoutTransaction: true}
				st := []pipeline.Stage{{Name: "script-" + tt.name, Changes: []pipeline.Change{pipeline.NewChange(m, tg, sqltarget.ScriptFunc(script), nil)}}}
				_, err := pgRunner(t, e.store, st).Run(t.Context())
				var ce *pipeline.ChangeError
				if !errors.As(err, &ce) || !strings.Contains(ce.Next, "statements 1–2 applied, 3 failed") {
					t.Fatalf("Run error = %v, want c1 failed after statements 1–2", err)
				}
				if diff := cmp.Diff([]string{"STARTED NON_TX", "FAILED NON_TX"}, stageTrail(t, e.store, st[0].Name, "c1")); diff != "" {
					t.Errorf("c1 entries (-want +got):\n%s", diff)
				}
				if n := myRan(t, db, "c1"); n != 1 || !myTableExists(t, db, "by_script") {
					t.Errorf("c1 left %d effects and table by_script %v; want 1 and the table: each statement committed", n, myTableExists(t, db, "by_script"))
				}
			})
		}
	})
}

func TestMarkerTableOfAnotherEngineIsRefusedOnMySQL(t *testing.T) {
	e := newMyEnv(t)
	if _, err := e.other.Exec("CREATE TABLE flamingock_marker (stage VARBINARY(255) NOT NULL, change_id VARBINARY(255) NOT NULL, execution_id VARBINARY(255) NOT NULL, PRIMARY KEY (stage, change_id)) ENGINE=MyISAM"); err != nil {
		t.Fatal(err)
	}
	myEffects(t, e.other)
	st := pgStages(sqltarget.New(e.other, sqltarget.WithMySQL()), pgChange{"c1", myEffect("c1")})
	_, err := pgRunner(t, e.store, st).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "ENGINE=MyISAM") || !strings.Contains(err.Error(), "ENGINE=InnoDB") {
		t.Fatalf("Run error = %v, want the MyISAM marker table refused, naming the fix", err)
	}
	if n := myRan(t, e.other, "c1"); n != 0 {
		t.Errorf("c1 left %d effects, want none", n)
	}
}

// refusingMyStore is the MySQL store with an Append that fails for one
// state, as if the process died right before writing it.
type refusingMyStore struct {
	*mysql.Store
	refuse audit.State
}

func (s refusingMyStore) Append(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	if e.State == s.refuse {
		return audit.Entry{}, errors.New("simulated crash before recording " + string(e.State))
	}
	return s.Store.Append(ctx, l, e)
}

func stageTrail(t *testing.T, store audit.Store, stage, id string) []string {
	t.Helper()
	h, err := store.History(context.Background(), audit.Filter{Stage: stage, ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range h {
		out = append(out, string(e.State)+" "+string(e.Strategy))
	}
	return out
}
