package pipeline_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// flakyStore is the SQLite store whose calls fail as its fail function
// says, counting every call. fail gets the call's name and how many such
// calls came before; stored reports whether the call reached the store
// before failing (an append whose acknowledgement was lost).
type flakyStore struct {
	// An audit.Store, not the *sqlite.Store, so that the store keeps no
	// checkpoints and every start reads through Snapshot.
	audit.Store
	fail func(call string, n int) (err error, stored bool)

	mu    sync.Mutex
	calls map[string]int
}

func (s *flakyStore) call(name string) (error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.calls[name]
	s.calls[name]++
	return s.fail(name, n)
}

func (s *flakyStore) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

func (s *flakyStore) Snapshot(ctx context.Context) ([]audit.Entry, error) {
	if err, _ := s.call("Snapshot"); err != nil {
		return nil, err
	}
	return s.Store.Snapshot(ctx)
}

func (s *flakyStore) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (audit.Lease, error) {
	if err, _ := s.call("Acquire"); err != nil {
		return audit.Lease{}, err
	}
	return s.Store.Acquire(ctx, key, owner, ttl)
}

func (s *flakyStore) Append(ctx context.Context, l audit.Lease, e audit.Entry) (audit.Entry, error) {
	err, stored := s.call("Append " + string(e.State))
	switch {
	case err == nil:
		return s.Store.Append(ctx, l, e)
	case stored:
		if _, serr := s.Store.Append(ctx, l, e); serr != nil {
			return audit.Entry{}, serr
		}
	}
	return audit.Entry{}, err
}

// failFirst fails the first n calls named call with err, never stored.
func failFirst(call string, n int, err error) func(string, int) (error, bool) {
	return func(c string, i int) (error, bool) {
		if c == call && i < n {
			return err, false
		}
		return nil, false
	}
}

var unavailable = audit.Unavailable(errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"))

func TestTransientStoreErrorsAreRetriedWhereThatIsSafe(t *testing.T) {
	tests := []struct {
		name string
		fail func(string, int) (error, bool)
		call string
	}{
		{"a trail read cut mid-answer is read again", failFirst("Snapshot", 2, io.ErrUnexpectedEOF), "Snapshot"},
		{"a lock acquisition that never reached the store is sent again", failFirst("Acquire", 2, unavailable), "Acquire"},
		{"a STARTED write that never reached the store is sent again", failFirst("Append STARTED", 2, unavailable), "Append STARTED"},
		{"an APPLIED write that never reached the store is sent again", failFirst("Append APPLIED", 2, unavailable), "Append APPLIED"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" and the run applies the change once", func(t *testing.T) {
			e := newEnv(t)
			store := &flakyStore{Store: e.store, fail: tt.fail, calls: map[string]int{}}
			r, err := pipeline.New(store, []pipeline.Stage{e.stage("s1", spec{id: "c1", order: 1, strategy: nonTx})})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff([]string{"s1/c1=applied"}, statuses(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]audit.State{audit.StateStarted, audit.StateApplied}, states(e.history("s1", "c1"))); diff != "" {
				t.Errorf("entries of c1 (-want +got):\n%s", diff)
			}
			if n := e.ran("c1"); n != 1 {
				t.Errorf("c1 took effect %d times, want once", n)
			}
			if n := store.count(tt.call); n < 3 {
				t.Errorf("%s was called %d times, want at least 3 (two failures, then success)", tt.call, n)
			}
		})
	}
}

func TestAnAppendOfUnknownOutcomeIsNotRetried(t *testing.T) {
	tests := []struct {
		name   string
		stored bool
		want   []audit.State
	}{
		{"an APPLIED write stored but never acknowledged is recorded once", true,
			[]audit.State{audit.StateStarted, audit.StateApplied}},
		{"an APPLIED write lost on the way is not sent again", false,
			[]audit.State{audit.StateStarted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			fail := func(c string, i int) (error, bool) {
				if c == "Append APPLIED" {
					return io.ErrUnexpectedEOF, tt.stored
				}
				return nil, false
			}
			store := &flakyStore{Store: e.store, fail: fail, calls: map[string]int{}}
			r, err := pipeline.New(store, []pipeline.Stage{e.stage("s1", spec{id: "c1", order: 1, strategy: nonTx})})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Run(context.Background()); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("Run error = %v, want the lost APPLIED write's", err)
			}
			if n := store.count("Append APPLIED"); n != 1 {
				t.Errorf("APPLIED was sent %d times, want once: its outcome is unknown", n)
			}
			if diff := cmp.Diff(tt.want, states(e.history("s1", "c1"))); diff != "" {
				t.Errorf("entries of c1 (-want +got):\n%s", diff)
			}
		})
	}
}
