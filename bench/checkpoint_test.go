package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// checkpointStore is a store of BenchmarkCheckpointStart: how to open a
// handle on one namespace, made once per sub-benchmark.
type checkpointStore struct {
	name string
	// namespace makes a fresh namespace and returns an opener for it.
	namespace func(b *testing.B) func(ctx context.Context) (audit.Store, error)
}

func checkpointStores() []checkpointStore {
	return []checkpointStore{
		{name: "sqlite", namespace: func(b *testing.B) func(ctx context.Context) (audit.Store, error) {
			path := filepath.Join(b.TempDir(), "audit.db")
			return func(ctx context.Context) (audit.Store, error) { return sqlite.Open(ctx, path) }
		}},
		{name: "postgres", namespace: func(b *testing.B) func(ctx context.Context) (audit.Store, error) {
			dsn := needServer(b)
			schema := fmt.Sprintf("cpbench_%x", fnvName(b.Name()))
			b.Cleanup(func() {
				conn, err := pgx.Connect(context.Background(), dsn)
				if err != nil {
					b.Errorf("drop schema %s: %v", schema, err)
					return
				}
				defer conn.Close(context.Background())
				if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
					b.Errorf("drop schema %s: %v", schema, err)
				}
			})
			return func(ctx context.Context) (audit.Store, error) {
				return postgres.Open(ctx, dsn, postgres.WithSchema(schema))
			}
		}},
	}
}

func fnvName(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// checkpointPipeline is a pipeline of n non-transactional changes that do
// nothing: each leaves two entries in the trail, STARTED and APPLIED.
func checkpointPipeline(store audit.Store, n int) (*pipeline.Runner, error) {
	target := pipeline.NonTransactional(struct{}{})
	apply := func(context.Context, struct{}) error { return nil }
	changes := make([]pipeline.Change, n)
	for i := range changes {
		changes[i] = pipeline.NewChange(pipeline.Meta{
			ID: fmt.Sprintf("V%05d_change", i), Order: audit.OrderOf(uint64(i + 1)), Author: "bench", Target: "flags",
			Recovery: audit.RecoveryManual, Checksum: fmt.Sprintf("%064x", i), Source: "changes.go:1",
		}, target, apply, nil)
	}
	// Quiet, and so the same before and after the runtime logged by
	// default.
	return pipeline.New(store, []pipeline.Stage{{Name: "bench", Changes: changes}},
		pipeline.WithLogger(slog.New(slog.DiscardHandler)))
}

// BenchmarkCheckpointStart measures the start of an up-to-date pipeline on
// an audit store that keeps checkpoints, with trails of 100 and 2,000
// entries (50 and 1,000 changes, STARTED and APPLIED each), on SQLite and
// on PostgreSQL (when FLAMINGOCK_TEST_POSTGRES is set):
//
//   - check: the store's part alone, SnapshotUnlessCurrent on a current
//     checkpoint, on a handle opened beforehand;
//   - run: what an application pays on a handle opened beforehand,
//     building the pipeline and Run, which finds the checkpoint current.
//
// Every iteration asserts that the checkpoint was current and that
// nothing was applied.
//
//	cd bench && go test -run '^$' -bench CheckpointStart -benchmem -count 6
func BenchmarkCheckpointStart(b *testing.B) {
	for _, st := range checkpointStores() {
		for _, entries := range []int{100, 2000} {
			b.Run(fmt.Sprintf("%s/entries=%d", st.name, entries), func(b *testing.B) {
				ctx := b.Context()
				open := st.namespace(b)
				store, err := open(ctx)
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				cp, ok := store.(audit.Checkpointer)
				if !ok {
					b.Fatalf("%T keeps no checkpoints", store)
				}
				n := entries / 2
				rec := &recorder{Store: store, cp: cp}
				r, err := checkpointPipeline(rec, n)
				if err != nil {
					b.Fatal(err)
				}
				if res, err := r.Run(ctx); err != nil || len(res.Applied()) != n {
					b.Fatalf("first run: %v", err)
				}
				digest := rec.digest
				b.Run("check", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						_, current, err := cp.SnapshotUnlessCurrent(ctx, digest)
						if err != nil || !current {
							b.Fatalf("current %v, %v", current, err)
						}
					}
				})
				b.Run("run", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						r, err := checkpointPipeline(store, n)
						if err != nil {
							b.Fatal(err)
						}
						res, err := r.Run(ctx)
						if err != nil || len(res.Applied()) != 0 || len(res.Skipped()) != n {
							b.Fatalf("up-to-date run: %d applied, %d skipped, %v", len(res.Applied()), len(res.Skipped()), err)
						}
					}
				})
			})
		}
	}
}

// recorder is a store that records the pipeline digest the runtime asks
// its checkpoint for, which the runtime does not export.
type recorder struct {
	audit.Store
	cp     audit.Checkpointer
	digest string
}

func (r *recorder) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	r.digest = digest
	return r.cp.SnapshotUnlessCurrent(ctx, digest)
}

func (r *recorder) SaveCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	return r.cp.SaveCheckpoint(ctx, cp)
}
