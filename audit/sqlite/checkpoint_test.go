package sqlite_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
)

// A database made before checkpoints existed gets the checkpoint table on
// the next Open; its trail is left as it was.
func TestOpenAddsTheCheckpointTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := open(t, path)
	if _, err := s.DB().ExecContext(t.Context(), `DROP TABLE "flamingock_checkpoint"`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := schemaNames(t, open(t, path).DB()); !slices.Contains(got, "table flamingock_checkpoint") {
		t.Errorf("after reopening, the schema holds %q, without the checkpoint table", got)
	}
}

// A checkpoint saved by a release before this one, when nothing voided
// checkpoints on an edit of the trail, is never current: the first save of
// this release creates the triggers and replaces it. The earlier release's
// own check keeps working on the same table (a rolling deploy), and a
// checkpoint is not current without the triggers.
func TestCheckpointOfAnEarlierRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := open(t, path)
	lease := acquire(t, s)
	e, err := s.Append(t.Context(), lease, validEntry("a"))
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	isCurrent := func() bool {
		t.Helper()
		_, current, err := s.SnapshotUnlessCurrent(t.Context(), "d")
		if err != nil {
			t.Fatal(err)
		}
		return current
	}
	exec(`INSERT INTO "flamingock_checkpoint" ("digest", "seq", "saved_at") VALUES ('d', ?, 0)`, e.Seq)
	if isCurrent() {
		t.Fatal("an earlier release's checkpoint is current")
	}
	if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: e.Seq}); err != nil {
		t.Fatal(err)
	}
	if !isCurrent() {
		t.Fatal("not current once saved by this release")
	}
	// The earlier release's check, as it was, still finds the row.
	var earlier bool
	if err := db.QueryRowContext(t.Context(), `SELECT "seq" = (SELECT max("seq") FROM "flamingock_audit") FROM "flamingock_checkpoint" WHERE "digest" = 'd'`).Scan(&earlier); err != nil || !earlier {
		t.Errorf("the earlier release's check: %v, %v", earlier, err)
	}
	exec(`DROP TRIGGER "flamingock_audit_delete_voids_checkpoints"`)
	if isCurrent() {
		t.Error("current without the trigger that voids it on a deleted entry")
	}
	if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: e.Seq}); err != nil {
		t.Fatal(err)
	}
	if !isCurrent() {
		t.Error("not current once saved again, with the trigger created again")
	}
}

// The triggers that void checkpoints run only on an UPDATE or a DELETE of
// an entry, so appends go on while the checkpoint table is missing (an
// operator dropped it; the next Open creates it again).
func TestAppendsOutliveADroppedCheckpointTable(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "audit.db"))
	lease := acquire(t, s)
	e, err := s.Append(t.Context(), lease, validEntry("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: e.Seq}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(t.Context(), `DROP TABLE "flamingock_checkpoint"`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), lease, validEntry("b")); err != nil {
		t.Fatalf("append after the checkpoint table was dropped: %v", err)
	}
}
