package crashmatrix_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crashtest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// hostileWorld is a world whose change "first" is applied, with a
// pipeline of it and one pending change on every medium of the world.
type hostileWorld struct {
	*world
	stages  []pipeline.Stage
	pending map[string]medium // change id → its medium
	file    medium            // the medium of "first"
}

func newHostileWorld(t *testing.T, store string) *hostileWorld {
	t.Helper()
	h := &hostileWorld{world: newWorld(t, store), pending: map[string]medium{}}
	st := pipeline.Stage{Name: stageName}
	for _, m := range h.media {
		prepare(t, m)
		if m.name() == "effect file" {
			h.file = m
		}
	}
	st.Changes = append(st.Changes, h.file.change(meta("first", 1, audit.StrategyNonTx, audit.RecoveryManual), false))
	r, err := pipeline.New(h.store, []pipeline.Stage{st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatalf("seed run: %v", err)
	}
	for i, m := range h.media {
		id := fmt.Sprintf("pending-%d", i+1)
		h.pending[id] = m
		st.Changes = append(st.Changes, m.change(meta(id, uint64(i+2), m.strategy(), audit.RecoveryManual), false))
	}
	h.stages = []pipeline.Stage{st}
	return h
}

// ranNothing fails t when a pending change took effect or "first" took
// effect again.
func (h *hostileWorld) ranNothing(t *testing.T) {
	t.Helper()
	if n := effects(t, h.file, "first"); n != 1 {
		t.Errorf("change first has %d effects, want the 1 of the seed run", n)
	}
	for id, m := range h.pending {
		if n := effects(t, m, id); n != 0 {
			t.Errorf("change %s on %s has %d effects, want 0", id, mediumKey(m), n)
		}
	}
}

func TestACorruptRecordStopsTheRunBeforeAnythingRuns(t *testing.T) {
	corruptions := []struct {
		name  string
		set   string // the SET clause that corrupts the latest entry
		mongo bson.D // the same fields for the MongoDB store
		want  string // in the error
	}{
		{"an unknown state", "state = 'HALF_DONE'", bson.D{{Key: "state", Value: "HALF_DONE"}},
			`unknown state "HALF_DONE"`},
		{"a missing execution id", "execution_id = ''", bson.D{{Key: "execution_id", Value: ""}},
			"missing execution id"},
		{"a missing change id", "change_id = ''", bson.D{{Key: "change_id", Value: ""}}, "missing change id"},
		{"a missing stage", "stage = ''", bson.D{{Key: "stage", Value: ""}}, "missing stage"},
		{"an unknown strategy", "strategy = 'TWO_PHASE'", bson.D{{Key: "strategy", Value: "TWO_PHASE"}},
			`unknown strategy "TWO_PHASE"`},
		{"a missing recovery", "recovery = ''", bson.D{{Key: "recovery", Value: ""}}, `unknown recovery ""`},
		{"a manual mark without an operator", "state = 'MANUAL_MARKED_AS_APPLIED', operator = '', reason = ''",
			bson.D{{Key: "state", Value: "MANUAL_MARKED_AS_APPLIED"}, {Key: "operator", Value: ""}, {Key: "reason", Value: ""}},
			"MANUAL_MARKED_AS_APPLIED needs an operator and a reason"},
		{"metadata that is not a JSON object", "metadata = '[1, 2]'", bson.D{{Key: "metadata", Value: "[1, 2]"}},
			"metadata is not a JSON object"},
		{"a newer schema version", "schema_version = 3", bson.D{{Key: "schema_version", Value: int64(3)}},
			"newer flamingock-go"},
	}
	for _, store := range stores {
		for _, c := range corruptions {
			t.Run(fmt.Sprintf("on %s an entry with %s", store, c.name), func(t *testing.T) {
				t.Parallel()
				h := newHostileWorld(t, store)
				// The latest entry of "first", its APPLIED.
				trail, err := h.history(t.Context(), "first")
				if err != nil || len(trail) == 0 || trail[len(trail)-1].State != audit.StateApplied {
					t.Fatalf("seeded trail %v, %v; want it to end APPLIED", crashtest.States(trail), err)
				}
				seq := trail[len(trail)-1].Seq
				h.setEntry(t, seq, c.set, c.mongo)
				entries := h.trailRows(t)
				lockBefore, err := h.store.Lock(t.Context(), lockKey)
				if err != nil {
					t.Fatal(err)
				}
				r, err := pipeline.New(h.store, h.stages, pipeline.WithLockWait(0, time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}

				_, planErr := r.Plan(t.Context())
				res, err := r.Run(t.Context())

				for what, err := range map[string]error{"Plan": planErr, "Run": err} {
					var ce *audit.CorruptError
					switch {
					case !errors.As(err, &ce) || !errors.Is(err, audit.ErrCorrupt):
						t.Errorf("%s error = %v, want an *audit.CorruptError", what, err)
					case !strings.Contains(err.Error(), fmt.Sprintf("seq %d", seq)) || !strings.Contains(err.Error(), c.want):
						t.Errorf("%s error %q does not name entry seq %d and say %q", what, err, seq, c.want)
					}
				}
				if got := len(res.NotRun()); got != len(h.pending)+1 {
					t.Errorf("outcomes %v, want every change not run", crashtest.Statuses(res))
				}
				h.ranNothing(t)
				if n := h.trailRows(t); n != entries {
					t.Errorf("the trail has %d entries, want the %d it had", n, entries)
				}
				if l, err := h.store.Lock(t.Context(), lockKey); err != nil || l.Epoch != lockBefore.Epoch || l.Held() {
					t.Errorf("lock %+v (%v), want it untouched at epoch %d: the run must not even lock", l, err, lockBefore.Epoch)
				}
			})
		}
	}
}

func TestALockHeldByARunnerThatNeverExisted(t *testing.T) {
	const ghost, ghostEpoch = "ghost-runner", 41
	// The SQL stores only: the MongoDB store has no lock row to plant, its
	// lock is the chain of lock events in the trail.
	for _, store := range []string{storeSQLite, storePostgres, storeMySQL} {
		// plant writes a lock row no runner wrote: ghost's, expiring in d.
		plant := func(t *testing.T, h *hostileWorld, d time.Duration) {
			t.Helper()
			_, lockTable := h.tables()
			upsert := `INSERT INTO %s (key, owner, epoch, expires_at) VALUES ('%s', '%s', %d, %s)
ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch, expires_at = excluded.expires_at`
			if store == storeMySQL {
				upsert = `INSERT INTO %s (lock_key, owner, epoch, expires_at) VALUES ('%s', '%s', %d, %s)
ON DUPLICATE KEY UPDATE owner = VALUES(owner), epoch = VALUES(epoch), expires_at = VALUES(expires_at)`
			}
			h.exec(t, fmt.Sprintf(upsert, lockTable, lockKey, ghost, ghostEpoch, h.nowPlus(d)))
		}
		// appliesAll runs the pipeline and checks it applied every pending
		// change under epoch want.
		appliesAll := func(t *testing.T, h *hostileWorld, r *pipeline.Runner, want int64) {
			t.Helper()
			res, err := r.Run(t.Context())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := len(res.Applied()); got != len(h.pending) {
				t.Errorf("outcomes %v, want every pending change applied", crashtest.Statuses(res))
			}
			for id, m := range h.pending {
				if n := effects(t, m, id); n != 1 {
					t.Errorf("change %s has %d effects, want 1", id, n)
				}
			}
			if l, err := h.store.Lock(t.Context(), lockKey); err != nil || l.Epoch != want || l.Held() {
				t.Errorf("lock %+v (%v), want it taken at epoch %d and released", l, err, want)
			}
		}

		t.Run("on "+store+" unexpired, it is held: the run waits, fails naming it and runs nothing, until an operator releases it", func(t *testing.T) {
			t.Parallel()
			h := newHostileWorld(t, store)
			plant(t, h, time.Hour)
			entries := h.trailRows(t)
			r, err := pipeline.New(h.store, h.stages, pipeline.WithLockWait(200*time.Millisecond, 20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}

			res, err := r.Run(t.Context())

			var le *pipeline.LockError
			switch {
			case !errors.As(err, &le) || !errors.Is(err, pipeline.ErrLockNotAcquired):
				t.Fatalf("Run error = %v, want a *pipeline.LockError", err)
			case le.Holder.Owner != ghost || le.Holder.Epoch != ghostEpoch || !strings.Contains(err.Error(), ghost):
				t.Errorf("error %q (holder %+v) does not name %s at epoch %d", err, le.Holder, ghost, ghostEpoch)
			}
			if got := len(res.NotRun()); got != len(h.pending) {
				t.Errorf("outcomes %v, want every pending change not run", crashtest.Statuses(res))
			}
			h.ranNothing(t)
			if n := h.trailRows(t); n != entries {
				t.Errorf("the trail has %d entries, want the %d it had", n, entries)
			}

			if _, err := h.store.ForceRelease(t.Context(), lockKey, "ops@example.com"); err != nil {
				t.Fatal(err)
			}
			appliesAll(t, h, r, ghostEpoch+1)
		})

		t.Run("on "+store+" expired, the run takes it over", func(t *testing.T) {
			t.Parallel()
			h := newHostileWorld(t, store)
			plant(t, h, -time.Hour)
			r, err := pipeline.New(h.store, h.stages, pipeline.WithLockWait(0, time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			appliesAll(t, h, r, ghostEpoch+1)
		})
	}
}
