package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

// appendApplied appends an APPLIED entry of each id under a lease of its
// own and returns the trail's highest seq.
func appendApplied(t *testing.T, s *postgres.Store, ids ...string) int64 {
	t.Helper()
	lease, err := s.Acquire(t.Context(), "k", "setup", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var tip int64
	for _, id := range ids {
		e, err := s.Append(t.Context(), lease, validEntry(id))
		if err != nil {
			t.Fatal(err)
		}
		tip = e.Seq
	}
	if err := s.Release(t.Context(), lease); err != nil {
		t.Fatal(err)
	}
	return tip
}

// TestCheckpointRoundTrips pins the cost of a start: one round trip when
// the checkpoint is current, two otherwise; one to save it.
func TestCheckpointRoundTrips(t *testing.T) {
	srv := newServer(t)
	schema := srv.schema(t)
	pool, c := pgtest.New(t).CountedPool(t)
	ctx := t.Context()
	s, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	tip := appendApplied(t, s, "a", "b", "c")

	for _, step := range []struct {
		name        string
		roundTrips  int
		wantCurrent bool
		run         func() (bool, error)
	}{
		{"SnapshotUnlessCurrent without a checkpoint", 2, false, func() (bool, error) {
			entries, current, err := s.SnapshotUnlessCurrent(ctx, "digest")
			if len(entries) != 3 {
				t.Errorf("read %d entries, want 3", len(entries))
			}
			return current, err
		}},
		{"SaveCheckpoint", 1, false, func() (bool, error) {
			return false, s.SaveCheckpoint(ctx, audit.Checkpoint{Digest: "digest", Seq: tip})
		}},
		{"SnapshotUnlessCurrent, current", 1, true, func() (bool, error) {
			_, current, err := s.SnapshotUnlessCurrent(ctx, "digest")
			return current, err
		}},
	} {
		c.Reset()
		current, err := step.run()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if current != step.wantCurrent {
			t.Errorf("%s: current = %v, want %v", step.name, current, step.wantCurrent)
		}
		if _, roundTrips := c.Counts(); roundTrips != step.roundTrips {
			t.Errorf("%s: %d round trips, want %d", step.name, roundTrips, step.roundTrips)
		}
	}
}

// TestCheckpointTable covers the checkpoint table's life: created beside
// the others, created again when dropped (checkpoints only spare reads),
// refused when it exists with another shape.
func TestCheckpointTable(t *testing.T) {
	srv := newServer(t)
	t.Run("dropped after use", func(t *testing.T) {
		s, schema := srv.open(t)
		tip := appendApplied(t, s, "a")
		if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: tip}); err != nil {
			t.Fatal(err)
		}
		srv.exec(t, "DROP TABLE "+pgx.Identifier{schema, "flamingock_checkpoint"}.Sanitize())
		entries, current, err := s.SnapshotUnlessCurrent(t.Context(), "d")
		if err != nil || current || len(entries) != 1 {
			t.Fatalf("after the drop: %d entries, current %v, error %v; want the snapshot of 1 entry", len(entries), current, err)
		}
		if !srv.exists(t, schema, "flamingock_checkpoint") {
			t.Error("the checkpoint table was not created again")
		}
		if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: tip}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("another shape", func(t *testing.T) {
		schema := srv.schema(t)
		srv.exec(t, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
		srv.exec(t, "CREATE TABLE "+pgx.Identifier{schema, "flamingock_checkpoint"}.Sanitize()+" (digest text PRIMARY KEY)")
		s, err := postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		_, _, err = s.SnapshotUnlessCurrent(t.Context(), "d")
		if err == nil || !strings.Contains(err.Error(), "column seq is missing") {
			t.Fatalf("error %v, want the checkpoint table refused for its missing column", err)
		}
		if srv.exists(t, schema, "flamingock_audit") {
			t.Error("the store created its other tables beside a checkpoint table it refused")
		}
	})
}

// TestCheckpointOfAnEarlierRelease covers a checkpoint table made, and rows
// saved, by a release before checkpoints recorded their entries: such a
// row is never current, the table gets the columns on the first read, and
// the earlier release's statements keep working beside this one's (a
// rolling deploy).
func TestCheckpointOfAnEarlierRelease(t *testing.T) {
	srv := newServer(t)
	s, schema := srv.open(t)
	table := pgx.Identifier{schema, "flamingock_checkpoint"}.Sanitize()
	tip := appendApplied(t, s, "a", "b")
	// The table and the row as the earlier release made them.
	srv.exec(t, "ALTER TABLE "+table+" DROP COLUMN entries, DROP COLUMN entries_digest")
	earlierSave := `INSERT INTO ` + table + ` AS c (digest, seq, saved_at) VALUES ($1, $2, clock_timestamp())
ON CONFLICT (digest) DO UPDATE SET seq = excluded.seq, saved_at = excluded.saved_at WHERE c.seq < excluded.seq`
	srv.exec(t, earlierSave, "d", tip)

	entries, current, err := s.SnapshotUnlessCurrent(t.Context(), "d")
	if err != nil || current || len(entries) != 2 {
		t.Fatalf("an earlier release's checkpoint: %d entries, current %v, error %v; want the snapshot of 2 entries", len(entries), current, err)
	}
	if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: tip}); err != nil {
		t.Fatal(err)
	}
	if _, current, err := s.SnapshotUnlessCurrent(t.Context(), "d"); err != nil || !current {
		t.Fatalf("saved again by this release: current %v, error %v", current, err)
	}
	// The earlier release, still running, saves a checkpoint of its own
	// pipeline: a row without entries, never current here.
	srv.exec(t, earlierSave, "old", tip)
	if _, current, err := s.SnapshotUnlessCurrent(t.Context(), "old"); err != nil || current {
		t.Fatalf("a row the earlier release saved beside this one's: current %v, error %v", current, err)
	}
	// And it moves this release's row up when the trail grows: the entries
	// recorded no longer match, so the row is stale until saved again.
	tip = appendApplied(t, s, "c")
	srv.exec(t, earlierSave, "d", tip)
	if _, current, err := s.SnapshotUnlessCurrent(t.Context(), "d"); err != nil || current {
		t.Fatalf("moved up by the earlier release: current %v, error %v", current, err)
	}
}
