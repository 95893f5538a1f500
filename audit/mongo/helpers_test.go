package mongo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

// server is the test deployment: its URI and a client for setting up and
// inspecting databases behind the store's back.
type server struct {
	uri   string
	admin *mongodriver.Client
}

// newServer skips t without a configured MongoDB (see testenv).
func newServer(t *testing.T) *server {
	t.Helper()
	uri := withSelectionTimeout(testenv.Mongo(t))
	admin, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	t.Cleanup(func() { admin.Disconnect(context.Background()) })
	return &server{uri: uri, admin: admin}
}

// withSelectionTimeout makes a server that is not there fail a test in
// seconds rather than the driver's 30, unless uri sets its own timeout.
func withSelectionTimeout(uri string) string {
	if strings.Contains(strings.ToLower(uri), "serverselectiontimeoutms") {
		return uri
	}
	_, rest, _ := strings.Cut(uri, "://")
	switch {
	case strings.Contains(uri, "?"):
		return uri + "&serverSelectionTimeoutMS=5000"
	case !strings.Contains(rest, "/"):
		return uri + "/?serverSelectionTimeoutMS=5000"
	}
	return uri + "?serverSelectionTimeoutMS=5000"
}

// database returns the name of a database no other test uses, dropped with
// whatever the test put in it when the test ends. FerretDB accepts only
// letters, digits, "_" and "-" in database names.
func (s *server) database(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "fl_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		// t.Context is done during cleanup.
		if err := s.admin.Database(name).Drop(context.Background()); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// open opens a store on a fresh database, closed when the test ends.
func (s *server) open(t *testing.T, opts ...mongo.Option) (*mongo.Store, *mongodriver.Collection) {
	t.Helper()
	db := s.database(t)
	st, err := mongo.Open(t.Context(), s.uri, append([]mongo.Option{mongo.WithDatabase(db)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st, s.admin.Database(db).Collection(mongo.DefaultCollectionPrefix + "_audit")
}

func acquire(t *testing.T, s audit.Store, key, owner string) audit.Lease {
	t.Helper()
	l, err := s.Acquire(t.Context(), key, owner, time.Minute)
	if err != nil {
		t.Fatalf("Acquire(%q, %q): %v", key, owner, err)
	}
	return l
}

func appendEntry(t *testing.T, s audit.Store, l audit.Lease, e audit.Entry) audit.Entry {
	t.Helper()
	got, err := s.Append(t.Context(), l, e)
	if err != nil {
		t.Fatalf("Append %s: %v", e.ChangeID, err)
	}
	return got
}

func validEntry(change string) audit.Entry {
	return audit.Entry{
		ExecutionID: "exec-1",
		Stage:       "stage",
		ChangeID:    change,
		State:       audit.StateApplied,
		Time:        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Strategy:    audit.StrategyNonTx,
		Recovery:    audit.RecoveryManual,
	}
}

// rawDocs returns the collection's documents in _id order.
func rawDocs(t *testing.T, coll *mongodriver.Collection) []bson.D {
	t.Helper()
	cur, err := coll.Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatalf("find in %s: %v", coll.Name(), err)
	}
	var docs []bson.D
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatalf("read %s: %v", coll.Name(), err)
	}
	return docs
}

// field returns the value of key in d, nil when d lacks it.
func field(d bson.D, key string) any {
	for _, e := range d {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}
