package mongotarget_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// The tests of this file need a server with transactions (a replica set or
// a sharded cluster); they skip on any other, saying what it answered.

// skipWithoutTransactions skips t unless the test server has transactions,
// saying what its hello answered.
func skipWithoutTransactions(t *testing.T) {
	t.Helper()
	client := connect(t, testenv.Mongo(t), nil)
	tx, err := mongotarget.New(client.Database("admin"), mongotarget.WithLogger(quiet())).Transactions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !tx.Supported {
		var hello bson.Raw
		if err := client.Database("admin").RunCommand(t.Context(), bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
			t.Fatal(err)
		}
		t.Skipf("the test server has no transactions: %s; its hello answered %s", tx.Reason, hello)
	}
}

// txEnv returns an env with the effects collection created beforehand:
// MongoDB before 4.4 creates no collection inside a transaction.
func txEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	if err := e.db.CreateCollection(t.Context(), "effects"); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSeparateTransaction(t *testing.T) {
	skipWithoutTransactions(t)
	key := audit.Key{Stage: "s1", ChangeID: "c1"}

	t.Run("the change and its marker commit together, then APPLIED is recorded and the marker cleared", func(t *testing.T) {
		e := txEnv(t)
		fx := e.effects()
		tg := e.target()
		res, err := e.runner(t, tg, decl{id: "c1", order: 1, apply: fx.leave("c1")}).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c1=applied"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "APPLIED SEPARATE_TX"}, e.history(t, "c1")); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
		if n := fx.count(t, "c1"); n != 1 {
			t.Errorf("c1 ran %d times; want once", n)
		}
		if ok, err := tg.HasMarker(t.Context(), pipeline.Marker{Key: key, ExecutionID: res.ExecutionID}); err != nil || ok {
			t.Errorf("HasMarker = %v, %v; want the marker cleared", ok, err)
		}
	})

	t.Run("a failing change leaves nothing, since the server rolls its transaction back, and the next run applies it", func(t *testing.T) {
		e := txEnv(t)
		fx := e.effects()
		boom := errors.New("boom")
		broken := func(ctx context.Context, db *mongo.Database) error {
			if err := fx.leave("c1")(ctx, db); err != nil {
				return err
			}
			return boom
		}
		_, err := e.runner(t, e.target(), decl{id: "c1", order: 1, apply: broken}).Run(t.Context())
		if !errors.Is(err, boom) {
			t.Fatalf("Run error = %v; want the change's failure", err)
		}
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "FAILED SEPARATE_TX"}, e.history(t, "c1")); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
		if n := fx.count(t, "c1"); n != 0 {
			t.Errorf("%d effects of the failed change; want its transaction rolled back", n)
		}

		if _, err := e.runner(t, e.target(), decl{id: "c1", order: 1, apply: fx.leave("c1")}).Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := fx.count(t, "c1"); n != 1 {
			t.Errorf("c1 effects after the next run: %d; want 1", n)
		}
	})

	t.Run("after a crash between the commit and APPLIED, the marker makes the next run record APPLIED without running it again", func(t *testing.T) {
		e := txEnv(t)
		fx := e.effects()
		crashAt(t, e.runner(t, e.target(), decl{id: "c1", order: 1, apply: fx.leave("c1")}), crash.AfterTargetCommit)
		if n := fx.count(t, "c1"); n != 1 {
			t.Fatalf("c1 effects after the crash: %d; want its committed one", n)
		}

		res, err := e.runner(t, e.target(), decl{id: "c1", order: 1, apply: never(t)}).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c1=recovered"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "APPLIED SEPARATE_TX"}, e.history(t, "c1")); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
		if n := fx.count(t, "c1"); n != 1 {
			t.Errorf("c1 effects: %d; want 1", n)
		}
	})

	t.Run("after a crash before the commit, nothing of the change is visible and the next run applies it", func(t *testing.T) {
		e := txEnv(t)
		fx := e.effects()
		// The crashed run's session is found by the command that started
		// its transaction, to end it the way the server does once a dead
		// client's transaction outlives its time limit.
		var (
			mu   sync.Mutex
			lsid bson.Raw
		)
		monitor := &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
			if v, err := ev.Command.LookupErr("startTransaction"); err == nil && v.Boolean() {
				mu.Lock()
				lsid = slices.Clone(ev.Command.Lookup("lsid").Document())
				mu.Unlock()
			}
		}}
		crashed := mongotarget.New(connect(t, testenv.Mongo(t), monitor).Database(e.db.Name()), mongotarget.WithLogger(quiet()))
		crashAt(t, e.runner(t, crashed, decl{id: "c1", order: 1, apply: fx.leave("c1")}), crash.BeforeCommit)
		if n := fx.count(t, "c1"); n != 0 {
			t.Errorf("c1 effects visible before its commit: %d; want 0", n)
		}
		mu.Lock()
		session := lsid
		mu.Unlock()
		if session == nil {
			t.Fatal("no command started the crashed run's transaction")
		}
		if err := e.client.Database("admin").RunCommand(t.Context(), bson.D{{Key: "killSessions", Value: bson.A{session}}}).Err(); err != nil {
			t.Fatalf("killSessions: %v", err)
		}

		res, err := e.runner(t, e.target(), decl{id: "c1", order: 1, apply: fx.leave("c1")}).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c1=applied"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if n := fx.count(t, "c1"); n != 1 {
			t.Errorf("c1 effects: %d; want 1", n)
		}
	})
}
