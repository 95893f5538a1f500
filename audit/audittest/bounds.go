package audittest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

// idChars is the alphabet of the ids the generator accepts.
const idChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

// longID returns an id of exactly n bytes of idChars ending in last, so
// that ids of one length differ in their last byte only: a store that
// compares or indexes a prefix of a key mixes them up.
func longID(n int, last byte) string {
	var b strings.Builder
	for i := range n - 1 {
		b.WriteByte(idChars[i%len(idChars)])
	}
	b.WriteByte(last)
	return b.String()
}

// multiByte returns exactly n bytes (n at least 2) of valid UTF-8 made of
// characters of two, three and four bytes only, so that a store counting
// characters, or cutting bytes, changes it.
func multiByte(n int) string {
	runes := []rune{'é', '漢', '😀', 'Ö', 'ß', '字'}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		left := n - b.Len()
		for j := range len(runes) {
			r := runes[(i+j)%len(runes)]
			// Never leave a single byte: no multi-byte character fills it.
			if size := utf8.RuneLen(r); size <= left && left-size != 1 {
				b.WriteRune(r)
				break
			}
		}
	}
	return b.String()
}

// boundKeys are the changes of testBounds: two of one stage whose ids
// differ in their last byte only, and one of a stage that differs from the
// first in its last byte only.
var boundKeys = struct{ a, b, other audit.Key }{
	a:     audit.Key{Stage: longID(audit.MaxIDLen, 'S'), ChangeID: longID(audit.MaxIDLen, 'A')},
	b:     audit.Key{Stage: longID(audit.MaxIDLen, 'S'), ChangeID: longID(audit.MaxIDLen, 'B')},
	other: audit.Key{Stage: longID(audit.MaxIDLen, 'T'), ChangeID: longID(audit.MaxIDLen, 'A')},
}

// boundEntry returns an entry of k in state st whose identity is at the
// bounds (stage, change id and target id of audit.MaxIDLen bytes, an author
// of audit.MaxAuthorLen bytes of multi-byte UTF-8), carrying what a real
// failure or manual mark of such a change carries: a long error message
// quoting the statement that failed, a long reason, a long operator.
func boundEntry(k audit.Key, st audit.State) audit.Entry {
	e := audit.Entry{
		ExecutionID: "exec-" + longID(64, 'x'),
		Stage:       k.Stage,
		ChangeID:    k.ChangeID,
		Order:       audit.OrderOf(212),
		Author:      multiByte(audit.MaxAuthorLen),
		State:       st,
		Time:        base,
		Host:        "ip-10-0-12-34.eu-west-1.compute.internal",
		RunnerID:    "runner-" + longID(40, 'r'),
		TargetID:    longID(audit.MaxIDLen, 'D'),
		Strategy:    audit.StrategySeparateTx,
		Recovery:    audit.RecoveryManual,
		Checksum:    "sha256:" + strings.Repeat("0123456789abcdef", 4),
		Metadata:    json.RawMessage(`{"ticket": "OPS-1234", "owner": "` + multiByte(64) + `"}`),
	}
	switch st {
	case audit.StateStarted, audit.StateManualApplied, audit.StateManualRolledBack:
	default:
		e.Duration = 2*time.Hour + 17*time.Millisecond
	}
	switch st {
	case audit.StateFailed, audit.StateRollbackFailed:
		e.ErrorMessage = failureMessage(k)
		e.ErrorKind = "*fmt.wrapErrors"
	case audit.StateManualApplied, audit.StateManualRolledBack:
		e.Operator = "Zoë O'Brien-Łukasiewicz <" + longID(100, 'o') + "@ops.example.com> " + multiByte(90)
		e.Reason = manualReason()
	}
	return e
}

// failureMessage is the error of a change whose statement failed, as
// drivers report it: the whole statement quoted, several lines, quotes,
// tabs, trailing white space.
func failureMessage(k audit.Key) string {
	var stmt strings.Builder
	stmt.WriteString("INSERT INTO \"invoices\" (\"id\", \"note\")\nVALUES\n")
	for i := range 400 {
		fmt.Fprintf(&stmt, "\t(%d, 'ligne n°%d — «%s»'),\n", i, i, multiByte(24))
	}
	return fmt.Sprintf("change %s/%s: apply: ERROR: duplicate key value violates unique constraint \"invoices_pkey\" (SQLSTATE 23505)\n"+
		"DETAIL:  Key (id)=(17) already exists.\nSTATEMENT:  %s \n", k.Stage, k.ChangeID, stmt.String())
}

// manualReason is a long reason typed by an operator, with a composed and
// a decomposed é: a store must not normalize it.
func manualReason() string {
	return strings.Repeat("Checked by hand on the replica: the index exists and is valid; \"quoted\"; café vs cafe\u0301; ✓\n", 40)
}

func testBounds(t *testing.T, h *harness) {
	k := boundKeys
	in := []audit.Entry{
		boundEntry(k.a, audit.StateStarted),
		boundEntry(k.a, audit.StateFailed),
		boundEntry(k.b, audit.StateStarted),
		boundEntry(k.other, audit.StateStarted),
		boundEntry(k.a, audit.StateManualRolledBack),
		boundEntry(k.b, audit.StateRollbackFailed),
		boundEntry(k.other, audit.StateApplied),
		boundEntry(k.a, audit.StateStarted),
		boundEntry(k.a, audit.StateApplied),
		boundEntry(k.b, audit.StateManualApplied),
		boundEntry(k.other, audit.StateRolledBack),
	}
	for _, e := range in[:1] {
		if len(e.Stage) != audit.MaxIDLen || len(e.ChangeID) != audit.MaxIDLen || len(e.TargetID) != audit.MaxIDLen ||
			len(e.Author) != audit.MaxAuthorLen || !utf8.ValidString(e.Author) || strings.ContainsFunc(e.Author, func(r rune) bool { return r < utf8.RuneSelf }) {
			t.Fatalf("test entry is not at the bounds: stage %d, change id %d, target id %d, author %d bytes (valid UTF-8 %t)",
				len(e.Stage), len(e.ChangeID), len(e.TargetID), len(e.Author), utf8.ValidString(e.Author))
		}
	}
	for _, e := range in {
		if err := e.Validate(); err != nil {
			t.Fatalf("test entry %s/%s %s is invalid: %v", e.Stage, e.ChangeID, e.State, err)
		}
		if err := e.CheckBounds(); err != nil {
			t.Fatalf("test entry %s/%s %s is over a bound: %v", e.Stage, e.ChangeID, e.State, err)
		}
	}

	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	var stored []audit.Entry
	for _, e := range in {
		got := h.append(s, l, e)
		want := e
		want.Seq = got.Seq
		if diff := cmp.Diff(want, got, entryCmp); diff != "" {
			t.Errorf("Append of %s returned (-want +got):\n%s", e.State, diff)
		}
		stored = append(stored, want)
	}
	pick := func(is ...int) []audit.Entry {
		out := []audit.Entry{}
		for _, i := range is {
			out = append(out, stored[i])
		}
		return out
	}

	other := h.store() // reads what is stored, not what a handle remembers
	for _, r := range []audit.Store{s, other} {
		if diff := cmp.Diff(pick(8, 9, 10), h.snapshot(r), entryCmp); diff != "" {
			t.Errorf("snapshot (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			f    audit.Filter
			want []audit.Entry
		}{
			{audit.Filter{}, stored},
			{audit.Filter{Stage: k.a.Stage, ChangeID: k.a.ChangeID}, pick(0, 1, 4, 7, 8)},
			{audit.Filter{Stage: k.b.Stage, ChangeID: k.b.ChangeID}, pick(2, 5, 9)},
			{audit.Filter{Stage: k.a.Stage}, pick(0, 1, 2, 4, 5, 7, 8, 9)},
			{audit.Filter{ChangeID: k.a.ChangeID}, pick(0, 1, 3, 4, 6, 7, 8, 10)},
			{audit.Filter{Stage: k.other.Stage, ChangeID: k.other.ChangeID, Since: base}, pick(3, 6, 10)},
		} {
			got := h.history(r, tc.f)
			if got == nil {
				got = []audit.Entry{}
			}
			if diff := cmp.Diff(tc.want, got, entryCmp); diff != "" {
				t.Errorf("History(stage ...%s, change id ...%s, since %v) (-want +got):\n%s",
					tail(tc.f.Stage), tail(tc.f.ChangeID), tc.f.Since, diff)
			}
		}
	}

	cp := audit.Extend(s)
	if !cp.KeepsCheckpoints() {
		t.Logf("%T keeps no checkpoints (audit.Checkpointer): no checkpoint at the bounds", s)
		return
	}
	digest := "sha256:" + strings.Repeat("fedcba9876543210", 4)
	entries, current, err := cp.SnapshotUnlessCurrent(t.Context(), digest)
	if err != nil {
		t.Fatalf("snapshot unless current before a checkpoint: %v", err)
	}
	if current {
		t.Fatal("current before any checkpoint was saved")
	}
	if diff := cmp.Diff(pick(8, 9, 10), entries, entryCmp); diff != "" {
		t.Errorf("snapshot unless current, not current (-want +got):\n%s", diff)
	}
	if err := cp.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: digest, Seq: stored[len(stored)-1].Seq}); err != nil {
		t.Fatalf("save checkpoint: %v", err)
	}
	if !h.unlessCurrent(other, digest) {
		t.Error("not current right after saving a checkpoint at the trail's highest seq")
	}
}

// tail is the end of a long id, enough to tell the test's ids apart.
func tail(id string) string { return id[max(0, len(id)-3):] }

func testOverBounds(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	h.append(s, l, boundEntry(boundKeys.a, audit.StateStarted))
	before := h.history(s, audit.Filter{})

	tests := []struct {
		name   string
		modify func(*audit.Entry)
	}{
		{"a stage one byte over the bound", func(e *audit.Entry) { e.Stage = longID(audit.MaxIDLen+1, 'S') }},
		{"a change id one byte over the bound", func(e *audit.Entry) { e.ChangeID = longID(audit.MaxIDLen+1, 'A') }},
		{"a target id one byte over the bound", func(e *audit.Entry) { e.TargetID = longID(audit.MaxIDLen+1, 'D') }},
		{"an author one byte over the bound", func(e *audit.Entry) { e.Author = multiByte(audit.MaxAuthorLen + 1) }},
		{"an author of the bound's characters, one byte over in bytes", func(e *audit.Entry) {
			e.Author = strings.Repeat("é", audit.MaxAuthorLen/2) + "a"
		}},
		{"a change id of 3000 bytes", func(e *audit.Entry) { e.ChangeID = longID(3000, 'A') }},
		{"a manual mark over the bound", func(e *audit.Entry) {
			*e = boundEntry(boundKeys.a, audit.StateManualApplied)
			e.ChangeID = longID(audit.MaxIDLen+1, 'A')
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := boundEntry(boundKeys.a, audit.StateApplied)
			tc.modify(&e)
			if e.Validate() != nil || e.CheckBounds() == nil {
				t.Fatalf("test entry is invalid or within the bounds (validate: %v); the case tests nothing", e.Validate())
			}
			got, err := appendRecovering(t, s, l, e)
			switch {
			case err == nil:
				t.Errorf("Append accepted an entry with %s, stored as seq %d", tc.name, got.Seq)
			case errors.Is(err, audit.ErrFenced):
				t.Errorf("Append refused an entry with %s as fenced, though its lease holds the lock: %v", tc.name, err)
			}
		})
	}
	for _, r := range []audit.Store{s, h.store()} {
		after := h.history(r, audit.Filter{})
		if !cmp.Equal(before, after, entryCmp) {
			t.Errorf("the trail changed after refused appends: it holds seqs %v, it held %v (-before +after):\n%s",
				seqs(after), seqs(before), cmp.Diff(before, after, entryCmp))
		}
	}
	// The refusals leave the store and the lease working.
	h.append(s, l, boundEntry(boundKeys.a, audit.StateApplied))
}

// appendRecovering calls Append and turns a panic into an error of the test.
func appendRecovering(t *testing.T, s audit.Store, l audit.Lease, e audit.Entry) (got audit.Entry, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Append panicked: %v", p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return s.Append(t.Context(), l, e)
}
