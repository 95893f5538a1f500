package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/digest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// upToDateStore is a store whose checkpoint is always current: what a
// start with nothing to do costs the process, the server aside.
type upToDateStore struct{ audit.Store }

func (upToDateStore) SnapshotUnlessCurrent(context.Context, string) ([]audit.Entry, bool, error) {
	return nil, true, nil
}

func (upToDateStore) SaveCheckpoint(context.Context, audit.Checkpoint) error { return nil }

// BenchmarkUpToDateStart measures the process's share of a start with
// nothing to do at N changes: building the stage as generated code does
// (generated: its digest a constant, its changes built only when a run
// needs them; listed: every change built, as a hand-written stage is),
// New, and Run from a current checkpoint. The database's share is one
// small query whatever N (see BENCHMARKS.md).
func BenchmarkUpToDateStart(b *testing.B) {
	for _, kind := range []string{"generated", "listed"} {
		for _, n := range []int{100, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				store := upToDateStore{}
				target := pipeline.NonTransactional(struct{}{})
				ids := make([]string, n)
				sums := make([]string, n)
				d := digest.NewStage()
				for i := range ids {
					ids[i] = fmt.Sprintf("V%05d_change", i)
					sums[i] = fmt.Sprintf("%064x", i)
					d.Add(ids[i], sums[i])
				}
				sum := d.Sum()
				apply := func(context.Context, struct{}) error { return nil }
				build := func() []pipeline.Change {
					changes := make([]pipeline.Change, n)
					for i := range changes {
						changes[i] = pipeline.NewChange(pipeline.Meta{
							ID: ids[i], Order: audit.OrderOf(uint64(i + 1)), Author: "bench", Target: "flags",
							Recovery: audit.RecoveryManual, Checksum: sums[i], Source: "changes.go:1",
						}, target, apply, nil)
					}
					return changes
				}
				b.ReportAllocs()
				for b.Loop() {
					st := pipeline.Stage{Name: "s1"}
					if kind == "generated" {
						st.Generated = &pipeline.Generated{Digest: sum, Len: n, Changes: build,
							Targets: []pipeline.TargetUse{pipeline.Uses("flags", target, true)}}
					} else {
						st.Changes = build()
					}
					r, err := pipeline.New(store, []pipeline.Stage{st})
					if err != nil {
						b.Fatal(err)
					}
					res, err := r.Run(context.Background())
					if err != nil || res.Len() != n {
						b.Fatalf("run: %d outcomes, %v", res.Len(), err)
					}
				}
			})
		}
	}
}
