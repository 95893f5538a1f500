package mongosteps_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/mongosteps"
)

// newDB returns a database of its own on the test server, dropped when
// the test ends, and skips t without a configured MongoDB (see
// internal/testenv). monitor, if not nil, sees every command.
func newDB(t *testing.T, monitor *event.CommandMonitor) *mongo.Database {
	t.Helper()
	opts := options.Client().ApplyURI(testenv.Mongo(t)).SetMonitor(monitor)
	if opts.ServerSelectionTimeout == nil {
		opts.SetServerSelectionTimeout(5 * time.Second)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	// FerretDB accepts only letters, digits, "_" and "-" in database names.
	db := client.Database("ms_test_" + hex.EncodeToString(b[:]))
	t.Cleanup(func() {
		if err := db.Drop(context.Background()); err != nil { // t.Context is done during cleanup
			t.Errorf("drop database %s: %v", db.Name(), err)
		}
	})
	return db
}

func parse(t *testing.T, name, src string) *mongosteps.File {
	t.Helper()
	f, err := mongosteps.Parse(name, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func collections(t *testing.T, db *mongo.Database) []string {
	t.Helper()
	names, err := db.ListCollectionNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// indexes returns the indexes of a collection by name, each as the server
// lists it, its version and namespace left out.
func indexes(t *testing.T, c *mongo.Collection) map[string]bson.M {
	t.Helper()
	cur, err := c.Indexes().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.M
	if err := cur.All(t.Context(), &all); err != nil {
		t.Fatal(err)
	}
	m := map[string]bson.M{}
	for _, ix := range all {
		delete(ix, "v")
		delete(ix, "ns")
		m[ix["name"].(string)] = ix
	}
	return m
}

// documents returns a collection's documents sorted by email, without
// their _id unless keepID.
func documents(t *testing.T, c *mongo.Collection, keepID bool) []bson.D {
	t.Helper()
	o := options.Find().SetSort(bson.D{{Key: "email", Value: 1}})
	if !keepID {
		o.SetProjection(bson.D{{Key: "_id", Value: 0}})
	}
	cur, err := c.Find(t.Context(), bson.D{}, o)
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.D
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

const users = `transactional: false
steps:
  - createCollection: {collection: users}
  - createIndex: {collection: users, keys: {email: 1}, name: email_1, unique: true}
  - insert:
      collection: users
      documents:
        - _id: {$oid: "65b9f0c2a1b2c3d4e5f60718"}
          email: ada@example.com
          visits: 3
          born: {$date: "1815-12-10T00:00:00Z"}
          score: {$numberLong: "7"}
          ratio: 0.5
          tags: [admin, founder]
          address: {city: London, zip: null}
        - {email: bob@example.com, visits: 0}
        - {email: eve@example.com, visits: 0}
        - {email: mal@example.com, visits: 0}
  - update: {collection: users, filter: {visits: 0}, update: {$set: {dormant: true}}, multi: true}
  - update: {collection: users, filter: {email: ada@example.com}, update: {$inc: {visits: 1}}}
  - update: {collection: users, filter: {dormant: true}, update: {$set: {visits: 1}}}
  - update: {collection: users, filter: {email: zed@example.com}, update: {$set: {visits: 9}}, upsert: true}
  - delete: {collection: users, filter: {email: bob@example.com}}
  - delete: {collection: users, filter: {email: {$in: [eve@example.com, mal@example.com]}}, multi: true}
undo:
  - dropIndex: {collection: users, name: email_1}
  - renameCollection: {collection: users, to: users_before}
`

func TestApplyAndUndoChangeWhatTheServerHolds(t *testing.T) {
	db := newDB(t, nil)
	f := parse(t, "0001_users.yaml", users)
	if err := f.Apply(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	c := db.Collection("users")
	if got := collections(t, db); !cmp.Equal(got, []string{"users"}) {
		t.Errorf("collections %v, want [users]", got)
	}
	ix := indexes(t, c)
	if email := ix["email_1"]; len(ix) != 2 || email == nil || email["unique"] != true ||
		!cmp.Equal(email["key"], bson.D{{Key: "email", Value: int32(1)}}) {
		t.Errorf("indexes %v, want _id_ and email_1 unique on {email: 1}", ix)
	}

	// The update without multi changed one of the two dormant users;
	// the upsert inserted zed; the delete without multi removed bob, the
	// one with multi eve and mal.
	got := documents(t, c, true)
	if len(got) != 2 {
		t.Fatalf("documents %v, want ada and zed", got)
	}
	oid, _ := bson.ObjectIDFromHex("65b9f0c2a1b2c3d4e5f60718")
	wantAda := bson.D{
		{Key: "_id", Value: oid},
		{Key: "email", Value: "ada@example.com"},
		{Key: "visits", Value: int32(4)},
		{Key: "born", Value: bson.NewDateTimeFromTime(time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC))},
		{Key: "score", Value: int64(7)},
		{Key: "ratio", Value: 0.5},
		{Key: "tags", Value: bson.A{"admin", "founder"}},
		{Key: "address", Value: bson.D{{Key: "city", Value: "London"}, {Key: "zip", Value: nil}}},
	}
	if diff := cmp.Diff(wantAda, got[0]); diff != "" {
		t.Errorf("ada (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(bson.D{{Key: "email", Value: "zed@example.com"}, {Key: "visits", Value: int32(9)}}, got[1][1:]); diff != "" {
		t.Errorf("zed, upserted (-want +got):\n%s", diff)
	}

	// The unique index is the server's: a second insert of ada fails, as a
	// duplicate key, named by its step.
	dup := parse(t, "0002_dup.yaml", "steps:\n  - delete: {collection: users, filter: {email: nobody}}\n  - insert: {collection: users, documents: [{email: ada@example.com}]}\n")
	err := dup.Apply(t.Context(), db)
	var se *mongosteps.StepError
	if !errors.As(err, &se) || !mongo.IsDuplicateKeyError(err) || se.Index != 2 || se.Op != mongosteps.Insert || se.Line != 3 || se.Col != 5 || se.Undo {
		t.Fatalf("error %v, want a duplicate key error of step 2 (insert) at 3:5", err)
	}
	if want := "0002_dup.yaml:3:5: step 2 (insert): "; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("error %q, want it to start with %q", err, want)
	}

	if err := f.Undo(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if got := collections(t, db); !cmp.Equal(got, []string{"users_before"}) {
		t.Errorf("collections after undo %v, want [users_before]", got)
	}
	if ix := indexes(t, db.Collection("users_before")); len(ix) != 1 || ix["_id_"] == nil {
		t.Errorf("indexes after undo %v, want _id_ alone", ix)
	}
	if got := documents(t, db.Collection("users_before"), false); len(got) != 2 {
		t.Errorf("documents after undo %v, want ada and zed, renamed with their collection", got)
	}

	// An undo step that fails is named as one.
	err = f.Undo(t.Context(), db)
	if !errors.As(err, &se) || !se.Undo || se.Index != 1 || se.Op != mongosteps.DropIndex || se.Line != 26 {
		t.Errorf("second undo: %v, want undo step 1 (dropIndex) at line 26 failing", err)
	}

	drop := parse(t, "0003_drop.yaml", "transactional: false\nsteps:\n  - dropCollection: {collection: users_before}\n  - dropCollection: {collection: never_there}\n")
	if err := drop.Apply(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if got := collections(t, db); len(got) != 0 {
		t.Errorf("collections after dropCollection %v, want none", got)
	}
	if err := drop.Undo(t.Context(), db); err != nil || drop.HasUndo() {
		t.Errorf("Undo of a file without undo: %v (HasUndo %v), want nothing done", err, drop.HasUndo())
	}
}

func TestApplyRunsEveryOperationWithTheContextItIsGiven(t *testing.T) {
	var mu sync.Mutex
	lsids := map[string][]bson.Raw{}
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		defer mu.Unlock()
		if id, err := e.Command.LookupErr("lsid"); err == nil {
			lsids[e.CommandName] = append(lsids[e.CommandName], id.Document())
		}
	}}
	db := newDB(t, monitor)
	f := parse(t, "0001_users.yaml", users)

	// A session bound to the context, as mongotarget binds its
	// transaction's: every command carries its id.
	sess, err := db.Client().StartSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.EndSession(context.Background())
	if err := f.Apply(mongo.NewSessionContext(t.Context(), sess), db); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := bson.Raw(sess.ID())
	for _, cmd := range []string{"create", "createIndexes", "insert", "update", "delete"} {
		if len(lsids[cmd]) == 0 {
			t.Errorf("no %s command seen with a session", cmd)
		}
		for _, id := range lsids[cmd] {
			if !sameRaw(id, want) {
				t.Errorf("%s ran in session %v, want %v", cmd, id, want)
			}
		}
	}

	// A context that is done stops the steps before the first.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = parse(t, "0002.yaml", "steps:\n  - delete: {collection: users, filter: {}}\n").Apply(ctx, db)
	var se *mongosteps.StepError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Index != 1 {
		t.Errorf("Apply with a canceled context: %v, want context.Canceled at step 1", err)
	}
}

func sameRaw(a, b bson.Raw) bool { return string(a) == string(b) }

func TestDropViewRefusesToDropACollection(t *testing.T) {
	db := newDB(t, nil)
	if err := db.CreateCollection(t.Context(), "users"); err != nil {
		t.Fatal(err)
	}
	err := parse(t, "v.yaml", "transactional: false\nsteps:\n  - dropView: {view: users}\n").Apply(t.Context(), db)
	if err == nil || err.Error() != "v.yaml:3:5: step 1 (dropView): users is a collection, not a view: dropView drops only views (use dropCollection)" {
		t.Errorf("dropView of a collection: %v", err)
	}
	if got := collections(t, db); !cmp.Equal(got, []string{"users"}) {
		t.Errorf("collections %v, want users kept", got)
	}
}

// skipIfLacking skips t when the server answers err with one of codes:
// what FerretDB 1.24 does not implement (NotImplemented, 238), so the test
// proves the operation only on a server that has it.
func skipIfLacking(t *testing.T, err error, codes ...int) {
	t.Helper()
	var se mongo.ServerError
	if errors.As(err, &se) {
		for _, c := range codes {
			if se.HasErrorCode(c) {
				t.Skipf("the test server lacks this, as FerretDB 1.24 does: %v", err)
			}
		}
	}
}

const notImplemented = 238

func TestOperationsFerretDBLacks(t *testing.T) {
	t.Run("createView and dropView", func(t *testing.T) {
		db := newDB(t, nil)
		f := parse(t, "v.yaml", `transactional: false
steps:
  - insert: {collection: users, documents: [{email: a, active: true}, {email: b, active: false}]}
  - createView: {view: active_users, viewOn: users, pipeline: [{$match: {active: true}}, {$project: {_id: 0, email: 1}}]}
undo:
  - dropView: {view: active_users}
`)
		err := f.Apply(t.Context(), db)
		skipIfLacking(t, err, notImplemented)
		if err != nil {
			t.Fatal(err)
		}
		if got := documents(t, db.Collection("active_users"), false); !cmp.Equal(got, []bson.D{{{Key: "email", Value: "a"}}}) {
			t.Errorf("view holds %v, want [{email: a}]", got)
		}
		if err := f.Undo(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		if got := collections(t, db); !cmp.Equal(got, []string{"users"}) {
			t.Errorf("collections after dropView %v, want [users]", got)
		}
	})
	t.Run("a validator, set by createCollection and changed by modifyCollection", func(t *testing.T) {
		db := newDB(t, nil)
		f := parse(t, "v.yaml", `transactional: false
steps:
  - createCollection: {collection: users, validator: {email: {$type: string}}, validationAction: error}
`)
		err := f.Apply(t.Context(), db)
		skipIfLacking(t, err, notImplemented)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Collection("users").InsertOne(t.Context(), bson.D{{Key: "email", Value: 7}}); err == nil {
			t.Error("the validator let a document with a numeric email in")
		}
	})
	t.Run("modifyCollection", func(t *testing.T) {
		db := newDB(t, nil)
		if err := db.CreateCollection(t.Context(), "users"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Collection("users").InsertOne(t.Context(), bson.D{{Key: "email", Value: 7}}); err != nil {
			t.Fatal(err)
		}
		err := parse(t, "m.yaml", `transactional: false
steps:
  - modifyCollection: {collection: users, validator: {email: {$type: string}}, validationLevel: moderate}
`).Apply(t.Context(), db)
		skipIfLacking(t, err, notImplemented)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Collection("users").InsertOne(t.Context(), bson.D{{Key: "email", Value: 8}}); err == nil {
			t.Error("the validator set by collMod let a document with a numeric email in")
		}
	})
	t.Run("partial and TTL indexes", func(t *testing.T) {
		db := newDB(t, nil)
		f := parse(t, "i.yaml", `transactional: false
steps:
  - createIndex: {collection: users, keys: {email: 1}, name: email_1, unique: true, partialFilterExpression: {email: {$exists: true}}}
  - createIndex: {collection: users, keys: {seen: 1}, name: seen_ttl, expireAfterSeconds: 3600}
`)
		err := f.Apply(t.Context(), db)
		skipIfLacking(t, err, notImplemented)
		if err != nil {
			t.Fatal(err)
		}
		ix := indexes(t, db.Collection("users"))
		if !cmp.Equal(ix["email_1"]["partialFilterExpression"], bson.D{{Key: "email", Value: bson.D{{Key: "$exists", Value: true}}}}) {
			t.Errorf("email_1 is %v, want its partialFilterExpression", ix["email_1"])
		}
		if ttl := ix["seen_ttl"]["expireAfterSeconds"]; ttl != int32(3600) {
			t.Errorf("seen_ttl is %v, want expireAfterSeconds 3600", ix["seen_ttl"])
		}
	})
	t.Run("an update by pipeline", func(t *testing.T) {
		db := newDB(t, nil)
		f := parse(t, "u.yaml", `steps:
  - insert: {collection: users, documents: [{first: Ada, last: Lovelace}]}
  - update: {collection: users, filter: {}, update: [{$set: {full: {$concat: [$first, " ", $last]}}}]}
`)
		err := f.Apply(t.Context(), db)
		skipIfLacking(t, err, notImplemented, 14) // FerretDB: TypeMismatch, "expected type 'object'"
		if err != nil {
			t.Fatal(err)
		}
		if got := documents(t, db.Collection("users"), false); len(got) != 1 || len(got[0]) != 3 || got[0][2].Value != "Ada Lovelace" {
			t.Errorf("documents %v, want full: Ada Lovelace", got)
		}
	})
}
