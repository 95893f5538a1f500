package postgres_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// TestFencedWritesSayWhy edits the lock row behind the holder's back, the
// way a takeover, an expiry, an operator or a stray script would, and checks
// that every write of the holder is refused, says why, and changes nothing.
func TestFencedWritesSayWhy(t *testing.T) {
	tests := []struct {
		name string
		edit string // SQL run on the lock row; {lock} is the table
		want string
	}{
		{"an owner changed by hand",
			"UPDATE {lock} SET owner = 'intruder' WHERE key = 'k'",
			`its owner is now "intruder" at the same epoch (was the lock row edited by hand?)`},
		{"a takeover",
			"UPDATE {lock} SET owner = 'runner-b', epoch = epoch + 1 WHERE key = 'k'",
			`taken over by "runner-b" at epoch 2`},
		{"an expiry",
			"UPDATE {lock} SET expires_at = now() - interval '1 second' WHERE key = 'k'",
			"the lease expired at"},
		{"a release by someone else",
			"UPDATE {lock} SET owner = '' WHERE key = 'k'",
			"it was released"},
		{"a takeover that was released since",
			"UPDATE {lock} SET owner = '', epoch = epoch + 1 WHERE key = 'k'",
			"it was acquired again since (epoch 2) and released"},
		{"a lock row deleted by hand",
			"DELETE FROM {lock} WHERE key = 'k'",
			"the lock row does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			s, schema := srv.open(t)
			auditTable, lockTable := tables(schema, "flamingock")
			lease, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if lease.Epoch != 1 {
				t.Fatalf("first acquisition got epoch %d, want 1", lease.Epoch)
			}
			srv.exec(t, strings.ReplaceAll(tt.edit, "{lock}", lockTable))
			before, err := s.Lock(t.Context(), "k")
			if err != nil {
				t.Fatal(err)
			}

			_, err = s.Append(t.Context(), lease, validEntry("a"))
			wantFenced(t, "Append", err, tt.want)
			_, err = s.Refresh(t.Context(), lease)
			wantFenced(t, "Refresh", err, tt.want)
			wantFenced(t, "Release", s.Release(t.Context(), lease), tt.want)

			if n := srv.count(t, auditTable); n != 0 {
				t.Errorf("the audit table holds %d rows, want none", n)
			}
			after, err := s.Lock(t.Context(), "k")
			if err != nil {
				t.Fatal(err)
			}
			if after.Owner != before.Owner || after.Epoch != before.Epoch || !after.ExpiresAt.Equal(before.ExpiresAt) {
				t.Errorf("refused writes changed the lock from %+v to %+v", before, after)
			}
		})
	}
}

func wantFenced(t *testing.T, op string, err error, why string) {
	t.Helper()
	if !errors.Is(err, audit.ErrFenced) {
		t.Errorf("%s: got %v, want ErrFenced", op, err)
		return
	}
	wantMessage(t, err, why, `lock "k" (owner "runner-a", epoch 1)`)
}

func TestAcquireAfterAHandEditedExpiry(t *testing.T) {
	srv := newServer(t)
	s, schema := srv.open(t)
	_, lockTable := tables(schema, "flamingock")
	first, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Acquire(t.Context(), "k", "runner-b", time.Minute)
	var held *audit.LockHeldError
	if !errors.As(err, &held) || held.Info.Owner != "runner-a" || held.Info.Epoch != first.Epoch {
		t.Fatalf("Acquire of a held key: got %v, want a LockHeldError naming runner-a at epoch %d", err, first.Epoch)
	}
	// Expiry is judged by the database's clock, whatever the client's says.
	srv.exec(t, "UPDATE "+lockTable+" SET expires_at = now() - interval '1 microsecond' WHERE key = 'k'")
	next, err := s.Acquire(t.Context(), "k", "runner-b", time.Minute)
	if err != nil {
		t.Fatalf("Acquire of an expired key: %v", err)
	}
	if next.Epoch != first.Epoch+1 || next.Owner != "runner-b" {
		t.Errorf("takeover lease %+v, want runner-b at epoch %d", next, first.Epoch+1)
	}
}
