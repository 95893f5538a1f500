package audittest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
)

func testEmpty(t *testing.T, h *harness) {
	s := h.store()
	if got := h.snapshot(s); len(got) != 0 {
		t.Errorf("snapshot holds %d entries, want none: %+v", len(got), got)
	}
	h.wantEmpty(s)
}

func testLockNeverUsed(t *testing.T, h *harness) {
	info := h.lock(h.store())
	if info.Key != key || info.Owner != "" || info.Epoch != 0 || info.Held() {
		t.Errorf("Lock = %+v, want key %q, no owner, epoch 0, not held", info, key)
	}
	if info.Now.IsZero() {
		t.Error("Lock reports no store time (Now is zero)")
	}
}

// appendAll appends es in order under one lease and returns them as stored.
func appendAll(h *harness, s audit.Store, es ...audit.Entry) []audit.Entry {
	h.t.Helper()
	l := h.acquire(s, "runner-a", longTTL)
	out := make([]audit.Entry, len(es))
	for i, e := range es {
		out[i] = h.append(s, l, e)
	}
	return out
}

// testOrders appends orders around and far beyond int64, out of numeric
// order, and wants every digit back.
func testOrders(t *testing.T, h *harness) {
	s := h.store()
	var es []audit.Entry
	for i, digits := range []string{
		"20150101000001000000", "9", "0", "9223372036854775807", "9223372036854775808",
		"100000000000000000000", "9300000000000000000", "1234567890123456789012345678901234567890",
	} {
		e := entry("s1", fmt.Sprintf("c%d", i), audit.StateApplied)
		e.Order = audit.MustParseOrder(digits)
		es = append(es, e)
	}
	want := appendAll(h, s, es...)
	for i := range want {
		if want[i].Order != es[i].Order {
			t.Errorf("append returned order %s, want %s", want[i].Order, es[i].Order)
		}
	}
	if diff := cmp.Diff(want, h.history(s, audit.Filter{}), entryCmp); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func testSnapshot(t *testing.T, h *harness) {
	s := h.store()
	got := appendAll(h, s,
		entry("s1", "a", audit.StateStarted),
		entry("s1", "b", audit.StateStarted),
		entry("s1", "a", audit.StateApplied),
		// The same change id in another stage is another change.
		entry("s2", "a", audit.StateFailed),
		entry("s1", "b", audit.StateFailed),
		entry("s1", "b", audit.StateRolledBack),
	)
	want := []audit.Entry{got[2], got[3], got[5]}
	if diff := cmp.Diff(want, h.snapshot(s), entryCmp); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
	// Another handle reads what is stored, not what a handle remembers.
	if diff := cmp.Diff(want, h.snapshot(h.store()), entryCmp); diff != "" {
		t.Errorf("snapshot through another handle (-want +got):\n%s", diff)
	}
}

func testHistory(t *testing.T, h *harness) {
	s := h.store()
	want := appendAll(h, s,
		entry("s1", "a", audit.StateStarted),
		entry("s1", "a", audit.StateApplied),
		entry("s1", "b", audit.StateStarted),
		entry("s1", "b", audit.StateApplied),
	)
	if diff := cmp.Diff(want, h.history(s, audit.Filter{}), entryCmp); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func testHistoryFilter(t *testing.T, h *harness) {
	s := h.store()
	var in []audit.Entry
	for i, k := range [][2]string{{"s1", "a"}, {"s1", "b"}, {"s2", "a"}, {"s1", "a"}, {"s2", "b"}} {
		e := entry(k[0], k[1], audit.StateStarted)
		e.Time = base.Add(time.Duration(i) * time.Second)
		in = append(in, e)
	}
	stored := appendAll(h, s, in...)
	tests := []struct {
		name string
		f    audit.Filter
		want []int // indexes into stored
	}{
		{"no filter selects everything", audit.Filter{}, []int{0, 1, 2, 3, 4}},
		{"stage selects its changes", audit.Filter{Stage: "s1"}, []int{0, 1, 3}},
		{"change id selects it in every stage", audit.Filter{ChangeID: "a"}, []int{0, 2, 3}},
		{"stage and change id select one change", audit.Filter{Stage: "s2", ChangeID: "a"}, []int{2}},
		{"since includes an entry at exactly that time", audit.Filter{Since: base.Add(2 * time.Second)}, []int{2, 3, 4}},
		{"since between entries excludes the earlier", audit.Filter{Since: base.Add(2500 * time.Millisecond)}, []int{3, 4}},
		{"since in another zone is the same instant", audit.Filter{Since: base.Add(3 * time.Second).In(time.FixedZone("X", -5*3600))}, []int{3, 4}},
		{"since after every entry selects nothing", audit.Filter{Since: base.Add(time.Hour)}, nil},
		{"all fields combine", audit.Filter{Stage: "s1", ChangeID: "a", Since: base.Add(time.Second)}, []int{3}},
		{"an unknown stage selects nothing", audit.Filter{Stage: "nope"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := []audit.Entry{}
			for _, i := range tc.want {
				want = append(want, stored[i])
			}
			got := h.history(s, tc.f)
			if got == nil {
				got = []audit.Entry{} // nil and empty are the same answer
			}
			if diff := cmp.Diff(want, got, entryCmp); diff != "" {
				t.Errorf("History(%+v) (-want +got):\n%s", tc.f, diff)
			}
		})
	}
}

func testSeq(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	// Caller seqs that a store trusting them would store out of order or
	// as duplicates.
	var got []int64
	for i, callerSeq := range []int64{1_000_000, 1, 1, -7, 0} {
		e := entry("s1", "a", audit.StateStarted)
		e.Seq = callerSeq
		e.Order = audit.OrderOf(uint64(i))
		got = append(got, h.append(s, l, e).Seq)
	}
	for i := range got {
		if got[i] <= 0 || i > 0 && got[i] <= got[i-1] {
			t.Fatalf("Append returned seqs %v, want positive and strictly increasing", got)
		}
	}
	if stored := seqs(h.history(s, audit.Filter{})); !slices.Equal(stored, got) {
		t.Errorf("history seqs %v, want the seqs Append returned %v", stored, got)
	}
}

// fullEntry sets every field of Entry, with values a careless encoding
// would lose: a time with nanoseconds in another zone, a duration with
// sub-millisecond parts, nested metadata.
func fullEntry() audit.Entry {
	return audit.Entry{
		Seq:          42, // ignored by the store
		ExecutionID:  "exec-7f3a",
		Stage:        "billing",
		ChangeID:     "add-invoices-index",
		Order:        audit.OrderOf(1207),
		Author:       "Zoë O'Brien",
		State:        audit.StateRollbackFailed,
		Time:         time.Date(2024, 2, 29, 23, 59, 58, 987_654_321, time.FixedZone("UTC+5:30", 5*3600+1800)),
		Duration:     90*time.Minute + 1500*time.Millisecond + 123*time.Nanosecond,
		Host:         "host-1.example.com",
		RunnerID:     "runner-9",
		TargetID:     "appdb",
		Strategy:     audit.StrategySeparateTx,
		Recovery:     audit.RecoveryRetry,
		Checksum:     "sha256:4b2c…",
		ErrorMessage: "pq: relation \"invoices\" does not exist\nsecond line",
		ErrorKind:    "*pgconn.PgError",
		Operator:     "bob",
		Reason:       "ticket OPS-12; \"quoted\"; unicode ✓",
		Metadata:     json.RawMessage(`{"b": [1, 2.5, "x"], "a": {"nested": true, "nil": null}}`),
	}
}

func testRoundTrip(t *testing.T, h *harness) {
	in := fullEntry()
	v := reflect.ValueOf(in)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullEntry leaves Entry.%s zero: set it so the suite checks it round-trips", v.Type().Field(i).Name)
		}
	}
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	got := h.append(s, l, in)
	want := in
	want.Seq = got.Seq
	if diff := cmp.Diff(want, got, entryCmp); diff != "" {
		t.Errorf("Append returned (-want +got):\n%s", diff)
	}
	if got.Time.Location() != time.UTC {
		t.Errorf("Append returned time %s in %s, want UTC", got.Time, got.Time.Location())
	}
	empty := entry("s1", "no-metadata", audit.StateApplied)
	gotEmpty := h.append(s, l, empty)
	empty.Seq = gotEmpty.Seq
	for _, r := range []audit.Store{s, h.store()} {
		if diff := cmp.Diff([]audit.Entry{want, empty}, h.history(r, audit.Filter{}), entryCmp); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	}
}

func testEnums(t *testing.T, h *harness) {
	var in []audit.Entry
	for i, st := range []audit.State{
		audit.StateStarted, audit.StateApplied, audit.StateFailed, audit.StateRolledBack,
		audit.StateRollbackFailed, audit.StateManualApplied, audit.StateManualRolledBack,
	} {
		e := entry("s1", string(st), st)
		e.Strategy = []audit.Strategy{audit.StrategySharedTx, audit.StrategySeparateTx, audit.StrategyNonTx}[i%3]
		e.Recovery = []audit.Recovery{audit.RecoveryManual, audit.RecoveryRetry}[i%2]
		in = append(in, e)
	}
	s := h.store()
	want := appendAll(h, s, in...)
	if diff := cmp.Diff(want, h.history(s, audit.Filter{}), entryCmp); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func testInvalid(t *testing.T, h *harness) {
	s := h.store()
	l := h.acquire(s, "runner-a", longTTL)
	tests := []struct {
		name   string
		modify func(*audit.Entry)
	}{
		{"missing execution id", func(e *audit.Entry) { e.ExecutionID = "" }},
		{"missing stage", func(e *audit.Entry) { e.Stage = "" }},
		{"missing change id", func(e *audit.Entry) { e.ChangeID = "" }},
		{"unknown state", func(e *audit.Entry) { e.State = "DONE" }},
		{"missing time", func(e *audit.Entry) { e.Time = time.Time{} }},
		{"negative duration", func(e *audit.Entry) { e.Duration = -time.Second }},
		{"unknown strategy", func(e *audit.Entry) { e.Strategy = "" }},
		{"unknown recovery", func(e *audit.Entry) { e.Recovery = "LATER" }},
		{"manual mark without a reason", func(e *audit.Entry) { e.State, e.Operator = audit.StateManualApplied, "alice" }},
		{"metadata that is not an object", func(e *audit.Entry) { e.Metadata = json.RawMessage(`[1, 2]`) }},
		{"metadata that is not JSON", func(e *audit.Entry) { e.Metadata = json.RawMessage(`{"a":`) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := entry("s1", "a", audit.StateApplied)
			tc.modify(&e)
			if e.Validate() == nil {
				t.Fatalf("test entry %+v is valid; the case tests nothing", e)
			}
			if got, err := s.Append(t.Context(), l, e); err == nil {
				t.Errorf("Append accepted an entry with %s, stored as seq %d", tc.name, got.Seq)
			}
		})
	}
	h.wantEmpty(s)
}
