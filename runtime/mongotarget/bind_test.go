package mongotarget_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
)

func TestPipelineRunsTheChangeInItsTransaction(t *testing.T) {
	// The server may have no transactions: what is checked is what the
	// driver sends, which is the same on every server.
	e := newEnv(t)
	var (
		mu      sync.Mutex
		inserts []bson.Raw
	)
	monitor := &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
		if ev.CommandName == "insert" && ev.DatabaseName == e.db.Name() {
			mu.Lock()
			inserts = append(inserts, slices.Clone(ev.Command))
			mu.Unlock()
		}
	}}
	tg := mongotarget.New(connect(t, testenv.Mongo(t), monitor).Database(e.db.Name()), mongotarget.WithLogger(quiet()))
	tg.AssumeTransactions()
	var session bson.RawValue
	change := func(ctx context.Context, db *mongo.Database) error {
		if s := mongo.SessionFromContext(ctx); s != nil {
			session = s.ID().Lookup("id")
		}
		_, err := db.Collection("effects").InsertOne(ctx, bson.D{{Key: "change_id", Value: "c1"}})
		return err
	}
	e.runner(t, tg, decl{id: "c1", order: 1, apply: change}).Run(t.Context())

	mu.Lock()
	defer mu.Unlock()
	if len(inserts) == 0 || session.IsZero() {
		t.Fatalf("the change ran with session %v and sent %d inserts; want a session and its insert", session, len(inserts))
	}
	first := inserts[0]
	if id := first.Lookup("lsid", "id"); !id.Equal(session) {
		t.Errorf("the change's insert ran in session %v; want the work's, %v", id, session)
	}
	if st, ok := first.Lookup("startTransaction").BooleanOK(); !ok || !st {
		t.Errorf("the change's insert %v; want it to start the work's transaction", first)
	}
}
