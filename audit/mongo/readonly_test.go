package mongo_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/flamingock/flamingock-go/audit/mongo"
)

func TestOpenRefusesAnEmptyURI(t *testing.T) {
	for _, uri := range []string{"", "  "} {
		s, err := mongo.Open(t.Context(), uri)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded", uri)
		}
		if !strings.Contains(err.Error(), "empty URI") {
			t.Errorf("Open(%q) = %v, want it to say the URI is empty", uri, err)
		}
	}
}

func TestReadOnlyOpenCreatesNothing(t *testing.T) {
	srv := newServer(t)
	db := srv.database(t)
	s, err := mongo.Open(t.Context(), srv.uri, mongo.WithDatabase(db), mongo.WithReadOnly())
	if err == nil {
		s.Close()
		t.Fatal("Open of a database without the trail succeeded")
	}
	if !errors.Is(err, mongo.ErrNotStore) || !strings.Contains(err.Error(), `database "`+db+`" has no collection "flamingock_audit"`) {
		t.Errorf("Open: %v, want ErrNotStore naming the database and the collection", err)
	}
	names, err := srv.admin.Database(db).ListCollectionNames(t.Context(), bson.D{})
	if err != nil || len(names) > 0 {
		t.Errorf("collections of %s after Open: %v, %v; want none", db, names, err)
	}
	if _, err := mongo.New(t.Context(), srv.admin.Database(db), mongo.WithReadOnly()); !errors.Is(err, mongo.ErrNotStore) {
		t.Errorf("New: %v, want ErrNotStore", err)
	}
}

func TestReadOnlyOpenReadsAStoreWithoutCreatingIndexes(t *testing.T) {
	srv := newServer(t)
	w, coll := srv.open(t)
	appendEntry(t, w, acquire(t, w, "k", "runner-a"), validEntry("c1"))
	// Read-only, the store does not create an index that is missing.
	if err := coll.Indexes().DropOne(t.Context(), "entry_by_change"); err != nil {
		t.Fatal(err)
	}
	r, err := mongo.Open(t.Context(), srv.uri, mongo.WithDatabase(coll.Database().Name()), mongo.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if latest, err := r.Snapshot(t.Context()); err != nil || len(latest) != 1 {
		t.Errorf("Snapshot = %v, %v; want c1", latest, err)
	}
	if info, err := r.Lock(t.Context(), "k"); err != nil || info.Owner != "runner-a" {
		t.Errorf("Lock = %+v, %v; want runner-a's", info, err)
	}
	specs, err := coll.Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(specs, func(s mongodriver.IndexSpecification) bool { return s.Name == "entry_by_change" }) {
		t.Error("the read-only store created index entry_by_change")
	}
}
