package audittest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// checkpointer returns s as an audit.Checkpointer, skipping the test for a
// store that keeps no checkpoints: the interface is optional.
func (h *harness) checkpointer(s audit.Store) audit.Checkpointer {
	h.t.Helper()
	cp, ok := s.(audit.Checkpointer)
	if !ok {
		h.t.Skipf("%T does not implement audit.Checkpointer", s)
	}
	return cp
}

// unlessCurrent calls SnapshotUnlessCurrent and checks what it returns
// against the store's own Snapshot: the same entries when not current,
// none when current.
func (h *harness) unlessCurrent(s audit.Store, digest string) bool {
	h.t.Helper()
	entries, current, err := h.checkpointer(s).SnapshotUnlessCurrent(h.t.Context(), digest)
	if err != nil {
		h.t.Fatalf("snapshot unless current (digest %q): %v", digest, err)
	}
	if current {
		if len(entries) != 0 {
			h.t.Errorf("current, yet %d entries returned, want none", len(entries))
		}
		return true
	}
	checkUTC(h.t, entries)
	if diff := cmp.Diff(h.snapshot(s), entries, entryCmp); diff != "" {
		h.t.Errorf("not current: entries differ from Snapshot (-Snapshot +SnapshotUnlessCurrent):\n%s", diff)
	}
	return false
}

func (h *harness) saveCheckpoint(s audit.Store, cp audit.Checkpoint) {
	h.t.Helper()
	if err := h.checkpointer(s).SaveCheckpoint(h.t.Context(), cp); err != nil {
		h.t.Fatalf("save checkpoint %+v: %v", cp, err)
	}
}

func testCheckpointCurrent(t *testing.T, h *harness) {
	s := h.store()
	if h.unlessCurrent(s, "d1") {
		t.Fatal("an empty store reports a checkpoint current")
	}
	got := appendAll(h, s, entry("s1", "a", audit.StateApplied), entry("s1", "b", audit.StateApplied))
	if h.unlessCurrent(s, "d1") {
		t.Fatal("current before any checkpoint was saved")
	}
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: got[1].Seq})
	if !h.unlessCurrent(s, "d1") {
		t.Fatal("not current right after saving a checkpoint at the trail's highest seq")
	}
	// Another handle reads what is stored.
	if !h.unlessCurrent(h.store(), "d1") {
		t.Error("not current through another handle")
	}
	if h.unlessCurrent(s, "d2") {
		t.Error("current for a digest that has no checkpoint")
	}
}

func testCheckpointStale(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	first := h.append(s, l, entry("s1", "a", audit.StateApplied))
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: first.Seq})
	// Anything appended since, whatever change it records, makes the
	// checkpoint stale.
	second := h.append(s, l, entry("s9", "unrelated", audit.StateStarted))
	if h.unlessCurrent(s, "d1") {
		t.Fatal("current after an entry was appended since the checkpoint")
	}
	// Nor is a checkpoint above the trail's highest seq, which no store
	// should ever be given, current.
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "ahead", Seq: second.Seq + 100})
	if h.unlessCurrent(s, "ahead") {
		t.Error("current for a checkpoint above the trail's highest seq")
	}
}

func testCheckpointReplace(t *testing.T, h *harness) {
	s := h.store()
	got := appendAll(h, s, entry("s1", "a", audit.StateApplied), entry("s1", "b", audit.StateApplied))
	first, second := got[0].Seq, got[1].Seq
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: first})
	if h.unlessCurrent(s, "d1") {
		t.Fatal("current for a checkpoint below the trail's highest seq")
	}
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: second})
	if !h.unlessCurrent(s, "d1") {
		t.Fatal("a newer checkpoint did not replace an older one of the same digest")
	}
	// A replica that read the trail earlier saves an older checkpoint of
	// the same pipeline: the newer one stays.
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: first})
	if !h.unlessCurrent(s, "d1") {
		t.Error("an older checkpoint of the same digest replaced a newer one")
	}
	// Another pipeline (another release) records its own beside it.
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d2", Seq: second})
	if !h.unlessCurrent(s, "d2") || !h.unlessCurrent(s, "d1") {
		t.Error("the checkpoints of two digests at the trail's highest seq are not both current")
	}
}

func testCheckpointInvalid(t *testing.T, h *harness) {
	s := h.store()
	got := appendAll(h, s, entry("s1", "a", audit.StateApplied))
	cp := h.checkpointer(s)
	for _, tc := range []struct {
		name string
		cp   audit.Checkpoint
	}{
		{"empty digest", audit.Checkpoint{Seq: got[0].Seq}},
		{"seq zero", audit.Checkpoint{Digest: "d1"}},
		{"negative seq", audit.Checkpoint{Digest: "d1", Seq: -1}},
	} {
		if err := cp.SaveCheckpoint(t.Context(), tc.cp); err == nil {
			t.Errorf("%s: SaveCheckpoint(%+v) succeeded, want an error", tc.name, tc.cp)
		}
	}
	if h.unlessCurrent(s, "") {
		t.Error("an empty digest is current")
	}
	if h.unlessCurrent(s, "d1") {
		t.Error("a rejected checkpoint was recorded")
	}
}
