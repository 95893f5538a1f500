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

// detect returns the target Detect builds on the env's database, logging
// nowhere: the one a test uses when it is not about the transactional
// strategy, whatever the server.
func (e *env) detect(t *testing.T, opts ...mongotarget.Option) *mongotarget.Target {
	t.Helper()
	tg, err := mongotarget.Detect(t.Context(), e.db, append([]mongotarget.Option{mongotarget.WithLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// strategies returns tg's strategy for a transactional change and for one
// declared transactional=false, failing t on error.
func strategies(t *testing.T, tg *mongotarget.Target) (tx, nonTx audit.Strategy) {
	t.Helper()
	for _, transactional := range []bool{true, false} {
		s, err := tg.Strategy(transactional)
		if err != nil {
			t.Fatalf("Strategy(transactional=%v): %v", transactional, err)
		}
		if transactional {
			tx = s.Name()
		} else {
			nonTx = s.Name()
		}
	}
	return tx, nonTx
}

func TestStrategyAsksNothingOfTheServer(t *testing.T) {
	// A client that is never used: nothing listens on port 1, and neither
	// New nor Strategy sends anything.
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database("app")

	tests := []struct {
		name      string
		opts      []mongotarget.Option
		tx, nonTx audit.Strategy
	}{
		{"New runs a transactional change in a transaction with a marker", nil, audit.StrategySeparateTx, audit.StrategyNonTx},
		{"WithoutTransactions runs every change without one", []mongotarget.Option{mongotarget.WithoutTransactions()},
			audit.StrategyNonTx, audit.StrategyNonTx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			tg := mongotarget.New(db, append(tt.opts, mongotarget.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))...)
			for range 2 { // the same answer every time
				if tx, nonTx := strategies(t, tg); tx != tt.tx || nonTx != tt.nonTx {
					t.Errorf("Strategy(true), Strategy(false) = %s, %s; want %s, %s", tx, nonTx, tt.tx, tt.nonTx)
				}
			}
			if logs.String() != "" {
				t.Errorf("log:\n%s\nwant nothing: the server was not asked", logs.String())
			}
		})
	}

	t.Run("no strategy shares the audit store's transaction", func(t *testing.T) {
		if _, ok := any(mongotarget.New(db)).(pipeline.SharedTxTarget[*mongo.Database]); ok {
			t.Error("*mongotarget.Target is a pipeline.SharedTxTarget")
		}
	})
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

	t.Run("Detect on a standalone server runs every change without a transaction, and the log says why once", func(t *testing.T) {
		var logs syncBuffer
		tg, err := mongotarget.Detect(t.Context(), e.db, mongotarget.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if tx, nonTx := strategies(t, tg); tx != audit.StrategyNonTx || nonTx != audit.StrategyNonTx {
				t.Errorf("Strategy(true), Strategy(false) = %s, %s; want %s for both", tx, nonTx, audit.StrategyNonTx)
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

	t.Run("a pipeline on a Detect target records its changes as run without a transaction", func(t *testing.T) {
		fx := e.effects()
		r := e.runner(t, e.detect(t), decl{id: "tx", order: 1, apply: fx.leave("tx")}, decl{id: "ddl", order: 2, nonTx: true, apply: fx.leave("ddl")})
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

// A target built by New on a server without transactions does not drop
// the transaction silently: its first transactional change fails before it
// runs, saying what to use instead, and runs once the target is built by
// Detect.
func TestNewOnAServerWithoutTransactions(t *testing.T) {
	e := newEnv(t)
	if tx, err := mongotarget.New(e.db, mongotarget.WithLogger(quiet())).Transactions(t.Context()); err != nil {
		t.Fatal(err)
	} else if tx.Supported {
		t.Skipf("the test server has transactions (%s); this test is about one without", tx.Reason)
	}
	fx := e.effects()
	c1 := decl{id: "c1", order: 1, apply: fx.leave("c1")}

	res, err := e.runner(t, e.target(), c1).Run(t.Context())

	if !errors.Is(err, pipeline.ErrChangeFailed) {
		t.Fatalf("Run error = %v; want the change's failure", err)
	}
	for _, want := range []string{"needs a server with transactions", "a standalone server",
		"mongotarget.Detect", "mongotarget.WithoutTransactions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Run error = %v; want it to say %q", err, want)
		}
	}
	if diff := cmp.Diff([]string{"c1=failed"}, statuses(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "FAILED SEPARATE_TX"}, e.history(t, "c1")); diff != "" {
		t.Errorf("c1 entries (-want +got):\n%s", diff)
	}
	if n := fx.count(t, "c1"); n != 0 {
		t.Errorf("c1 ran %d times; want never", n)
	}
	if slices.Contains(collections(t, e.db), mongotarget.DefaultMarkerCollection) {
		t.Errorf("collections %v; want no %s: the refusal comes before anything is written", collections(t, e.db), mongotarget.DefaultMarkerCollection)
	}

	res, err = e.runner(t, e.detect(t), c1).Run(t.Context())
	if err != nil {
		t.Fatalf("run on a Detect target: %v", err)
	}
	if diff := cmp.Diff([]string{"c1=applied"}, statuses(res)); diff != "" {
		t.Errorf("outcomes of the run on a Detect target (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "FAILED SEPARATE_TX", "STARTED NON_TX", "APPLIED NON_TX"}, e.history(t, "c1")); diff != "" {
		t.Errorf("c1 entries (-want +got):\n%s", diff)
	}
	if n := fx.count(t, "c1"); n != 1 {
		t.Errorf("c1 ran %d times; want once", n)
	}
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
				if s, err := tt.target.Strategy(transactional); err == nil || err.Error() != tt.want {
					t.Errorf("Strategy(transactional=%v) = %q, %v; want error %q", transactional, s.Name(), err, tt.want)
				}
			}
			if _, err := tt.target.BeginNonTx(t.Context(), pipeline.BeginRequest{}); err == nil || err.Error() != tt.want {
				t.Errorf("BeginNonTx = %v; want error %q", err, tt.want)
			}
			if _, err := tt.target.BeginSeparate(t.Context(), pipeline.BeginRequest{}); err == nil || err.Error() != tt.want {
				t.Errorf("BeginSeparate = %v; want error %q", err, tt.want)
			}
			if _, err := tt.target.HasMarker(t.Context(), pipeline.Marker{}); err == nil || err.Error() != tt.want {
				t.Errorf("HasMarker = %v; want error %q", err, tt.want)
			}
			if _, err := tt.target.Transactions(t.Context()); err == nil || err.Error() != tt.want {
				t.Errorf("Transactions = %v; want error %q", err, tt.want)
			}
		})
	}

	t.Run("every error is reported at once", func(t *testing.T) {
		_, err := mongotarget.New(nil, nil, mongotarget.WithLogger(nil)).Strategy(true)
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

	t.Run("Detect reports what stops it asking the server, and builds no target", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond) // nothing listens on port 1
		defer cancel()
		tg, err := mongotarget.Detect(ctx, db, mongotarget.WithLogger(quiet()))
		if err == nil || tg != nil || !strings.Contains(err.Error(), `mongotarget: ask the server of database "app" whether it has transactions (hello)`) {
			t.Errorf("Detect = %v, %v; want no target and an error saying what was asked", tg, err)
		}
		if _, err := mongotarget.Detect(t.Context(), nil); err == nil || err.Error() != "mongotarget: nil *mongo.Database" {
			t.Errorf("Detect(nil) = %v; want the nil database refused", err)
		}
	})

	t.Run("a transactional change asks the server under the runner's context before it begins", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		tg := mongotarget.New(db, mongotarget.WithLogger(quiet()))
		w, err := tg.BeginSeparate(ctx, pipeline.BeginRequest{})
		if err == nil || w != nil || !strings.Contains(err.Error(), `mongotarget: ask the server of database "app" whether it has transactions (hello)`) {
			t.Errorf("BeginSeparate = %v, %v; want no work and an error saying what was asked", w, err)
		}
	})
}

func TestTransactionalWork(t *testing.T) {
	e := newEnv(t)
	tg := e.target()
	tg.AssumeTransactions()

	t.Run("the context of a transactional work carries its session, in a transaction", func(t *testing.T) {
		w, err := tg.BeginSeparate(t.Context(), pipeline.BeginRequest{})
		if err != nil {
			t.Fatal(err)
		}
		sess := mongo.SessionFromContext(w.Context(t.Context()))
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

	t.Run("an operation run with the work's context is sent in the transaction, one run with another is not", func(t *testing.T) {
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
		w, err := tg.BeginSeparate(t.Context(), pipeline.BeginRequest{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort(context.Background())
		bound := w.Context(t.Context())
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

	t.Run("BeginSeparate creates the marker collection, once, even for targets racing to", func(t *testing.T) {
		name := "racing_markers"
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				tg := e.target(mongotarget.WithMarkerCollection(name))
				tg.AssumeTransactions()
				w, err := tg.BeginSeparate(t.Context(), pipeline.BeginRequest{})
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
