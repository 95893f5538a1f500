package mongo_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestStoredDocuments pins what the store writes: one collection, one
// document per entry and per lock event, in seq order. Other programs
// (a shell, a backup check) read this layout.
func TestStoredDocuments(t *testing.T) {
	srv := newServer(t)
	s, coll := srv.open(t)
	l := acquire(t, s, "pipeline", "runner-a")
	e := validEntry("create-users")
	e.Order, e.Author, e.Duration = audit.OrderOf(3), "alice", 1500*time.Millisecond
	e.Metadata = json.RawMessage(`{"ticket":"OPS-1"}`)
	appendEntry(t, s, l, e)
	l, err := s.Refresh(t.Context(), l)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if err := s.Release(t.Context(), l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	l2 := acquire(t, s, "pipeline", "runner-b")
	if _, err := s.ForceRelease(t.Context(), "pipeline", "bob"); err != nil {
		t.Fatalf("ForceRelease: %v", err)
	}

	docs := rawDocs(t, coll)
	// Dates are the server's; they are checked for presence and type only.
	date := func(d bson.D, key string) bson.DateTime {
		t.Helper()
		v, ok := field(d, key).(bson.DateTime)
		if !ok {
			t.Fatalf("%s of %v is %T, want a BSON date", key, d, field(d, key))
		}
		return v
	}
	if len(docs) != 6 {
		t.Fatalf("stored %d documents, want 6: %v", len(docs), docs)
	}
	forcedAt := date(docs[5], "at")
	want := []bson.D{
		{{Key: "_id", Value: int64(1)}, {Key: "schema_version", Value: int64(1)}, {Key: "kind", Value: "lease"}, {Key: "event", Value: "acquire"},
			{Key: "key", Value: "pipeline"}, {Key: "epoch", Value: int64(1)}, {Key: "owner", Value: "runner-a"},
			{Key: "expires_at", Value: date(docs[0], "expires_at")}, {Key: "at", Value: date(docs[0], "at")}, {Key: "acquisition", Value: "pipeline/1"}},
		{{Key: "_id", Value: int64(2)}, {Key: "schema_version", Value: int64(1)}, {Key: "kind", Value: "entry"},
			{Key: "execution_id", Value: "exec-1"}, {Key: "stage", Value: "stage"}, {Key: "change_id", Value: "create-users"},
			{Key: "order", Value: int64(3)}, {Key: "author", Value: "alice"}, {Key: "state", Value: "APPLIED"},
			{Key: "time", Value: bson.NewDateTimeFromTime(e.Time)}, {Key: "duration_ns", Value: int64(1500 * time.Millisecond)},
			{Key: "host", Value: ""}, {Key: "runner_id", Value: ""}, {Key: "target_id", Value: ""},
			{Key: "strategy", Value: "NON_TX"}, {Key: "recovery", Value: "MANUAL"}, {Key: "checksum", Value: ""},
			{Key: "error_message", Value: ""}, {Key: "error_kind", Value: ""}, {Key: "operator", Value: ""}, {Key: "reason", Value: ""},
			{Key: "metadata", Value: `{"ticket":"OPS-1"}`},
			{Key: "lease", Value: bson.D{{Key: "key", Value: "pipeline"}, {Key: "epoch", Value: int64(1)}, {Key: "owner", Value: "runner-a"}}}},
		{{Key: "_id", Value: int64(3)}, {Key: "schema_version", Value: int64(1)}, {Key: "kind", Value: "lease"}, {Key: "event", Value: "refresh"},
			{Key: "key", Value: "pipeline"}, {Key: "epoch", Value: int64(1)}, {Key: "owner", Value: "runner-a"},
			{Key: "expires_at", Value: bson.NewDateTimeFromTime(l.ExpiresAt)}, {Key: "at", Value: date(docs[2], "at")}},
		{{Key: "_id", Value: int64(4)}, {Key: "schema_version", Value: int64(1)}, {Key: "kind", Value: "lease"}, {Key: "event", Value: "release"},
			{Key: "key", Value: "pipeline"}, {Key: "epoch", Value: int64(1)}, {Key: "owner", Value: "runner-a"},
			{Key: "expires_at", Value: date(docs[3], "at")}, {Key: "at", Value: date(docs[3], "at")}},
		{{Key: "_id", Value: int64(5)}, {Key: "schema_version", Value: int64(1)}, {Key: "kind", Value: "lease"}, {Key: "event", Value: "acquire"},
			{Key: "key", Value: "pipeline"}, {Key: "epoch", Value: int64(2)}, {Key: "owner", Value: "runner-b"},
			{Key: "expires_at", Value: bson.NewDateTimeFromTime(l2.ExpiresAt)}, {Key: "at", Value: date(docs[4], "at")}, {Key: "acquisition", Value: "pipeline/2"}},
		{{Key: "_id", Value: int64(6)}, {Key: "schema_version", Value: int64(1)}, {Key: "kind", Value: "lease"}, {Key: "event", Value: "force_release"},
			{Key: "key", Value: "pipeline"}, {Key: "epoch", Value: int64(2)}, {Key: "owner", Value: "runner-b"},
			{Key: "expires_at", Value: forcedAt}, {Key: "at", Value: forcedAt},
			{Key: "released_by", Value: "bob"}, {Key: "released_at", Value: forcedAt}},
	}
	if diff := cmp.Diff(want, docs); diff != "" {
		t.Errorf("stored documents (-want +got):\n%s", diff)
	}
}
