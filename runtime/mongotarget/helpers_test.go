package mongotarget_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
	auditmongo "github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// env is a pipeline's world on the test server: a database of its own,
// dropped when the test ends, holding the audit store and the changes'
// collections.
type env struct {
	client *mongo.Client
	db     *mongo.Database
	store  *auditmongo.Store
}

// newEnv skips t without a configured MongoDB (see internal/testenv).
func newEnv(t *testing.T) *env {
	t.Helper()
	client := connect(t, testenv.Mongo(t), nil)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	// FerretDB accepts only letters, digits, "_" and "-" in database names.
	name := "mt_test_" + hex.EncodeToString(b[:])
	db := client.Database(name)
	t.Cleanup(func() {
		// t.Context is done during cleanup.
		if err := db.Drop(context.Background()); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	store, err := auditmongo.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &env{client: client, db: db, store: store}
}

// connect returns a client of uri, reporting its commands to monitor if
// not nil, disconnected when the test ends. A server that is not there
// fails the test in seconds rather than the driver's 30, unless uri sets
// its own timeout.
func connect(t *testing.T, uri string, monitor *event.CommandMonitor) *mongo.Client {
	t.Helper()
	opts := options.Client().ApplyURI(uri).SetMonitor(monitor)
	if opts.ServerSelectionTimeout == nil {
		opts.SetServerSelectionTimeout(5 * time.Second)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return client
}

// target returns a target on the env's database that logs nowhere.
func (e *env) target(opts ...mongotarget.Option) *mongotarget.Target {
	return mongotarget.New(e.db, append([]mongotarget.Option{mongotarget.WithLogger(quiet())}, opts...)...)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fn is a change or rollback function.
type fn = func(context.Context, *mongo.Database) error

// decl declares a test change of stage "s1".
type decl struct {
	id       string
	order    uint64
	nonTx    bool // transactional=false
	retry    bool // recovery=retry
	apply    fn
	rollback fn
	// compensate runs rollback right after a failure without a transaction.
	compensate bool
}

// runner returns a runner of one stage "s1" whose changes run on tg.
func (e *env) runner(t *testing.T, tg *mongotarget.Target, changes ...decl) *pipeline.Runner {
	t.Helper()
	st := pipeline.Stage{Name: "s1"}
	for _, d := range changes {
		m := pipeline.Meta{ID: d.id, Order: audit.OrderOf(d.order), Author: "test", Target: "appdb", WithoutTransaction: d.nonTx,
			Compensate: d.compensate, Recovery: audit.RecoveryManual, Checksum: "sum-" + d.id, Source: "test.go:1"}
		if d.retry {
			m.Recovery = audit.RecoveryRetry
		}
		st.Changes = append(st.Changes, pipeline.NewChange(m, tg, d.apply, d.rollback))
	}
	r, err := pipeline.New(e.store, []pipeline.Stage{st}, pipeline.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// history returns the change's entries as "STATE STRATEGY".
func (e *env) history(t *testing.T, id string) []string {
	t.Helper()
	h, err := e.store.History(context.Background(), audit.Filter{Stage: "s1", ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range h {
		out = append(out, fmt.Sprintf("%s %s", x.State, x.Strategy))
	}
	return out
}

// latestExecution returns the execution id of the change's latest entry.
func (e *env) latestExecution(t *testing.T, id string) string {
	t.Helper()
	h, err := e.store.History(context.Background(), audit.Filter{Stage: "s1", ChangeID: id})
	if err != nil || len(h) == 0 {
		t.Fatalf("history of %s: %v entries, %v", id, len(h), err)
	}
	return h[len(h)-1].ExecutionID
}

// statuses returns the run's outcomes as "id=status".
func statuses(res *pipeline.Result) []string {
	var out []string
	for _, o := range res.Changes() {
		out = append(out, fmt.Sprintf("%s=%s", o.ChangeID, o.Status))
	}
	return out
}

// crashAt runs r until it reaches point p, where its goroutine stops dead,
// as a killed process would: nothing after p runs, except the run's
// deferred release of its lock (which a real crash leaves to expire; it
// only spares the next run the wait).
func crashAt(t *testing.T, r *pipeline.Runner, p crash.Point) {
	t.Helper()
	reached := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := crash.With(context.Background(), func(q crash.Point) {
			if q == p {
				reached = true
				runtime.Goexit()
			}
		})
		r.Run(ctx)
	}()
	<-done
	if !reached {
		t.Fatalf("the run never reached %s", p)
	}
}

// effects is a collection where changes leave one document per execution.
type effects struct{ coll *mongo.Collection }

func (e *env) effects() effects { return effects{coll: e.db.Collection("effects")} }

// leave returns a change that records one execution of id.
func (fx effects) leave(id string) fn {
	return func(ctx context.Context, _ *mongo.Database) error {
		_, err := fx.coll.InsertOne(ctx, bson.D{{Key: "change_id", Value: id}})
		return err
	}
}

// count returns how many executions of id were recorded.
func (fx effects) count(t *testing.T, id string) int64 {
	t.Helper()
	n, err := fx.coll.CountDocuments(context.Background(), bson.D{{Key: "change_id", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// collections returns the names of the database's collections, sorted.
func collections(t *testing.T, db *mongo.Database) []string {
	t.Helper()
	names, err := db.ListCollectionNames(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// never is a change that fails the test if it runs.
func never(t *testing.T) fn {
	return func(context.Context, *mongo.Database) error {
		t.Error("the change ran")
		return nil
	}
}
