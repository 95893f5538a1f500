package mongo_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
)

// Every test here proves its property on any server whose unique indexes
// refuse a second document with the same _id, FerretDB included: the store
// relies on nothing else (see the package documentation).

// waitExpired polls the lock until the server's clock has passed l's expiry.
func waitExpired(t *testing.T, s audit.Store, l audit.Lease) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := s.Lock(t.Context(), l.Key)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if !info.Held() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %+v still held after 30s", l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOvertakenWritesAreFenced makes a new owner take the lock over at the
// worst moment for a former owner's write: after the write has checked its
// lease on the tip it read, and before it inserts. The insert then collides
// with the new owner's acquire event on the seq, the write reads the new
// tip, and is fenced. Nothing of the former owner is stored after the
// takeover.
func TestOvertakenWritesAreFenced(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name  string
		write func(s *mongo.Store, l audit.Lease, between func()) error
	}{
		{"an append", func(s *mongo.Store, l audit.Lease, between func()) error {
			return s.InterleavedAppend(t.Context(), l, validEntry("late"), between)
		}},
		{"a refresh", func(s *mongo.Store, l audit.Lease, between func()) error {
			return s.InterleavedRefresh(t.Context(), l, between)
		}},
		{"a release", func(s *mongo.Store, l audit.Lease, between func()) error {
			return s.InterleavedRelease(t.Context(), l, between)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, coll := srv.open(t)
			old, err := s.Acquire(t.Context(), "pipeline", "runner-a", 300*time.Millisecond)
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			var next audit.Lease
			overtaken := false
			err = tc.write(s, old, func() {
				overtaken = true
				waitExpired(t, s, old)
				next = acquire(t, s, "pipeline", "runner-b")
			})
			if !overtaken {
				t.Fatal("the write did not get as far as its insert: the test exercised nothing")
			}
			if !errors.Is(err, audit.ErrFenced) {
				t.Fatalf("overtaken write: %v, want ErrFenced", err)
			}
			docs := rawDocs(t, coll)
			if len(docs) != 2 {
				t.Fatalf("the chain holds %d documents, want the two acquisitions: %v", len(docs), docs)
			}
			if last := docs[1]; field(last, "owner") != "runner-b" || field(last, "epoch") != next.Epoch {
				t.Errorf("the last document is %v, want the takeover by runner-b at epoch %d", last, next.Epoch)
			}
		})
	}
}

// TestOvertakenAcquisitionReportsTheWinner makes another owner acquire a
// free key between an acquisition's decision and its insert: the
// acquisition loses on the seq and reports the winner as the holder.
func TestOvertakenAcquisitionReportsTheWinner(t *testing.T) {
	srv := newServer(t)
	s, coll := srv.open(t)
	var winner audit.Lease
	overtaken := false
	err := s.InterleavedAcquire(t.Context(), "pipeline", "runner-a", time.Minute, func() {
		overtaken = true
		winner = acquire(t, s, "pipeline", "runner-b")
	})
	if !overtaken {
		t.Fatal("the acquisition did not get as far as its insert: the test exercised nothing")
	}
	var held *audit.LockHeldError
	if !errors.As(err, &held) || held.Info.Owner != winner.Owner || held.Info.Epoch != winner.Epoch {
		t.Fatalf("overtaken Acquire: %v, want a *audit.LockHeldError naming %s at epoch %d", err, winner.Owner, winner.Epoch)
	}
	if docs := rawDocs(t, coll); len(docs) != 1 {
		t.Errorf("the chain holds %d documents, want the winner's acquisition only: %v", len(docs), docs)
	}
}

// TestAcquireRace has many owners on many clients acquire one key at once,
// round after round: each round exactly one wins, with the next epoch, and
// the others are told who did.
func TestAcquireRace(t *testing.T) {
	srv := newServer(t)
	db := srv.database(t)
	const clients, owners, rounds = 6, 24, 5
	stores := make([]*mongo.Store, clients)
	for i := range stores {
		s, err := mongo.Open(t.Context(), srv.uri, mongo.WithDatabase(db))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	for round := 1; round <= rounds; round++ {
		leases := make([]audit.Lease, owners)
		errs := make([]error, owners)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range owners {
			wg.Go(func() {
				<-start
				leases[i], errs[i] = stores[i%clients].Acquire(t.Context(), "pipeline", fmt.Sprintf("runner-%d", i), time.Minute)
			})
		}
		close(start)
		wg.Wait()
		var won []audit.Lease
		for i, err := range errs {
			var held *audit.LockHeldError
			switch {
			case err == nil:
				won = append(won, leases[i])
			case !errors.As(err, &held):
				t.Fatalf("round %d, runner-%d: %v, want success or a *audit.LockHeldError", round, i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d of %d acquirers won, want exactly one: %+v", round, len(won), owners, won)
		}
		if won[0].Epoch != int64(round) {
			t.Errorf("round %d won epoch %d, want %d", round, won[0].Epoch, round)
		}
		for i, err := range errs {
			var held *audit.LockHeldError
			if errors.As(err, &held) && (held.Info.Owner != won[0].Owner || held.Info.Epoch != won[0].Epoch) {
				t.Errorf("round %d: runner-%d was told %s holds epoch %d, but %s won epoch %d",
					round, i, held.Info.Owner, held.Info.Epoch, won[0].Owner, won[0].Epoch)
			}
		}
		if err := stores[0].Release(t.Context(), won[0]); err != nil {
			t.Fatalf("round %d: Release: %v", round, err)
		}
	}
	n, err := srv.admin.Database(db).Collection("flamingock_audit").CountDocuments(t.Context(), bson.D{{Key: "event", Value: "acquire"}})
	if err != nil {
		t.Fatal(err)
	}
	if n != rounds {
		t.Errorf("%d acquire events stored, want %d", n, rounds)
	}
}

// TestTakeoverUnderLoad has writers append under a short lease as fast as
// they can while another owner waits for it to expire and takes over. How
// the writes and the takeover interleave varies from run to run; what must
// hold every time is read from the stored chain: no entry written under
// the old epoch follows the new owner's acquisition.
func TestTakeoverUnderLoad(t *testing.T) {
	srv := newServer(t)
	db := srv.database(t)
	open := func() *mongo.Store {
		s, err := mongo.Open(t.Context(), srv.uri, mongo.WithDatabase(db))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	old, err := a.Acquire(t.Context(), "pipeline", "runner-a", 300*time.Millisecond)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	const writers = 4
	var wg sync.WaitGroup
	for w := range writers {
		s := open()
		wg.Go(func() {
			for i := 0; ; i++ {
				_, err := s.Append(t.Context(), old, validEntry(fmt.Sprintf("w%d-%d", w, i)))
				if errors.Is(err, audit.ErrFenced) {
					return
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	waitExpired(t, b, old)
	next := acquire(t, b, "pipeline", "runner-b")
	wg.Wait()
	appendEntry(t, b, next, validEntry("after"))

	var takeover int64
	for _, d := range rawDocs(t, srv.admin.Database(db).Collection("flamingock_audit")) {
		seq := field(d, "_id").(int64)
		switch {
		case field(d, "event") == "acquire" && field(d, "epoch") == next.Epoch:
			takeover = seq
		case field(d, "kind") == "entry":
			epoch := field(field(d, "lease").(bson.D), "epoch")
			if takeover != 0 && epoch == old.Epoch {
				t.Errorf("entry seq %d was written under epoch %d after the takeover at seq %d", seq, old.Epoch, takeover)
			}
		}
	}
	if takeover == 0 {
		t.Fatal("the takeover's acquire event is not in the chain")
	}
}
