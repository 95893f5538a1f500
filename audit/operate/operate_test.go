package operate_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/operate"
	"github.com/flamingock/flamingock-go/audit/sqlite"
)

// seed writes entries, as a runner holding the lock would, to a new SQLite
// store, and returns its URL.
func seed(t *testing.T, entries ...audit.Entry) string {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	lease, err := store.Acquire(ctx, audit.DefaultLockKey, "seed-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := store.Append(ctx, lease, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Release(ctx, lease); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + path
}

func entry(stage, id string, order uint64, st audit.State) audit.Entry {
	return audit.Entry{
		ExecutionID: "exec-" + id, Stage: stage, ChangeID: id, Order: audit.OrderOf(order), Author: "alice", State: st,
		Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Host: "web-1", RunnerID: "web-1-42",
		TargetID: "files", Strategy: audit.StrategyNonTx, Recovery: audit.RecoveryManual, Checksum: "sum-" + id,
	}
}

func open(t *testing.T, url string) *operate.Session {
	t.Helper()
	s, err := operate.Open(t.Context(), url, operate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Host = "ops-laptop"
	s.Now = func() time.Time { return time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC) }
	return s
}

func history(t *testing.T, s *operate.Session, id string) []audit.Entry {
	t.Helper()
	h, err := s.History(t.Context(), audit.Filter{ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestResolveRecordsTheOperatorAndReasonUnderTheLockAndReleasesIt(t *testing.T) {
	s := open(t, seed(t, entry("app", "add-email", 1, audit.StateStarted)))
	e, err := s.Resolve(t.Context(), operate.Mark{
		ChangeID: "add-email", State: audit.StateManualApplied, Operator: "alice@ops", Reason: "the column exists",
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.State != audit.StateManualApplied || e.Operator != "alice@ops" || e.Reason != "the column exists" ||
		e.Host != "ops-laptop" || !e.Time.Equal(s.Now()) || e.Stage != "app" || e.Order != audit.OrderOf(1) ||
		e.Checksum != "sum-add-email" || e.Strategy != audit.StrategyNonTx || !strings.HasPrefix(e.RunnerID, "flamingock-cli-ops-laptop-") {
		t.Errorf("stored mark = %+v", e)
	}
	if v := audit.Assess(e).Verdict; v != audit.VerdictDone {
		t.Errorf("verdict after the mark = %s, want %s", v, audit.VerdictDone)
	}
	lock, err := s.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if lock.Held() {
		t.Errorf("lock after Resolve = %+v, want it released", lock)
	}
	if h := history(t, s, "add-email"); len(h) != 2 {
		t.Errorf("history has %d entries, want the STARTED one and the mark", len(h))
	}
}

func TestResolveRefusesAChangeWithoutAnIssueUnlessForced(t *testing.T) {
	s := open(t, seed(t, entry("app", "add-email", 1, audit.StateApplied)))
	m := operate.Mark{ChangeID: "add-email", State: audit.StateManualRolledBack, Operator: "alice@ops", Reason: "undone by hand"}
	if _, err := s.Resolve(t.Context(), m); err == nil || !strings.Contains(err.Error(), "has no issue") {
		t.Errorf("Resolve of an applied change: %v, want a refusal", err)
	}
	if h := history(t, s, "add-email"); len(h) != 1 {
		t.Fatalf("a refused mark wrote %d entries", len(h)-1)
	}
	m.Force = true
	if _, err := s.Resolve(t.Context(), m); err != nil {
		t.Errorf("forced Resolve: %v", err)
	}
	if h := history(t, s, "add-email"); len(h) != 2 || h[1].State != audit.StateManualRolledBack {
		t.Errorf("after a forced mark, history = %+v", h)
	}
}

func TestResolveRefusesWhileARunHoldsTheLock(t *testing.T) {
	url := seed(t, entry("app", "add-email", 1, audit.StateStarted))
	s := open(t, url)
	if _, err := s.Store().Acquire(t.Context(), audit.DefaultLockKey, "web-1-42", time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		_, err := s.Resolve(t.Context(), operate.Mark{
			ChangeID: "add-email", State: audit.StateManualApplied, Operator: "alice@ops", Reason: "checked", Force: force,
		})
		if err == nil || !strings.Contains(err.Error(), "is held by runner web-1-42") {
			t.Errorf("Resolve (force %v) while the lock is held: %v, want a refusal naming the runner", force, err)
		}
	}
	if h := history(t, s, "add-email"); len(h) != 1 {
		t.Errorf("a refused mark wrote %d entries", len(h)-1)
	}
}

func TestResolveRejectsAMarkWithoutOperatorReasonOrResolution(t *testing.T) {
	s := open(t, seed(t, entry("app", "add-email", 1, audit.StateStarted)))
	tests := []struct {
		name string
		m    operate.Mark
	}{
		{"no operator", operate.Mark{ChangeID: "add-email", State: audit.StateManualApplied, Reason: "checked"}},
		{"no reason", operate.Mark{ChangeID: "add-email", State: audit.StateManualApplied, Operator: "alice"}},
		{"a state that is not a resolution", operate.Mark{ChangeID: "add-email", State: audit.StateApplied, Operator: "alice", Reason: "checked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Resolve(t.Context(), tt.m); err == nil {
				t.Error("Resolve succeeded")
			}
		})
	}
	if h := history(t, s, "add-email"); len(h) != 1 {
		t.Errorf("rejected marks wrote %d entries", len(h)-1)
	}
}

func TestFindNeedsTheStageOfAnIdInSeveral(t *testing.T) {
	s := open(t, seed(t, entry("app", "init", 1, audit.StateApplied), entry("search", "init", 1, audit.StateStarted)))
	_, _, err := s.Find(t.Context(), "init", "")
	var amb *operate.AmbiguousError
	if !errors.As(err, &amb) || len(amb.Stages) != 2 {
		t.Fatalf("Find without a stage: %v, want an *AmbiguousError with two stages", err)
	}
	a, _, err := s.Find(t.Context(), "init", "search")
	if err != nil || a.Verdict != audit.VerdictIssue {
		t.Errorf("Find in stage search = %v, %v; want an issue", a.Verdict, err)
	}
	if _, _, err := s.Find(t.Context(), "missing", ""); err == nil {
		t.Error("Find of an id not in the trail succeeded")
	}
}

func TestSnapshotSortsEveryChangeWithItsVerdict(t *testing.T) {
	s := open(t, seed(t,
		entry("search", "reindex", 1, audit.StateStarted),
		entry("app", "seed", 2, audit.StateApplied),
		entry("app", "create", 1, audit.StateApplied),
	))
	all, _, err := s.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range all {
		got = append(got, a.Latest.Stage+"/"+a.Latest.ChangeID+":"+string(a.Verdict))
	}
	want := "app/create:" + string(audit.VerdictDone) + " app/seed:" + string(audit.VerdictDone) + " search/reindex:" + string(audit.VerdictIssue)
	if strings.Join(got, " ") != want {
		t.Errorf("Snapshot = %v, want %s", got, want)
	}
}

func TestForceReleaseFreesAHeldLockAndRecordsWhoDid(t *testing.T) {
	s := open(t, seed(t, entry("app", "add-email", 1, audit.StateStarted)))
	if _, err := s.Store().Acquire(t.Context(), audit.DefaultLockKey, "gone-runner", time.Hour); err != nil {
		t.Fatal(err)
	}
	before, after, err := s.ForceRelease(t.Context(), "alice@ops")
	if err != nil {
		t.Fatal(err)
	}
	if !before.Held() || before.Owner != "gone-runner" {
		t.Errorf("before = %+v, want held by gone-runner", before)
	}
	if after.Held() || after.ReleasedBy != "alice@ops" {
		t.Errorf("after = %+v, want free, released by alice@ops", after)
	}
	if _, err := s.Resolve(context.Background(), operate.Mark{
		ChangeID: "add-email", State: audit.StateManualRolledBack, Operator: "alice@ops", Reason: "had no effect",
	}); err != nil {
		t.Errorf("Resolve after the release: %v", err)
	}
}

func TestForceReleaseOfALockNeverAcquiredIsAnError(t *testing.T) {
	url := seed(t, entry("app", "add-email", 1, audit.StateStarted))
	s, err := operate.Open(t.Context(), url, operate.Options{LockKey: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.ForceRelease(t.Context(), "alice@ops"); err == nil || !strings.Contains(err.Error(), "never acquired") {
		t.Errorf("ForceRelease of lock other: %v, want never acquired", err)
	}
}

func TestResolutionsSelectTheSameStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	prefixed, err := sqlite.Open(t.Context(), path, sqlite.WithTablePrefix("billing"))
	if err != nil {
		t.Fatal(err)
	}
	defer prefixed.Close()
	lease, err := prefixed.Acquire(t.Context(), "other", "seed-runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prefixed.Append(t.Context(), lease, entry("app", "add-email", 1, audit.StateStarted)); err != nil {
		t.Fatal(err)
	}
	if err := prefixed.Release(t.Context(), lease); err != nil {
		t.Fatal(err)
	}
	url := "sqlite:" + path
	tests := []struct {
		name string
		open func(t *testing.T) *operate.Session
		want string
	}{
		{"opened from a URL and its options", func(t *testing.T) *operate.Session {
			s, err := operate.Open(t.Context(), url, operate.Options{LockKey: "other", TablePrefix: "billing"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}, " --store " + url + " --table-prefix billing --lock-key other"},
		{"a store the application has open names its own tables", func(t *testing.T) *operate.Session {
			return operate.New(prefixed, "the billing store", "other")
		}, " --store " + url + " --table-prefix billing --lock-key other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.open(t)
			a, _, err := s.Find(t.Context(), "add-email", "")
			if err != nil {
				t.Fatal(err)
			}
			res := s.Resolutions(a)
			if len(res) != 2 {
				t.Fatalf("Resolutions = %+v, want two", res)
			}
			for _, r := range res {
				if !strings.HasSuffix(r.Command, tt.want) {
					t.Errorf("%s: command %q does not end with %q", r.Name, r.Command, tt.want)
				}
			}
		})
	}
}

func TestResolutionsOfAStoreThatCannotNameItself(t *testing.T) {
	s := operate.New(unnamedStore{}, "mongodb://db:27017/app", "")
	res := s.Resolutions(audit.Assessment{Verdict: audit.VerdictIssue, Latest: entry("app", "c1", 1, audit.StateStarted)})
	for _, r := range res {
		if !strings.HasSuffix(r.Command, " --store mongodb://db:27017/app") {
			t.Errorf("%s: command %q, want the name given to New as its --store", r.Name, r.Command)
		}
	}
}

// unnamedStore is a store without a Locator URL, as mongo.New makes.
type unnamedStore struct{ audit.Store }

func (unnamedStore) Locator() audit.Locator { return audit.Locator{} }

func TestNewDefaultsTheLockKey(t *testing.T) {
	s := operate.New(nil, "postgres://ops:xxxxx@db/app", "")
	if s.Name() != "postgres://ops:xxxxx@db/app" || s.LockKey() != audit.DefaultLockKey {
		t.Errorf("New: name %q, lock key %q", s.Name(), s.LockKey())
	}
}
