package changes_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/examples/mongo/changes"
	"github.com/flamingock/flamingock-go/flamingocktest"
	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// example is the stage wired as main.go wires it, on a database of the
// test's own that holds the audit trail (the kit runs on that store,
// WithStore) and the users: skipped without FLAMINGOCK_TEST_MONGO.
type example struct {
	k     *flamingocktest.Kit
	db    *mongodriver.Database
	stage pipeline.Stage
}

func newExample(t *testing.T) *example {
	uri := testenv.Mongo(t)
	client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	var b [6]byte
	rand.Read(b[:])
	// FerretDB accepts only letters, digits, "_" and "-" in database names.
	db := client.Database("kit_test_" + hex.EncodeToString(b[:]))
	t.Cleanup(func() { // before the disconnection: cleanups run last first
		if err := db.Drop(context.Background()); err != nil {
			t.Errorf("drop database %s: %v", db.Name(), err)
		}
	})
	store, err := mongo.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	k := flamingocktest.New(t, flamingocktest.WithStore(store))
	appdb, err := mongotarget.Detect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return &example{k: k, db: db, stage: changes.Stage(changes.Targets{Appdb: appdb}, changes.Deps{})}
}

func (x *example) emails(t *testing.T) []string {
	t.Helper()
	cur, err := x.db.Collection(changes.Users).Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var users []struct {
		Email string `bson:"email"`
	}
	if err := cur.All(t.Context(), &users); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range users {
		out = append(out, u.Email)
	}
	return out
}

func TestGivenNothingARunAppliesTheMongoExample(t *testing.T) {
	x := newExample(t)
	x.k.Run(x.stage)
	x.k.AssertApplied("create-users", "import-users", "normalise-emails")
	// Creating the collection and its index runs without a transaction.
	x.k.AssertTrail("changes", "create-users", audit.StateStarted, audit.StateApplied)
	want := []string{"ada.lovelace@example.com", "alan.turing@example.com", "grace.hopper@example.com"}
	if got := x.emails(t); !slices.Equal(got, want) {
		t.Errorf("emails %q, want %q", got, want)
	}
}

// No change of the example declares a rollback: the round trip applies
// them and says that it checked none.
func TestTheMongoExampleHasNoRollbackToCheck(t *testing.T) {
	x := newExample(t)
	rep := x.k.RoundTrip(nil, x.stage)
	if len(rep.Checked) != 0 || len(rep.Unchecked) != 3 {
		t.Errorf("checked %v, unchecked %v; want every change unchecked", rep.Checked, rep.Unchecked)
	}
	x.k.AssertApplied("create-users", "import-users", "normalise-emails")
}

// create-users is declared recovery=retry: after a runner died inside it,
// the next run finishes the job instead of stopping at an issue.
func TestGivenARunnerDiedCreatingTheCollectionTheNextRunFinishesIt(t *testing.T) {
	x := newExample(t)
	if err := x.db.CreateCollection(t.Context(), changes.Users); err != nil { // what the dead runner did
		t.Fatal(err)
	}
	x.k.Given(audit.Entry{Stage: "changes", ChangeID: "create-users", State: audit.StateStarted,
		Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryRetry})
	x.k.AssertPending("create-users")

	x.k.RunOne(x.stage, "create-users")
	x.k.AssertTrail("changes", "create-users", audit.StateStarted, audit.StateStarted, audit.StateApplied)
	x.k.AssertPending("import-users", "normalise-emails")
}
