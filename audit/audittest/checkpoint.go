package audittest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// checkpointer returns s's checkpoints (audit.Extend), skipping the test
// for a store that keeps none: audit.Checkpointer is optional.
func (h *harness) checkpointer(s audit.Store) audit.Checkpointer {
	h.t.Helper()
	cp := audit.Extend(s)
	if !cp.KeepsCheckpoints() {
		h.t.Skipf("%T keeps no checkpoints (audit.Checkpointer)", s)
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

// tamperer returns the namespace's Tamperer, failing the test of a store
// that keeps checkpoints without giving one.
func (h *harness) tamperer() Tamperer {
	h.t.Helper()
	if h.tamper == nil {
		h.t.Fatal("the Namespace has no Tamper: a store that keeps checkpoints must give one, " +
			"so that the suite can check that a checkpoint notices a trail edited by hand")
	}
	return h.tamper
}

// tamperedTrail appends the entries the tamper tests edit: a change in two
// entries, and two more changes.
func tamperedTrail(h *harness, s audit.Store) []audit.Entry {
	b := entry("s1", "b", audit.StateApplied)
	b.Checksum = "sha256:aaaa"
	return appendAll(h, s,
		entry("s1", "a", audit.StateStarted),
		entry("s1", "a", audit.StateApplied),
		b,
		entry("s1", "c", audit.StateApplied))
}

func testCheckpointDeleted(t *testing.T, h *harness) {
	s := h.store()
	h.checkpointer(s)
	tamper := h.tamperer()
	got := tamperedTrail(h, s)
	top := got[len(got)-1].Seq
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: top})
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d2", Seq: top})
	if !h.unlessCurrent(s, "d1") {
		t.Fatal("not current before the trail was touched")
	}
	for _, tc := range []struct {
		name string
		seq  int64
	}{
		// The case: an APPLIED entry below the top is deleted, and
		// the change is pending again.
		{"the APPLIED entry of a change below the top", got[2].Seq},
		{"the first entry of the trail", got[0].Seq},
		{"the entry at the checkpoint's seq", top},
	} {
		if err := tamper.DeleteEntry(t.Context(), tc.seq); err != nil {
			t.Fatalf("delete %s (seq %d): %v", tc.name, tc.seq, err)
		}
		if h.unlessCurrent(s, "d1") {
			t.Errorf("current after %s (seq %d) was deleted", tc.name, tc.seq)
		}
		// Another digest's checkpoint saved on the same trail is stale too.
		if h.unlessCurrent(h.store(), "d2") {
			t.Errorf("another digest's checkpoint is current after %s (seq %d) was deleted", tc.name, tc.seq)
		}
		// A start that reads the trail and finds every change done saves
		// the checkpoint again at the trail's highest seq, which may be the
		// same: it is current for the trail as it now is.
		snap := h.snapshot(s)
		if len(snap) == 0 {
			t.Fatal("the whole trail is gone")
		}
		h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: snap[len(snap)-1].Seq})
		if !h.unlessCurrent(s, "d1") {
			t.Errorf("not current when saved again after %s was deleted", tc.name)
		}
	}
}

func testCheckpointEdited(t *testing.T, h *harness) {
	s := h.store()
	h.checkpointer(s)
	tamper := h.tamperer()
	got := tamperedTrail(h, s)
	top := got[len(got)-1].Seq
	h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: top})
	if !h.unlessCurrent(s, "d1") {
		t.Fatal("not current before the trail was touched")
	}
	// Every field of the entry of b, below the top. Where the field has a
	// value, the new one has the same length, so that only a digest of the
	// values, not of their sizes, tells them apart.
	for _, tc := range []struct {
		field string
		value any
	}{
		{"State", string(audit.StateStarted)}, // was APPLIED
		{"Checksum", "sha256:aaab"},           // was sha256:aaaa
		{"ChangeID", "x"},                     // was b
		{"Stage", "s2"},                       // was s1
		{"ExecutionID", "exec-2"},             // was exec-1
		{"Order", int64(2)},                   // was 1
		{"Author", "mallory"},
		{"Time", base.Add(time.Millisecond)},
		{"Duration", int64(time.Millisecond)},
		{"Host", "elsewhere"},
		{"RunnerID", "runner-z"},
		{"TargetID", "other-db"},
		{"Strategy", string(audit.StrategySharedTx)},
		{"Recovery", string(audit.RecoveryRetry)},
		{"ErrorMessage", "boom"},
		{"ErrorKind", "panic"},
		{"Operator", "mallory"},
		{"Reason", "edited by hand"},
		{"Metadata", `{"tampered":true}`},
		{"Metadata", `{"tampered":null}`},
	} {
		if err := tamper.EditEntry(t.Context(), got[2].Seq, tc.field, tc.value); err != nil {
			t.Fatalf("edit %s of the entry at seq %d: %v", tc.field, got[2].Seq, err)
		}
		if h.unlessCurrent(s, "d1") {
			t.Errorf("current after %s of the entry at seq %d was edited to %v", tc.field, got[2].Seq, tc.value)
		}
		h.saveCheckpoint(s, audit.Checkpoint{Digest: "d1", Seq: top})
		if !h.unlessCurrent(s, "d1") {
			t.Errorf("not current when saved again after %s was edited", tc.field)
		}
	}
	// What was edited is what the store reads back.
	e := h.history(s, audit.Filter{})[2]
	if e.ChangeID != "x" || e.State != audit.StateStarted || e.Checksum != "sha256:aaab" || e.Author != "mallory" {
		t.Errorf("the edited entry reads back as %+v", e)
	}
}
