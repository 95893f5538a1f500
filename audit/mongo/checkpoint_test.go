package mongo_test

import (
	"context"
	"slices"
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

// checkpointColl is the default checkpoint collection of a store's
// database.
func checkpointColl(srv *server, s *mongo.Store) *mongodriver.Collection {
	return srv.admin.Database(s.Database().Name()).Collection(mongo.DefaultCollectionPrefix + "_checkpoint")
}

func saveCheckpoint(t *testing.T, s *mongo.Store, digest string, seq int64) {
	t.Helper()
	if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: digest, Seq: seq}); err != nil {
		t.Fatalf("SaveCheckpoint(%q, %d): %v", digest, seq, err)
	}
}

func isCurrent(t *testing.T, s *mongo.Store, digest string) bool {
	t.Helper()
	_, current, err := s.SnapshotUnlessCurrent(t.Context(), digest)
	if err != nil {
		t.Fatalf("SnapshotUnlessCurrent(%q): %v", digest, err)
	}
	return current
}

// TestCheckpointIgnoresLockEvents: lock events take seqs of the trail too,
// yet only a new entry makes a checkpoint stale. A run releases its lock
// right after saving its checkpoint.
func TestCheckpointIgnoresLockEvents(t *testing.T) {
	srv := newServer(t)
	s, _ := srv.open(t)
	l := acquire(t, s, "pipeline", "runner-a")
	last := appendEntry(t, s, l, validEntry("a"))
	saveCheckpoint(t, s, "d1", last.Seq)

	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"a refresh", func(t *testing.T) {
			var err error
			if l, err = s.Refresh(t.Context(), l); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
		}},
		{"a release", func(t *testing.T) {
			if err := s.Release(t.Context(), l); err != nil {
				t.Fatalf("Release: %v", err)
			}
		}},
		{"another key's acquisition", func(t *testing.T) { acquire(t, s, "other", "runner-b") }},
		{"a forced release", func(t *testing.T) {
			if _, err := s.ForceRelease(t.Context(), "other", "bob"); err != nil {
				t.Fatalf("ForceRelease: %v", err)
			}
		}},
	}
	for _, step := range steps {
		step.do(t)
		if !isCurrent(t, s, "d1") {
			t.Fatalf("not current after %s", step.name)
		}
	}
	l = acquire(t, s, "pipeline", "runner-c")
	appendEntry(t, s, l, validEntry("b"))
	if isCurrent(t, s, "d1") {
		t.Error("current after an entry was appended")
	}
}

// commandLog records the commands a client sends.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (c *commandLog) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.names = append(c.names, e.CommandName)
	}}
}

// take returns the commands sent since the last take.
func (c *commandLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := c.names
	c.names = nil
	return names
}

// TestCheckpointRoundTrips pins the cost of a start: two reads when the
// checkpoint is current (the checkpoint, and the trail, digested), one more
// (Snapshot's) when it is not, and a read of the trail and one write to
// save it.
func TestCheckpointRoundTrips(t *testing.T) {
	srv := newServer(t)
	var log commandLog
	client, err := mongodriver.Connect(options.Client().ApplyURI(srv.uri).SetMonitor(log.monitor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	s, err := mongo.New(t.Context(), client.Database(srv.database(t)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l := acquire(t, s, "pipeline", "runner-a")
	first := appendEntry(t, s, l, validEntry("a"))
	second := appendEntry(t, s, l, validEntry("b"))
	if err := s.Release(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	unlessCurrent := func(wantCurrent bool, wantEntries int) func() error {
		return func() error {
			entries, current, err := s.SnapshotUnlessCurrent(ctx, "digest")
			if current != wantCurrent || len(entries) != wantEntries {
				t.Errorf("current %v with %d entries, want %v with %d", current, len(entries), wantCurrent, wantEntries)
			}
			return err
		}
	}
	save := func(seq int64) func() error {
		return func() error { return s.SaveCheckpoint(ctx, audit.Checkpoint{Digest: "digest", Seq: seq}) }
	}
	for _, step := range []struct {
		name string
		run  func() error
		want []string
	}{
		{"SnapshotUnlessCurrent without a checkpoint", unlessCurrent(false, 2), []string{"find", "find"}},
		{"SaveCheckpoint of an older seq", save(first.Seq), []string{"find", "update"}},
		{"SnapshotUnlessCurrent, stale", unlessCurrent(false, 2), []string{"find", "find", "find"}},
		{"SaveCheckpoint of a newer seq", save(second.Seq), []string{"find", "update"}},
		{"SnapshotUnlessCurrent, current", unlessCurrent(true, 0), []string{"find", "find"}},
		// The upsert fails on _id, and the update is made again without it.
		{"SaveCheckpoint of an older seq than the saved one", save(first.Seq), []string{"find", "update", "update"}},
		{"SnapshotUnlessCurrent, still current", unlessCurrent(true, 0), []string{"find", "find"}},
	} {
		log.take()
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := log.take(); !slices.Equal(got, step.want) {
			t.Errorf("%s sent %v, want %v", step.name, got, step.want)
		}
	}
}

// TestStoredCheckpoints pins the checkpoint collection's documents, which
// operators may read or delete: one per digest, only ever raised, with the
// number and digest of the trail's entries at or below its seq.
func TestStoredCheckpoints(t *testing.T) {
	srv := newServer(t)
	s, _ := srv.open(t)
	l := acquire(t, s, "pipeline", "runner-a")
	first := appendEntry(t, s, l, validEntry("a"))
	second := appendEntry(t, s, l, validEntry("b"))
	saveCheckpoint(t, s, "d1", first.Seq)
	saveCheckpoint(t, s, "d2", second.Seq)
	saveCheckpoint(t, s, "d1", second.Seq)
	coll := checkpointColl(srv, s)
	saved := rawDocs(t, coll)
	// A replica that read the trail earlier changes nothing.
	saveCheckpoint(t, s, "d1", first.Seq)

	docs := rawDocs(t, coll)
	if diff := cmp.Diff(saved, docs); diff != "" {
		t.Errorf("an older checkpoint changed the stored ones (-before +after):\n%s", diff)
	}
	// One at the same seq is saved again, on the same trail: the same
	// entries.
	saveCheckpoint(t, s, "d2", second.Seq)
	docs = rawDocs(t, coll)
	if len(docs) != 2 {
		t.Fatalf("stored %d checkpoints, want 2: %v", len(docs), docs)
	}
	var want []bson.D
	for i, d := range docs {
		at, ok := field(d, "saved_at").(bson.DateTime)
		if !ok {
			t.Fatalf("saved_at of %v is %T, want a BSON date", d, field(d, "saved_at"))
		}
		if age := time.Since(at.Time()); age < -time.Minute || age > time.Minute {
			t.Errorf("saved_at of %v is %s from now, want the server's now", d, age)
		}
		// saved_at first: MongoDB (5.0 on) adds an update's new fields in
		// the order of their names, and FerretDB does the same here.
		sum, _ := field(d, "entries_digest").(string)
		if len(sum) != 64 || sum != field(docs[0], "entries_digest") {
			t.Errorf("entries_digest of %v is not the hex SHA-256 of the trail both were saved on", d)
		}
		want = append(want, bson.D{{Key: "_id", Value: []string{"d1", "d2"}[i]}, {Key: "entries", Value: int64(2)},
			{Key: "entries_digest", Value: sum}, {Key: "saved_at", Value: at}, {Key: "seq", Value: second.Seq}})
	}
	if diff := cmp.Diff(want, docs); diff != "" {
		t.Errorf("stored checkpoints (-want +got):\n%s", diff)
	}
}

// TestConcurrentCheckpointSaves: replicas that finish at once save the
// first checkpoint of a digest together; the upserts that lose the insert
// must not fail.
func TestConcurrentCheckpointSaves(t *testing.T) {
	srv := newServer(t)
	s, _ := srv.open(t)
	l := acquire(t, s, "pipeline", "runner-a")
	var seqs []int64
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		seqs = append(seqs, appendEntry(t, s, l, validEntry(id)).Seq)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, seq := range seqs {
		wg.Go(func() {
			<-start
			if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: seq}); err != nil {
				t.Errorf("concurrent SaveCheckpoint at seq %d: %v", seq, err)
			}
		})
	}
	close(start)
	wg.Wait()
	// MongoDB keeps the highest; FerretDB may lose one of two concurrent
	// updates, which leaves a lower seq: a stale checkpoint, never a wrong
	// one. Saving the highest again makes it current.
	saveCheckpoint(t, s, "d", seqs[len(seqs)-1])
	if !isCurrent(t, s, "d") {
		t.Error("not current after saving the trail's highest entry seq")
	}
}

// TestCheckpointCollectionIsExpendable: deleting checkpoints costs a read
// of the trail; a document the store did not write there is refused, not
// trusted.
func TestCheckpointCollectionIsExpendable(t *testing.T) {
	srv := newServer(t)
	t.Run("dropped, the trail is read and the checkpoint saved again", func(t *testing.T) {
		s, _ := srv.open(t)
		l := acquire(t, s, "pipeline", "runner-a")
		e := appendEntry(t, s, l, validEntry("a"))
		saveCheckpoint(t, s, "d", e.Seq)
		if err := checkpointColl(srv, s).Drop(t.Context()); err != nil {
			t.Fatal(err)
		}
		entries, current, err := s.SnapshotUnlessCurrent(t.Context(), "d")
		if err != nil || current || len(entries) != 1 {
			t.Fatalf("after the drop: %d entries, current %v, error %v; want the snapshot of 1 entry", len(entries), current, err)
		}
		saveCheckpoint(t, s, "d", e.Seq)
		if !isCurrent(t, s, "d") {
			t.Error("not current once saved again")
		}
	})
	for _, tc := range []struct {
		name string
		doc  bson.D
		why  string
	}{
		{"a seq of another type", bson.D{{Key: "_id", Value: "d"}, {Key: "seq", Value: "2"}}, "field seq is a BSON string"},
		{"a 32-bit seq", bson.D{{Key: "_id", Value: "d"}, {Key: "seq", Value: int32(2)}}, "field seq is a BSON 32-bit integer"},
		{"no seq", bson.D{{Key: "_id", Value: "d"}}, "field seq is missing"},
		{"a seq of zero", bson.D{{Key: "_id", Value: "d"}, {Key: "seq", Value: int64(0)}}, "seq 0 is not positive"},
	} {
		t.Run("refused with "+tc.name, func(t *testing.T) {
			s, _ := srv.open(t)
			l := acquire(t, s, "pipeline", "runner-a")
			appendEntry(t, s, l, validEntry("a"))
			if _, err := checkpointColl(srv, s).InsertOne(t.Context(), tc.doc); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.SnapshotUnlessCurrent(t.Context(), "d")
			wantCorrupt(t, "SnapshotUnlessCurrent", err, `checkpoint "d" in `, tc.why)
		})
	}
}
