package sqltarget_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// pgEnv is a pipeline's world on the test server: the PostgreSQL audit
// store in a schema of its own (created, with the store's tables).
type pgEnv struct {
	srv    *pgtest.Server
	schema string
	store  *postgres.Store
}

// newPGEnv skips t without a configured PostgreSQL (see internal/testenv).
func newPGEnv(t *testing.T) *pgEnv {
	t.Helper()
	srv := pgtest.New(t)
	e := &pgEnv{srv: srv, schema: srv.Schema(t)}
	var err error
	e.store, err = postgres.New(context.Background(), srv.Pool(t), postgres.WithSchema(e.schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	if _, err := e.store.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// openPG opens dsn with pgx's database/sql driver, as applications do.
func openPG(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}

// pgEffects creates, in db, a table in which changes leave one row per
// execution, and returns its quoted name.
func pgEffects(t *testing.T, db *sql.DB, schema string) string {
	t.Helper()
	name := pgx.Identifier{"effects"}
	if schema != "" {
		name = pgx.Identifier{schema, "effects"}
	}
	if _, err := db.Exec("CREATE TABLE " + name.Sanitize() + " (change_id text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return name.Sanitize()
}

func pgRan(t *testing.T, db *sql.DB, table, id string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM "+table+" WHERE change_id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func pgEffect(table, id string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (change_id) VALUES ($1)", id)
		return err
	}
}

// pgChange is a transactional change of stage s1.
type pgChange struct {
	id    string
	apply func(context.Context, *sql.Tx) error
}

// pgStages declares changes on tg, in order.
func pgStages(tg pipeline.Target[*sql.Tx], changes ...pgChange) []pipeline.Stage {
	var cs []pipeline.Change
	for i, c := range changes {
		m := pipeline.Meta{ID: c.id, Order: audit.OrderOf(uint64(i + 1)), Author: "tester", Target: "appdb", Checksum: "sum-" + c.id}
		cs = append(cs, pipeline.NewChange(m, tg, c.apply, nil))
	}
	return []pipeline.Stage{{Name: "s1", Changes: cs}}
}

func pgRunner(t *testing.T, store audit.Store, st []pipeline.Stage, opts ...pipeline.Option) *pipeline.Runner {
	t.Helper()
	r, err := pipeline.New(store, st, append([]pipeline.Option{pipeline.WithLockWait(time.Minute, 20*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func outcomes(res *pipeline.Result) []string {
	var out []string
	for _, o := range res.Changes() {
		out = append(out, o.ChangeID+"="+string(o.Status))
	}
	return out
}

func trail(t *testing.T, store audit.Store, id string) []string {
	t.Helper()
	h, err := store.History(context.Background(), audit.Filter{Stage: "s1", ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range h {
		out = append(out, string(e.State)+" "+string(e.Strategy))
	}
	return out
}

// refusingPGStore is the PostgreSQL store with an Append that fails for one
// state, as if the process died right before writing it.
type refusingPGStore struct {
	*postgres.Store
	refuse audit.State
}

func (s refusingPGStore) Append(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	if e.State == s.refuse {
		return audit.Entry{}, errors.New("simulated crash before recording " + string(e.State))
	}
	return s.Store.Append(ctx, l, e)
}

func TestStrategyOnPostgreSQL(t *testing.T) {
	e := newPGEnv(t)
	tests := []struct {
		name   string
		target *sqltarget.Target
		want   audit.Strategy
	}{
		{"a target built by Shared on the store shares its transactions",
			sqltarget.Shared(e.store), audit.StrategySharedTx},
		{"a target built by New on the store's own DB needs a marker",
			sqltarget.New(e.store.DB(), sqltarget.WithPostgreSQL()), audit.StrategySeparateTx},
		{"a target on a *sql.DB of its own, even on the same database, needs a marker",
			sqltarget.New(openPG(t, e.srv.ConnString(t)), sqltarget.WithDollarPlaceholders()), audit.StrategySeparateTx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.target.Strategy(true)
			if err != nil || got.Name() != tt.want {
				t.Errorf("Strategy = %s, %v; want %s", got.Name(), err, tt.want)
			}
		})
	}
}

// A target built by New on the store's own *sql.DB runs with markers: the
// change commits with its marker, then APPLIED follows in a statement of
// its own.
func TestNewOnTheStoresDBUsesMarkersOnPostgreSQL(t *testing.T) {
	e := newPGEnv(t)
	db := e.store.DB()
	fx := pgEffects(t, db, e.schema)
	tg := sqltarget.New(db, sqltarget.WithPostgreSQL(), sqltarget.WithMarkerTable(e.schema+".flamingock_marker"))
	if _, err := pgRunner(t, e.store, pgStages(tg, pgChange{"c1", pgEffect(fx, "c1")})).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "APPLIED SEPARATE_TX"}, trail(t, e.store, "c1")); diff != "" {
		t.Errorf("c1 entries (-want +got):\n%s", diff)
	}
	if n := pgRan(t, db, fx, "c1"); n != 1 {
		t.Errorf("c1 left %d effects, want 1", n)
	}
	var tables int
	if err := db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'flamingock_marker'", e.schema).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 1 {
		t.Errorf("%d marker tables in the store's schema, want 1", tables)
	}
}

func TestSharedTransactionOnPostgreSQL(t *testing.T) {
	t.Run("the change and its APPLIED entry commit together; a failing change leaves neither", func(t *testing.T) {
		e := newPGEnv(t)
		db := e.store.DB()
		fx := pgEffects(t, db, e.schema)
		tg := sqltarget.Shared(e.store, sqltarget.WithDollarPlaceholders())
		broken := func(ctx context.Context, tx *sql.Tx) error {
			if err := pgEffect(fx, "c2")(ctx, tx); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
			return err
		}

		res, err := pgRunner(t, e.store, pgStages(tg, pgChange{"c1", pgEffect(fx, "c1")}, pgChange{"c2", broken})).Run(t.Context())

		if !errors.Is(err, pipeline.ErrChangeFailed) || !strings.Contains(err.Error(), "no_such_table") {
			t.Fatalf("Run error = %v, want c2's failure", err)
		}
		if diff := cmp.Diff([]string{"c1=applied", "c2=failed"}, outcomes(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"APPLIED SHARED_TX"}, trail(t, e.store, "c1")); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"FAILED SHARED_TX"}, trail(t, e.store, "c2")); diff != "" {
			t.Errorf("c2 entries (-want +got):\n%s", diff)
		}
		if c1, c2 := pgRan(t, db, fx, "c1"), pgRan(t, db, fx, "c2"); c1 != 1 || c2 != 0 {
			t.Errorf("effects: c1 %d, c2 %d; want 1 and 0", c1, c2)
		}

		res, err = pgRunner(t, e.store, pgStages(tg, pgChange{"c1", pgEffect(fx, "c1")}, pgChange{"c2", pgEffect(fx, "c2")})).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c1=skipped", "c2=applied"}, outcomes(res)); diff != "" {
			t.Errorf("outcomes of the next run (-want +got):\n%s", diff)
		}
		if c2 := pgRan(t, db, fx, "c2"); c2 != 1 {
			t.Errorf("c2 left %d effects after the next run, want 1", c2)
		}
	})

	t.Run("a change whose lease was taken over meanwhile is rolled back with its entry", func(t *testing.T) {
		e := newPGEnv(t)
		db := e.store.DB()
		fx := pgEffects(t, db, e.schema)
		lockTable := pgx.Identifier{e.schema, "flamingock_lock"}.Sanitize()
		takeover := func(ctx context.Context, tx *sql.Tx) error {
			if err := pgEffect(fx, "c1")(ctx, tx); err != nil {
				return err
			}
			_, err := e.srv.Admin.Exec(ctx, "UPDATE "+lockTable+" SET owner = 'usurper', epoch = epoch + 1")
			return err
		}

		_, err := pgRunner(t, e.store, pgStages(sqltarget.Shared(e.store, sqltarget.WithDollarPlaceholders()), pgChange{"c1", takeover})).Run(t.Context())

		if !errors.Is(err, pipeline.ErrLockLost) || !errors.Is(err, audit.ErrFenced) {
			t.Fatalf("Run error = %v, want the lost lock", err)
		}
		if got := trail(t, e.store, "c1"); len(got) != 0 {
			t.Errorf("c1 entries = %v, want none", got)
		}
		if n := pgRan(t, db, fx, "c1"); n != 0 {
			t.Errorf("c1 left %d effects, want 0", n)
		}
	})
}

func TestMarkerStrategyOnPostgreSQL(t *testing.T) {
	e := newPGEnv(t)
	db := openPG(t, e.srv.ConnString(t, pgtest.Database(e.srv.Database(t))))
	fx := pgEffects(t, db, "")
	tg := sqltarget.New(db, sqltarget.WithDollarPlaceholders())
	st := pgStages(tg, pgChange{"c1", pgEffect(fx, "c1")}, pgChange{"c2", pgEffect(fx, "c2")})
	ctx := t.Context()

	// The first run commits c1 in the target and dies before recording
	// APPLIED.
	res, err := pgRunner(t, refusingPGStore{Store: e.store, refuse: audit.StateApplied}, st).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "simulated crash") || !strings.Contains(err.Error(), "stays STARTED") {
		t.Fatalf("first run error = %v, want the crash before APPLIED", err)
	}
	if diff := cmp.Diff([]string{"c1=failed", "c2=not run"}, outcomes(res)); diff != "" {
		t.Errorf("first run outcomes (-want +got):\n%s", diff)
	}
	if found, err := tg.HasMarker(ctx, pipeline.Marker{Key: audit.Key{Stage: "s1", ChangeID: "c1"}, ExecutionID: res.ExecutionID}); err != nil || !found {
		t.Fatalf("marker of the first run: %v, %v; want it committed with c1", found, err)
	}

	res, err = pgRunner(t, e.store, st).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"c1=recovered", "c2=applied"}, outcomes(res)); diff != "" {
		t.Errorf("second run outcomes (-want +got):\n%s", diff)
	}
	if c1, c2 := pgRan(t, db, fx, "c1"), pgRan(t, db, fx, "c2"); c1 != 1 || c2 != 1 {
		t.Errorf("effects: c1 %d, c2 %d; want each once", c1, c2)
	}
	for _, id := range []string{"c1", "c2"} {
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "APPLIED SEPARATE_TX"}, trail(t, e.store, id)); diff != "" {
			t.Errorf("%s entries (-want +got):\n%s", id, diff)
		}
	}
	var markers int
	if err := db.QueryRow("SELECT count(*) FROM flamingock_marker").Scan(&markers); err != nil {
		t.Fatal(err)
	}
	if markers != 0 {
		t.Errorf("%d markers left after APPLIED, want none", markers)
	}
}

func TestTargetFaultsOnPostgreSQL(t *testing.T) {
	t.Run("a target server that is down fails the change, with the address", func(t *testing.T) {
		e := newPGEnv(t)
		db := openPG(t, "postgres://postgres@127.0.0.1:1/db?sslmode=disable&connect_timeout=5")
		var calls int
		apply := func(context.Context, *sql.Tx) error { calls++; return nil }

		_, err := pgRunner(t, e.store, pgStages(sqltarget.New(db, sqltarget.WithDollarPlaceholders()), pgChange{"c1", apply})).Run(t.Context())

		for _, want := range []string{"127.0.0.1:1", "connection refused"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Run error = %v, want it to say %q", err, want)
			}
		}
		if calls != 0 {
			t.Errorf("the change ran %d times, want 0", calls)
		}
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "FAILED SEPARATE_TX"}, trail(t, e.store, "c1")); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
	})

	t.Run("permission denied on the marker table rolls the change back and names the privileges", func(t *testing.T) {
		e := newPGEnv(t)
		role := e.srv.Role(t)
		admin := openPG(t, e.srv.ConnString(t))
		fx := pgEffects(t, admin, e.schema)
		marker := pgx.Identifier{e.schema, "flamingock_marker"}.Sanitize()
		opts := []sqltarget.Option{sqltarget.WithDollarPlaceholders(), sqltarget.WithMarkerTable(e.schema + ".flamingock_marker")}
		r := pgx.Identifier{role}.Sanitize()
		// An administrator created the marker table (a target creates it on
		// first use) and let the role read it only.
		if _, err := sqltarget.New(admin, opts...).HasMarker(t.Context(), pipeline.Marker{}); err != nil {
			t.Fatal(err)
		}
		for _, grant := range []string{
			"GRANT USAGE ON SCHEMA " + pgx.Identifier{e.schema}.Sanitize() + " TO " + r,
			"GRANT SELECT, INSERT ON " + fx + " TO " + r,
			"GRANT SELECT ON " + marker + " TO " + r,
		} {
			if _, err := admin.Exec(grant); err != nil {
				t.Fatal(err)
			}
		}
		asRole := openPG(t, e.srv.ConnString(t, pgtest.User(role)))
		st := pgStages(sqltarget.New(asRole, opts...), pgChange{"c1", pgEffect(fx, "c1")})

		_, err := pgRunner(t, e.store, st).Run(t.Context())

		for _, want := range []string{"write marker", "permission denied", "needs SELECT, INSERT and DELETE on " + marker} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Run error = %v, want it to say %q", err, want)
			}
		}
		if n := pgRan(t, admin, fx, "c1"); n != 0 {
			t.Errorf("c1 left %d effects, want 0: its transaction must roll back", n)
		}
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "FAILED SEPARATE_TX"}, trail(t, e.store, "c1")); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}

		// The privileges the error names are enough.
		if _, err := admin.Exec("GRANT SELECT, INSERT, DELETE ON " + marker + " TO " + r); err != nil {
			t.Fatal(err)
		}
		if _, err := pgRunner(t, e.store, st).Run(t.Context()); err != nil {
			t.Fatalf("run after the GRANT: %v", err)
		}
		if n := pgRan(t, admin, fx, "c1"); n != 1 {
			t.Errorf("c1 left %d effects after the GRANT, want 1", n)
		}
	})
	t.Run("a user that may not create the marker table is told what it needs", func(t *testing.T) {
		e := newPGEnv(t)
		role := e.srv.Role(t)
		e.srv.Exec(t, "GRANT USAGE ON SCHEMA "+pgx.Identifier{e.schema}.Sanitize()+" TO "+pgx.Identifier{role}.Sanitize())
		asRole := openPG(t, e.srv.ConnString(t, pgtest.User(role)))
		tg := sqltarget.New(asRole, sqltarget.WithDollarPlaceholders(), sqltarget.WithMarkerTable(e.schema+".flamingock_marker"))
		_, err := tg.BeginSeparate(t.Context(), pipeline.BeginRequest{})
		for _, want := range []string{"create marker table", "permission denied for schema", "and CREATE on its schema to create it"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Begin error = %v, want it to say %q", err, want)
			}
		}
	})
}

func TestMarkerTableCreatedOnceByConcurrentTargetsOnPostgreSQL(t *testing.T) {
	e := newPGEnv(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		// A target per process, each on a *sql.DB of its own.
		tg := sqltarget.New(openPG(t, e.srv.ConnString(t)), sqltarget.WithDollarPlaceholders(),
			sqltarget.WithMarkerTable(e.schema+".flamingock_marker"))
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

// With WithPostgreSQL, the server ends a change's transaction once it has
// been idle for longer than the lease, as pgxtarget's do: a runner paused
// inside a change cannot keep the locks that would block the runner that
// took its lock over.
// txWork is what the test needs of a shared or a marked work.
type txWork interface {
	Handle() *sql.Tx
	Abort(context.Context) error
}

func TestPostgreSQLEndsATransactionIdleLongerThanTheLease(t *testing.T) {
	e := newPGEnv(t)
	const lease = 200 * time.Millisecond
	var serverDefault string
	if err := e.store.DB().QueryRowContext(t.Context(), "SELECT current_setting('idle_in_transaction_session_timeout')").Scan(&serverDefault); err != nil {
		t.Fatal(err)
	}
	other := openPG(t, e.srv.ConnString(t))
	for _, tt := range []struct {
		name    string
		begin   func() (txWork, error)
		setting string
	}{
		{"Shared on the PostgreSQL store bounds the idle time by the lease, without an option", func() (txWork, error) {
			return sqltarget.Shared(e.store).BeginShared(t.Context(), pipeline.BeginRequest{LeaseTTL: lease})
		}, "200ms"},
		{"WithPostgreSQL bounds it on another database", func() (txWork, error) {
			return sqltarget.New(other, sqltarget.WithPostgreSQL()).BeginSeparate(t.Context(), pipeline.BeginRequest{LeaseTTL: lease})
		}, "200ms"},
		{"WithDollarPlaceholders alone leaves the server's setting", func() (txWork, error) {
			return sqltarget.New(other, sqltarget.WithDollarPlaceholders()).BeginSeparate(t.Context(), pipeline.BeginRequest{LeaseTTL: lease})
		}, serverDefault},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, err := tt.begin()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort(context.Background())
			var setting string
			var pid int
			if err := w.Handle().QueryRowContext(t.Context(), "SELECT current_setting('idle_in_transaction_session_timeout'), pg_backend_pid()").Scan(&setting, &pid); err != nil {
				t.Fatal(err)
			}
			if setting != tt.setting {
				t.Fatalf("idle_in_transaction_session_timeout = %q in the change's transaction, want %q", setting, tt.setting)
			}
			if tt.setting == serverDefault {
				return
			}
			// The transaction now stays idle: the server ends it, and its
			// session, after the lease.
			deadline := time.Now().Add(30 * time.Second)
			for {
				var alive bool
				if err := e.srv.Admin.QueryRow(t.Context(), "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", pid).Scan(&alive); err != nil {
					t.Fatal(err)
				}
				if !alive {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the transaction's session %d is still there 30s after its lease of %s", pid, lease)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if _, err := w.Handle().ExecContext(t.Context(), "SELECT 1"); err == nil {
				t.Error("the ended transaction still runs statements")
			}
		})
	}
}
