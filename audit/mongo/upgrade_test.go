package mongo_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
)

// The fixture of testdata/layout1 (see its README): a trail written by the
// store before orders of any length, with no version record.
const (
	layout1TopSeq     = 16
	layout1Checkpoint = "pipeline-digest-1"
)

// fixtureDocs reads testdata/layout1/name, canonical extended JSON, one
// document a line.
func fixtureDocs(t *testing.T, name string) []bson.D {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "layout1", name))
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.D
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d bson.D
		if err := bson.UnmarshalExtJSON(sc.Bytes(), true, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return docs
}

// golden is the fixture's trail as the code that wrote it read it back.
func golden(t *testing.T) []audit.Entry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "layout1", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []audit.Entry
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatalf("golden.json: %v", err)
	}
	for i := range entries {
		if string(entries[i].Metadata) == "null" { // no metadata: the code wrote a nil one as null
			entries[i].Metadata = nil
		}
	}
	return entries
}

// layout1 stores the fixture, as it is, in a fresh database, and returns
// the database's name.
func (s *server) layout1(t *testing.T) string {
	t.Helper()
	db := s.database(t)
	for _, c := range []string{"audit", "checkpoint"} {
		var docs []any
		for _, d := range fixtureDocs(t, c+".jsonl") {
			docs = append(docs, d)
		}
		if _, err := s.admin.Database(db).Collection("flamingock_"+c).InsertMany(t.Context(), docs); err != nil {
			t.Fatalf("load the fixture's %s: %v", c, err)
		}
	}
	return db
}

// dump is everything the database holds: every collection's documents in
// _id order, as canonical extended JSON, and its indexes.
func (s *server) dump(t *testing.T, db string) map[string][]string {
	t.Helper()
	names, err := s.admin.Database(db).ListCollectionNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, n := range names {
		coll := s.admin.Database(db).Collection(n)
		for _, d := range rawDocs(t, coll) {
			j, err := bson.MarshalExtJSON(d, true, false)
			if err != nil {
				t.Fatal(err)
			}
			out[n] = append(out[n], string(j))
		}
		specs, err := coll.Indexes().ListSpecifications(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range specs {
			out[n+" indexes"] = append(out[n+" indexes"], sp.Name+" "+sp.KeysDocument.String())
		}
	}
	return out
}

// layoutRecord returns the database's version record, nil when it has none.
func (s *server) layoutRecord(t *testing.T, db string) bson.D {
	t.Helper()
	docs := rawDocs(t, s.admin.Database(db).Collection("flamingock_version"))
	switch len(docs) {
	case 0:
		return nil
	case 1:
		return docs[0]
	}
	t.Fatalf("flamingock_version holds %d documents, want one: %v", len(docs), docs)
	return nil
}

// wantLayout2 fails t unless db holds the version record of layout 2.
func (s *server) wantLayout2(t *testing.T, db string) {
	t.Helper()
	rec := s.layoutRecord(t, db)
	if rec == nil {
		t.Fatal("no version record after Open")
	}
	if _, ok := field(rec, "upgraded_at").(bson.DateTime); !ok {
		t.Errorf("upgraded_at of %v is not a BSON date", rec)
	}
	want := bson.D{{Key: "_id", Value: "layout"}, {Key: "version", Value: int64(2)}, {Key: "upgraded_at", Value: field(rec, "upgraded_at")}}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("version record (-want +got):\n%s", diff)
	}
}

func openDB(t *testing.T, srv *server, db string, opts ...mongo.Option) *mongo.Store {
	t.Helper()
	s, err := mongo.Open(t.Context(), srv.uri, append([]mongo.Option{mongo.WithDatabase(db)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// wantGolden fails t unless s reads back the fixture's trail, then the
// entries in more (appended since).
func wantGolden(t *testing.T, s audit.Store, more ...audit.Entry) {
	t.Helper()
	got, err := s.History(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if diff := cmp.Diff(append(golden(t), more...), got); diff != "" {
		t.Errorf("History (-golden +got):\n%s", diff)
	}
}

// TestUpgradeFromLayout1 opens a trail written by the release before
// orders of any length: it is upgraded in place to layout 2 without a
// document of it changing, reads back as that release read it, takes
// orders of any length after it, and a second open writes nothing.
func TestUpgradeFromLayout1(t *testing.T) {
	srv := newServer(t)
	db := srv.layout1(t)
	s := openDB(t, srv, db)
	srv.wantLayout2(t, db)
	if diff := cmp.Diff(fixtureDocs(t, "audit.jsonl"), rawDocs(t, srv.admin.Database(db).Collection("flamingock_audit"))); diff != "" {
		t.Errorf("the upgrade changed the trail (-before +after):\n%s", diff)
	}
	wantGolden(t, s)
	// The trail did not change, so its checkpoint is still current.
	if _, current, err := s.SnapshotUnlessCurrent(t.Context(), layout1Checkpoint); err != nil || !current {
		t.Errorf("SnapshotUnlessCurrent after the upgrade = %v, %v; want the fixture's checkpoint current", current, err)
	}

	t.Run("reopening writes nothing", func(t *testing.T) {
		before := srv.dump(t, db)
		openDB(t, srv, db)
		if diff := cmp.Diff(before, srv.dump(t, db)); diff != "" {
			t.Errorf("a second Open changed the database (-before +after):\n%s", diff)
		}
	})

	t.Run("orders of any length", func(t *testing.T) {
		orders := []string{"100000000000000000000", "20150101000001000000", "9300000000000000000", "9223372036854775807", "10", "9"}
		l := acquire(t, s, "default", "runner-3")
		var wrote []audit.Entry
		for _, o := range orders {
			e := validEntry("order-" + o)
			e.Stage, e.Order = "big", audit.MustParseOrder(o)
			got := appendEntry(t, s, l, e)
			if got.Seq <= layout1TopSeq {
				t.Errorf("appended at seq %d, at or below the fixture's %d", got.Seq, layout1TopSeq)
			}
			wrote = append(wrote, got)
		}
		got, err := s.History(t.Context(), audit.Filter{Stage: "big"})
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if diff := cmp.Diff(wrote, got); diff != "" {
			t.Errorf("entries read back (-appended +read):\n%s", diff)
		}
		wantGolden(t, s, wrote...)

		// The sort doc.go gives, over the whole trail: the fixture's int64
		// orders and the new ones, numerically.
		cur, err := srv.admin.Database(db).Collection("flamingock_audit").Find(t.Context(),
			bson.D{{Key: "kind", Value: "entry"}},
			options.Find().SetSort(bson.D{{Key: "order_digits", Value: 1}, {Key: "order", Value: 1}, {Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		var sorted []struct {
			Order any `bson:"order"`
		}
		if err := cur.All(t.Context(), &sorted); err != nil {
			t.Fatal(err)
		}
		var byServer []audit.Order
		for _, d := range sorted {
			switch v := d.Order.(type) {
			case int64:
				byServer = append(byServer, audit.OrderOf(uint64(v)))
			case string:
				byServer = append(byServer, audit.MustParseOrder(v))
			default:
				t.Fatalf("order %v is a %T", v, v)
			}
		}
		var want []audit.Order
		for _, e := range append(golden(t), wrote...) {
			want = append(want, e.Order)
		}
		slices.SortFunc(want, audit.Order.Compare)
		if diff := cmp.Diff(want, byServer); diff != "" {
			t.Errorf("server's sort by order (-numeric +server):\n%s", diff)
		}

		// The trail changed: the checkpoint is stale until saved again.
		if _, current, err := s.SnapshotUnlessCurrent(t.Context(), layout1Checkpoint); err != nil || current {
			t.Errorf("SnapshotUnlessCurrent after appending = %v, %v; want stale", current, err)
		}
		if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: layout1Checkpoint, Seq: wrote[len(wrote)-1].Seq}); err != nil {
			t.Fatal(err)
		}
		if _, current, err := s.SnapshotUnlessCurrent(t.Context(), layout1Checkpoint); err != nil || !current {
			t.Errorf("SnapshotUnlessCurrent after saving = %v, %v; want current", current, err)
		}
	})
}

// TestStoredOrdersBeyondInt64 pins the stored form of orders: an order
// that fits int64 is stored as before; a larger one as its digits and
// their number, in a document of schema version 2, which the release
// before refuses ("upgrade flamingock-go") rather than misreads.
func TestStoredOrdersBeyondInt64(t *testing.T) {
	srv := newServer(t)
	s, coll := srv.open(t)
	l := acquire(t, s, "pipeline", "runner-a")
	small, big := validEntry("small"), validEntry("big")
	small.Order, big.Order = audit.MustParseOrder("9223372036854775807"), audit.MustParseOrder("20150101000001000000")
	appendEntry(t, s, l, small)
	appendEntry(t, s, l, big)
	docs := rawDocs(t, coll)
	for _, tc := range []struct {
		doc  bson.D
		want bson.D
	}{
		{docs[1], bson.D{{Key: "schema_version", Value: int64(1)}, {Key: "order", Value: int64(9223372036854775807)}}},
		{docs[2], bson.D{{Key: "schema_version", Value: int64(2)}, {Key: "order", Value: "20150101000001000000"}, {Key: "order_digits", Value: int64(20)}}},
	} {
		var got bson.D
		for _, e := range tc.doc {
			if e.Key == "schema_version" || strings.HasPrefix(e.Key, "order") {
				got = append(got, e)
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("stored order fields of %v (-want +got):\n%s", field(tc.doc, "change_id"), diff)
		}
	}
}

// TestConcurrentUpgrades opens one layout-1 trail from twenty clients at
// once: every open succeeds, one version record is written, and the trail
// reads back as before.
func TestConcurrentUpgrades(t *testing.T) {
	srv := newServer(t)
	db := srv.layout1(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			s, err := mongo.Open(t.Context(), srv.uri, mongo.WithDatabase(db))
			if err != nil {
				errs <- err
				return
			}
			if _, err := s.History(t.Context(), audit.Filter{}); err != nil {
				errs <- err
			}
			errs <- s.Close()
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	srv.wantLayout2(t, db)
	if diff := cmp.Diff(fixtureDocs(t, "audit.jsonl"), rawDocs(t, srv.admin.Database(db).Collection("flamingock_audit"))); diff != "" {
		t.Errorf("the upgrade changed the trail (-before +after):\n%s", diff)
	}
	wantGolden(t, openDB(t, srv, db, mongo.WithReadOnly()))
}

// TestNewerLayoutIsRefused opens a store whose version record is that of a
// later release: Open and a read-only Open both refuse it, and write
// nothing.
func TestNewerLayoutIsRefused(t *testing.T) {
	srv := newServer(t)
	db := srv.layout1(t)
	_, err := srv.admin.Database(db).Collection("flamingock_version").InsertOne(t.Context(),
		bson.D{{Key: "_id", Value: "layout"}, {Key: "version", Value: int64(3)}, {Key: "upgraded_at", Value: bson.NewDateTimeFromTime(time.Now())}, {Key: "later", Value: "field"}})
	if err != nil {
		t.Fatal(err)
	}
	before := srv.dump(t, db)
	for _, opts := range [][]mongo.Option{nil, {mongo.WithReadOnly()}} {
		s, err := mongo.Open(t.Context(), srv.uri, append(opts, mongo.WithDatabase(db))...)
		if err == nil {
			s.Close()
			t.Errorf("Open (%d options) of a layout-3 store succeeded", len(opts))
			continue
		}
		if !strings.Contains(err.Error(), "upgrade flamingock-go") || !strings.Contains(err.Error(), "layout 3") || !strings.Contains(err.Error(), "flamingock_version") {
			t.Errorf("Open (%d options): %v, want it to name the collection, layout 3 and say upgrade flamingock-go", len(opts), err)
		}
	}
	if diff := cmp.Diff(before, srv.dump(t, db)); diff != "" {
		t.Errorf("a refused Open changed the database (-before +after):\n%s", diff)
	}
}

// TestCorruptVersionRecord refuses a version record the store did not
// write, naming it.
func TestCorruptVersionRecord(t *testing.T) {
	srv := newServer(t)
	for _, tc := range []struct {
		name string
		rec  bson.D
		why  string
	}{
		{"a version of another type", bson.D{{Key: "_id", Value: "layout"}, {Key: "version", Value: "2"}}, "field version is a BSON string"},
		{"layout 1 recorded", bson.D{{Key: "_id", Value: "layout"}, {Key: "version", Value: int64(1)}, {Key: "upgraded_at", Value: bson.NewDateTimeFromTime(time.Now())}}, "unknown layout 1"},
		{"no time", bson.D{{Key: "_id", Value: "layout"}, {Key: "version", Value: int64(2)}}, "field upgraded_at is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := srv.layout1(t)
			if _, err := srv.admin.Database(db).Collection("flamingock_version").InsertOne(t.Context(), tc.rec); err != nil {
				t.Fatal(err)
			}
			for _, opts := range [][]mongo.Option{nil, {mongo.WithReadOnly()}} {
				s, err := mongo.Open(t.Context(), srv.uri, append(opts, mongo.WithDatabase(db))...)
				if err == nil {
					s.Close()
					t.Fatalf("Open (%d options) succeeded", len(opts))
				}
				wantCorrupt(t, "Open", err, "flamingock_version", tc.why)
			}
		})
	}
}

// TestReadOnlyOpenOfLayout1 reads a layout-1 trail without upgrading it.
func TestReadOnlyOpenOfLayout1(t *testing.T) {
	srv := newServer(t)
	db := srv.layout1(t)
	before := srv.dump(t, db)
	s := openDB(t, srv, db, mongo.WithReadOnly())
	wantGolden(t, s)
	if _, current, err := s.SnapshotUnlessCurrent(t.Context(), layout1Checkpoint); err != nil || !current {
		t.Errorf("SnapshotUnlessCurrent = %v, %v; want the fixture's checkpoint current", current, err)
	}
	if diff := cmp.Diff(before, srv.dump(t, db)); diff != "" {
		t.Errorf("a read-only Open changed the database (-before +after):\n%s", diff)
	}
}

// TestNewStoreIsLayout2 creates a store in an empty database: it is made at
// layout 2 directly.
func TestNewStoreIsLayout2(t *testing.T) {
	srv := newServer(t)
	db := srv.database(t)
	openDB(t, srv, db)
	srv.wantLayout2(t, db)
}

// TestUpToDateOpenIsOneRead counts the commands of opening a store of
// layout 2: one find, of the version record, where the release before
// sent four createIndexes.
func TestUpToDateOpenIsOneRead(t *testing.T) {
	srv := newServer(t)
	db := srv.database(t)
	openDB(t, srv, db)
	var (
		mu       sync.Mutex
		commands []string
	)
	client, err := mongodriver.Connect(options.Client().ApplyURI(srv.uri).SetMonitor(&event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			mu.Lock()
			defer mu.Unlock()
			commands = append(commands, e.CommandName)
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	if err := client.Ping(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	commands = nil
	mu.Unlock()
	if _, err := mongo.New(t.Context(), client.Database(db)); err != nil {
		t.Fatalf("New: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"find"}; !slices.Equal(commands, want) {
		t.Errorf("opening an up-to-date store sent %v, want %v", commands, want)
	}
}
