package mongo_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/audittest"
)

// set returns d with key set to v (added at the end when d lacks it).
func set(d bson.D, key string, v any) bson.D {
	out := append(bson.D(nil), d...)
	for i := range out {
		if out[i].Key == key {
			out[i].Value = v
			return out
		}
	}
	return append(out, bson.E{Key: key, Value: v})
}

// without returns d without key.
func without(d bson.D, key string) bson.D {
	var out bson.D
	for _, e := range d {
		if e.Key != key {
			out = append(out, e)
		}
	}
	return out
}

// bigOrder returns entry d as of schema version 2, with order digits and
// order_digits n.
func bigOrder(d bson.D, digits string, n int64) bson.D {
	return set(set(set(d, "schema_version", int64(2)), "order", digits), "order_digits", n)
}

// wantCorrupt fails t unless err is an *audit.CorruptError whose message
// names where and says why.
func wantCorrupt(t *testing.T, op string, err error, where, why string) {
	t.Helper()
	var ce *audit.CorruptError
	if !errors.Is(err, audit.ErrCorrupt) || !errors.As(err, &ce) {
		t.Errorf("%s: got %v, want an *audit.CorruptError", op, err)
		return
	}
	if !strings.Contains(ce.Where, where) || !strings.Contains(err.Error(), why) {
		t.Errorf("%s: %v\nwant it to name %q and say %q", op, err, where, why)
	}
}

// TestCorruptEntries stores, beside a valid trail, a document the store
// cannot trust as an entry: reading the trail fails as a whole.
func TestCorruptEntries(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name string
		// doc makes the document to store from a valid stored entry.
		doc   func(entry bson.D) bson.D
		where string
		why   string
	}{
		{"an unknown state", func(d bson.D) bson.D { return set(d, "state", "DONE") }, "document seq 10", `unknown state "DONE"`},
		{"a newer schema version", func(d bson.D) bson.D { return set(d, "schema_version", int64(3)) }, "document seq 10", "schema version 3 by a newer flamingock-go"},
		{"a missing field", func(d bson.D) bson.D { return without(d, "time") }, "document seq 10", "field time is missing"},
		{"a field of another type", func(d bson.D) bson.D { return set(d, "order", "1") }, "document seq 10", "field order is a BSON string"},
		{"an unexpected field", func(d bson.D) bson.D { return set(d, "note", "x") }, "document seq 10", "unexpected fields note"},
		{"an order beyond int64 of schema version 1", func(d bson.D) bson.D {
			return set(set(d, "order", "20150101000001000000"), "order_digits", int64(20))
		}, "document seq 10", "field order is a BSON string"},
		{"order_digits in schema version 1", func(d bson.D) bson.D { return set(d, "order_digits", int64(1)) }, "document seq 10", "unexpected fields order_digits"},
		{"an order of schema version 2 that fits int64", func(d bson.D) bson.D { return bigOrder(d, "9223372036854775807", 19) }, "document seq 10", `field order "9223372036854775807" is not the stored form of an order beyond int64`},
		{"an order of schema version 2 with a leading zero", func(d bson.D) bson.D { return bigOrder(d, "020150101000001000000", 21) }, "document seq 10", "is not the stored form"},
		{"an order of schema version 2 that is not a number", func(d bson.D) bson.D { return bigOrder(d, "2015-01-01", 10) }, "document seq 10", "field order: invalid order"},
		{"an order of schema version 2 as an int64", func(d bson.D) bson.D { return set(d, "schema_version", int64(2)) }, "document seq 10", "field order is a BSON 64-bit integer, want string"},
		{"an order of schema version 2 without its digits", func(d bson.D) bson.D {
			return without(bigOrder(d, "20150101000001000000", 20), "order_digits")
		}, "document seq 10", "field order_digits is missing"},
		{"order_digits that miscount", func(d bson.D) bson.D { return bigOrder(d, "20150101000001000000", 19) }, "document seq 10", "field order_digits is 19, but order has 20 digits"},
		{"metadata that is not a JSON object", func(d bson.D) bson.D { return set(d, "metadata", "[1]") }, "document seq 10", "metadata is not a JSON object"},
		{"no lease", func(d bson.D) bson.D { return without(d, "lease") }, "document seq 10", "field lease is missing"},
		{"a lease without an epoch", func(d bson.D) bson.D {
			return set(d, "lease", bson.D{{Key: "key", Value: "k"}, {Key: "owner", Value: "o"}})
		}, "document seq 10", "in lease: field epoch is missing"},
		{"an unknown kind", func(d bson.D) bson.D { return set(d, "kind", "note") }, "document seq 10", `unknown kind "note"`},
		{"no kind", func(d bson.D) bson.D { return without(d, "kind") }, "document seq 10", "field kind is missing"},
		{"a 32-bit _id", func(d bson.D) bson.D { return set(d, "_id", int32(10)) }, `document _id {"$numberInt":"10"} (a BSON 32-bit integer)`, "its _id is not a seq"},
		{"a document of another program", func(bson.D) bson.D { return bson.D{{Key: "_id", Value: int64(10)}, {Key: "name", Value: "x"}} }, "document seq 10", "field schema_version is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, coll := srv.open(t)
			l := acquire(t, s, "pipeline", "runner-a")
			e := appendEntry(t, s, l, validEntry("a"))
			stored := rawDocs(t, coll)[e.Seq-1]
			if _, err := coll.InsertOne(t.Context(), tc.doc(set(stored, "_id", int64(10)))); err != nil {
				t.Fatalf("insert the corrupt document: %v", err)
			}
			_, err := s.Snapshot(t.Context())
			wantCorrupt(t, "Snapshot", err, tc.where, tc.why)
			_, err = s.History(t.Context(), audit.Filter{})
			wantCorrupt(t, "History", err, tc.where, tc.why)
		})
	}
}

// TestForeignDocumentAtTheTop shows that a document whose _id is not a seq
// (a shell insert gets an ObjectId, which sorts above every number) stops
// every write, since no seq can follow it, and that nothing is written.
func TestForeignDocumentAtTheTop(t *testing.T) {
	srv := newServer(t)
	for _, tc := range []struct {
		name string
		id   any
	}{{"an ObjectId _id", bson.NewObjectID()}, {"a string _id", "x"}} {
		t.Run(tc.name, func(t *testing.T) {
			s, coll := srv.open(t)
			l := acquire(t, s, "pipeline", "runner-a")
			if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "_id", Value: tc.id}, {Key: "name", Value: "x"}}); err != nil {
				t.Fatal(err)
			}
			before := len(rawDocs(t, coll))
			_, err := s.Append(t.Context(), l, validEntry("a"))
			wantCorrupt(t, "Append", err, "document _id", "is not a seq, so no seq can follow it")
			_, err = s.Refresh(t.Context(), l)
			wantCorrupt(t, "Refresh", err, "document _id", "is not a seq")
			err = s.Release(t.Context(), l)
			wantCorrupt(t, "Release", err, "document _id", "is not a seq")
			_, err = s.Snapshot(t.Context())
			wantCorrupt(t, "Snapshot", err, "document _id", "not a document of a flamingock-go audit store")
			if after := len(rawDocs(t, coll)); after != before {
				t.Errorf("the collection went from %d to %d documents", before, after)
			}
		})
	}
}

// TestCorruptLeaseEvents makes the latest event of the lock key a document
// the store cannot trust: every lock operation and every write
// under the key fails, and nothing is written.
func TestCorruptLeaseEvents(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name string
		doc  func(acquire bson.D) bson.D
		why  string
	}{
		{"an unknown event", func(d bson.D) bson.D { return set(without(d, "acquisition"), "event", "steal") }, `unknown lease event "steal"`},
		{"a newer schema version", func(d bson.D) bson.D { return set(d, "schema_version", int64(3)) }, "schema version 3 by a newer flamingock-go"},
		{"an acquisition of another epoch", func(d bson.D) bson.D { return set(d, "acquisition", "pipeline/7") }, `acquisition "pipeline/7" does not match`},
		{"no owner", func(d bson.D) bson.D { return without(d, "owner") }, "field owner is missing"},
		{"an empty owner", func(d bson.D) bson.D { return set(d, "owner", "") }, "empty owner"},
		{"an epoch of zero", func(d bson.D) bson.D { return set(d, "epoch", int64(0)) }, "epoch 0 is not positive"},
		{"an expiry that is not a date", func(d bson.D) bson.D { return set(d, "expires_at", "tomorrow") }, "field expires_at is a BSON string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, coll := srv.open(t)
			l := acquire(t, s, "pipeline", "runner-a")
			// In place: the key's only event becomes one the store cannot
			// trust.
			acquired := rawDocs(t, coll)[0]
			if _, err := coll.ReplaceOne(t.Context(), bson.D{{Key: "_id", Value: l.Epoch}}, tc.doc(acquired)); err != nil {
				t.Fatalf("replace the acquire event: %v", err)
			}
			before := len(rawDocs(t, coll))
			_, err := s.Lock(t.Context(), "pipeline")
			wantCorrupt(t, "Lock", err, `lock "pipeline", document seq 1`, tc.why)
			_, err = s.Acquire(t.Context(), "pipeline", "runner-b", time.Minute)
			wantCorrupt(t, "Acquire", err, `lock "pipeline", document seq 1`, tc.why)
			_, err = s.Append(t.Context(), l, validEntry("a"))
			wantCorrupt(t, "Append", err, `lock "pipeline", document seq 1`, tc.why)
			if after := len(rawDocs(t, coll)); after != before {
				t.Errorf("the collection went from %d to %d documents", before, after)
			}
			// Another key is not concerned.
			if _, err := s.Acquire(t.Context(), "other", "runner-b", time.Minute); err != nil {
				t.Errorf("Acquire of another key: %v", err)
			}
		})
	}
}

// TestAcquisitionIsUniquePerEpoch shows the unique index on acquisition
// refusing a second acquire event of one key and epoch, even at a free seq,
// while the entries and other events, which lack the field, coexist.
func TestAcquisitionIsUniquePerEpoch(t *testing.T) {
	srv := newServer(t)
	s, coll := srv.open(t)
	l := acquire(t, s, "pipeline", "runner-a")
	appendEntry(t, s, l, validEntry("a"))
	appendEntry(t, s, l, validEntry("b"))
	if _, err := s.Refresh(t.Context(), l); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	again := set(set(rawDocs(t, coll)[0], "_id", int64(10)), "owner", "runner-b")
	_, err := coll.InsertOne(t.Context(), again)
	if !mongodriver.IsDuplicateKeyError(err) {
		t.Errorf("a second acquire event of pipeline epoch 1: %v, want a duplicate key error", err)
	}
}

// TestTrailOverTheBoundsStaysReadable shows that the bounds are checked by
// Append only: entries longer than them, written before the bounds existed,
// are read back.
func TestTrailOverTheBoundsStaysReadable(t *testing.T) {
	srv := newServer(t)
	s, coll := srv.open(t)
	want := appendEntry(t, s, acquire(t, s, "pipeline", "runner-a"), validEntry("old"))
	want = audittest.OverTheBounds(want)
	_, err := coll.UpdateOne(t.Context(), bson.D{{Key: "_id", Value: want.Seq}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "stage", Value: want.Stage}, {Key: "change_id", Value: want.ChangeID},
		{Key: "target_id", Value: want.TargetID}, {Key: "author", Value: want.Author},
	}}})
	if err != nil {
		t.Fatalf("rewrite the entry: %v", err)
	}
	audittest.ReadsBack(t, s, want)
}
