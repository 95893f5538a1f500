package mongotarget_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStrategyDetection(t *testing.T) {
	e := newEnv(t)
	tx, err := mongotarget.New(e.db, mongotarget.WithLogger(quiet())).Transactions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tx.Supported {
		t.Skipf("the test server has transactions (%s); these cases are about one without", tx.Reason)
	}

	t.Run("a standalone server runs every change without a transaction, and the log says why once", func(t *testing.T) {
		var logs syncBuffer
		tg := mongotarget.New(e.db, mongotarget.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		for _, transactional := range []bool{true, false, true} {
			s, err := tg.Strategy(e.store, transactional)
			if err != nil || s != audit.StrategyNonTx {
				t.Errorf("Strategy(transactional=%v) = %q, %v; want %s", transactional, s, err, audit.StrategyNonTx)
			}
		}
		got, err := tg.Transactions(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got.Supported || !strings.Contains(got.Reason, "a standalone server") {
			t.Errorf("Transactions = %+v, want unsupported on a standalone server", got)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") ||
			!strings.Contains(lines[0], "the server has no transactions") || !strings.Contains(lines[0], "a standalone server") {
			t.Errorf("log:\n%s\nwant one warning saying the server has no transactions and why", logs.String())
		}
	})

	t.Run("a change declared transactional=false asks nothing of the server", func(t *testing.T) {
		var logs syncBuffer
		tg := mongotarget.New(e.db, mongotarget.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		s, err := tg.Strategy(e.store, false)
		if err != nil || s != audit.StrategyNonTx {
			t.Errorf("Strategy = %q, %v; want %s", s, err, audit.StrategyNonTx)
		}
		if logs.String() != "" {
			t.Errorf("log:\n%s\nwant nothing: the server was not asked", logs.String())
		}
	})

	t.Run("a pipeline records its changes as run without a transaction", func(t *testing.T) {
		fx := e.effects()
		r := e.runner(t, e.target(), decl{id: "tx", order: 1, apply: fx.leave("tx")}, decl{id: "ddl", order: 2, nonTx: true, apply: fx.leave("ddl")})
		if _, err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"tx", "ddl"} {
			if diff := cmp.Diff([]string{"STARTED NON_TX", "APPLIED NON_TX"}, e.history(t, id)); diff != "" {
				t.Errorf("%s entries (-want +got):\n%s", id, diff)
			}
		}
	})
}

func TestTargetErrors(t *testing.T) {
	// A client that is never used: New sends nothing.
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database("app")

	tests := []struct {
		name   string
		target *mongotarget.Target
		want   string
	}{
		{"a nil database is refused", mongotarget.New(nil), "mongotarget: nil *mongo.Database"},
		{"a nil option is refused", mongotarget.New(db, nil), "mongotarget: nil option"},
		{"a nil logger is refused", mongotarget.New(db, mongotarget.WithLogger(nil)), "mongotarget: WithLogger: nil logger"},
		{"an empty marker collection name is refused", mongotarget.New(db, mongotarget.WithMarkerCollection("")),
			"mongotarget: WithMarkerCollection: invalid collection name: empty"},
		{"a marker collection name with $ is refused", mongotarget.New(db, mongotarget.WithMarkerCollection("a$b")),
			`mongotarget: WithMarkerCollection: invalid collection name "a$b": it must not contain "$" or NUL`},
		{"a system collection is refused", mongotarget.New(db, mongotarget.WithMarkerCollection("system.markers")),
			`mongotarget: WithMarkerCollection: invalid collection name "system.markers": the prefix "system." is reserved for MongoDB's own collections`},
		{"a marker collection name starting with a dot is refused", mongotarget.New(db, mongotarget.WithMarkerCollection(".m")),
			`mongotarget: WithMarkerCollection: invalid collection name ".m": it must not start with "."`},
		{"a marker namespace longer than MongoDB allows is refused", mongotarget.New(db, mongotarget.WithMarkerCollection(strings.Repeat("m", 252))),
			"mongotarget: the marker collection's namespace app." + strings.Repeat("m", 252) + " is 256 bytes, more than MongoDB's 255: use a shorter name (WithMarkerCollection)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, transactional := range []bool{true, false} {
				if s, err := tt.target.Strategy(nil, transactional); err == nil || err.Error() != tt.want {
					t.Errorf("Strategy(transactional=%v) = %q, %v; want error %q", transactional, s, err, tt.want)
				}
			}
			if _, err := tt.target.Begin(t.Context(), pipeline.BeginRequest{Strategy: audit.StrategyNonTx}); err == nil || err.Error() != tt.want {
				t.Errorf("Begin = %v; want error %q", err, tt.want)
			}
			if _, err := tt.target.Transactions(t.Context()); err == nil || err.Error() != tt.want {
				t.Errorf("Transactions = %v; want error %q", err, tt.want)
			}
		})
	}

	t.Run("every error is reported at once", func(t *testing.T) {
		_, err := mongotarget.New(nil, nil, mongotarget.WithLogger(nil)).Strategy(nil, true)
		want := "mongotarget: nil *mongo.Database\nmongotarget: nil option\nmongotarget: WithLogger: nil logger"
		if err == nil || err.Error() != want {
			t.Errorf("Strategy = %v; want %q", err, want)
		}
	})

	t.Run("a server that cannot be reached is an error naming what was asked, and is asked again next time", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond) // nothing listens on port 1
		defer cancel()
		tg := mongotarget.New(db, mongotarget.WithLogger(quiet()))
		_, err := tg.Transactions(ctx)
		if err == nil || !strings.Contains(err.Error(), `mongotarget: ask the server of database "app" whether it has transactions (hello)`) {
			t.Errorf("Transactions = %v; want an error saying what was asked", err)
		}
		// Not kept: a later call asks again (and fails again).
		ctx2, cancel2 := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel2()
		if _, err := tg.Transactions(ctx2); err == nil {
			t.Error("second Transactions succeeded; want it to ask again and fail")
		}
	})

	t.Run("a transactional strategy needs a server known to have transactions", func(t *testing.T) {
		tg := mongotarget.New(db, mongotarget.WithLogger(quiet()))
		_, err := tg.Begin(t.Context(), pipeline.BeginRequest{Strategy: audit.StrategySeparateTx})
		want := "mongotarget: strategy SEPARATE_TX needs a server with transactions, and the server was not asked whether it has them"
		if err == nil || err.Error() != want {
			t.Errorf("Begin = %v; want %q", err, want)
		}
	})

	t.Run("a shared transaction is refused", func(t *testing.T) {
		_, err := mongotarget.New(db).Begin(t.Context(), pipeline.BeginRequest{Strategy: audit.StrategySharedTx})
		if err == nil || err.Error() != "mongotarget: unsupported strategy SHARED_TX" {
			t.Errorf("Begin = %v; want unsupported strategy", err)
		}
	})
}

// contextBinder is the method through which a work gives its change the
// context to run with.
type contextBinder interface {
	BindContext(ctx context.Context) context.Context
}

func TestTransactionalWork(t *testing.T) {
	e := newEnv(t)
	tg := e.target()
	tg.AssumeTransactions()

	t.Run("the context a transactional work binds carries its session, in a transaction", func(t *testing.T) {
		w, err := tg.Begin(t.Context(), pipeline.BeginRequest{Store: e.store, Strategy: audit.StrategySeparateTx})
		if err != nil {
			t.Fatal(err)
		}
		b, ok := w.(contextBinder)
		if !ok {
			t.Fatalf("%T has no BindContext", w)
		}
		sess := mongo.SessionFromContext(b.BindContext(t.Context()))
		if sess == nil || !sess.TransactionRunning() {
			t.Errorf("session of the bound context = %v; want one in a transaction", sess)
		}
		if w.Handle() != e.db {
			t.Errorf("Handle = %v; want the target's database", w.Handle())
		}
		if err := w.Abort(t.Context()); err != nil {
			t.Errorf("Abort: %v", err)
		}
		if sess.TransactionRunning() {
			t.Error("the transaction still runs after Abort")
		}
	})

	t.Run("an operation run with the bound context is sent in the transaction, one run with another is not", func(t *testing.T) {
		var (
			mu      sync.Mutex
			inserts []bson.Raw
		)
		monitor := &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
			if ev.CommandName == "insert" {
				mu.Lock()
				inserts = append(inserts, slices.Clone(ev.Command))
				mu.Unlock()
			}
		}}
		tg := mongotarget.New(connect(t, testenv.Mongo(t), monitor).Database(e.db.Name()), mongotarget.WithLogger(quiet()))
		tg.AssumeTransactions()
		w, err := tg.Begin(t.Context(), pipeline.BeginRequest{Store: e.store, Strategy: audit.StrategySeparateTx})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort(context.Background())
		bound := w.(contextBinder).BindContext(t.Context())
		coll := w.Handle().Collection("bound")
		// On a server without transactions the first fails: the server
		// refuses the transaction the driver starts with it.
		_, txErr := coll.InsertOne(bound, bson.D{{Key: "x", Value: 1}})
		if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "x", Value: 2}}); err != nil {
			t.Fatal(err)
		}

		mu.Lock()
		defer mu.Unlock()
		if len(inserts) != 2 {
			t.Fatalf("%d inserts sent; want 2", len(inserts))
		}
		sessionID := mongo.SessionFromContext(bound).ID().Lookup("id")
		if id := inserts[0].Lookup("lsid", "id"); !id.Equal(sessionID) {
			t.Errorf("first insert's lsid %v; want the work's session %v", id, sessionID)
		}
		if st, ok := inserts[0].Lookup("startTransaction").BooleanOK(); !ok || !st {
			t.Errorf("first insert %v; want it to start the transaction (insert error: %v)", inserts[0], txErr)
		}
		if ac, ok := inserts[0].Lookup("autocommit").BooleanOK(); !ok || ac {
			t.Errorf("first insert %v; want autocommit false", inserts[0])
		}
		if _, err := inserts[1].LookupErr("startTransaction"); err == nil {
			t.Errorf("second insert %v; want it outside any transaction", inserts[1])
		}
		if _, err := inserts[1].LookupErr("txnNumber"); err == nil {
			t.Errorf("second insert %v; want no transaction number", inserts[1])
		}
	})

	t.Run("Begin creates the marker collection, once, even for targets racing to", func(t *testing.T) {
		name := "racing_markers"
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				tg := e.target(mongotarget.WithMarkerCollection(name))
				tg.AssumeTransactions()
				w, err := tg.Begin(t.Context(), pipeline.BeginRequest{Store: e.store, Strategy: audit.StrategySeparateTx})
				if err == nil {
					err = w.Abort(t.Context())
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(collections(t, e.db), name) {
			t.Errorf("collections %v; want %s among them", collections(t, e.db), name)
		}
	})
}
