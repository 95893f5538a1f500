package pipeline_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

func noop[H any](context.Context, H) error { return nil }

func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	e := newEnv(t)
	meta := func(id string, order uint64, target string) pipeline.Meta {
		return pipeline.Meta{ID: id, Order: audit.OrderOf(order), Target: target}
	}
	var unwired *sqltarget.Target
	nonTxMeta := meta("ddl", 9, "appdb")
	nonTxMeta.WithoutTransaction = true
	badRecovery := meta("odd", 4, "flags")
	badRecovery.Recovery = "SOMETIMES"
	stages := []pipeline.Stage{
		{Name: "schema", Changes: []pipeline.Change{
			pipeline.NewChange(meta("a", 2, "appdb"), pipeline.Target[*sql.Tx](e.shared), noop, nil),
			pipeline.NewChange(meta("b", 2, "appdb"), pipeline.Target[*sql.Tx](e.shared), noop, nil),
			pipeline.NewChange(meta("c", 3, "app-db"), pipeline.Target[*sql.Tx](nil), noop, nil),
			pipeline.NewChange(meta("d", 5, "appdb"), pipeline.Target[*sql.Tx](unwired), noop, nil),
			pipeline.NewChange(nonTxMeta, pipeline.Target[*sql.Tx](e.shared), noop, nil),
			// The generator names this target's field T1db: the message must too.
			pipeline.NewChange(meta("e", 10, "1db"), pipeline.Target[*sql.Tx](nil), noop, nil),
		}},
		{Name: "schema"},
		{Name: "", Changes: []pipeline.Change{
			pipeline.NewChange(meta("a", 1, "flags"), pipeline.NonTransactional(e.rec), noop, nil),
			pipeline.NewChange(meta("", 2, "flags"), pipeline.NonTransactional(e.rec), noop, nil),
			pipeline.NewChange(badRecovery, pipeline.NonTransactional(e.rec), noop, nil),
			pipeline.NewChange[*recorder](meta("nil-apply", 5, "flags"), pipeline.NonTransactional(e.rec), nil, nil),
			{},
		}},
	}

	_, err := pipeline.New(e.store, stages, pipeline.WithLease(0), pipeline.WithLockWait(-time.Second, 0),
		pipeline.WithLockKey(""), pipeline.WithRunnerID(""), pipeline.WithLogger(nil), pipeline.WithEvents(nil),
		nil)

	if err == nil {
		t.Fatal("New accepted a broken pipeline")
	}
	want := []string{
		"invalid pipeline:",
		"WithLease: lease must be at least 1ms, got 0s",
		"WithLockWait: negative wait -1s",
		"WithLockKey: empty key",
		"WithRunnerID: empty id",
		"WithLogger: nil logger",
		"WithEvents: nil callback",
		"nil option",
		`stage "schema": change "b": order 2 does not follow order 2 of change "a"`,
		`stage "schema": change "c": target "app-db" is not wired: set Targets.AppDb`,
		`stage "schema": change "d": target "appdb" is not wired: set Targets.Appdb`,
		`stage "schema": change "ddl": target "appdb": database/sql target cannot run a change outside a transaction (its handle is *sql.Tx)`,
		`stage "schema": change "e": target "1db" is not wired: set Targets.T1db`,
		`stage "schema" is listed twice`,
		`stage #3 has no name`,
		`stage "": change "a": id already used in stage "schema"`,
		`stage "": change #2 has no id`,
		`stage "": change "odd": unknown recovery "SOMETIMES" (want MANUAL or RETRY)`,
		`stage "": change "nil-apply": apply function is nil`,
		`stage "": change #5 has no id`,
		`stage "": change "": order 0 does not follow order 5 of change "nil-apply"`,
		`stage "": change "": not built with NewChange`,
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("New error lines (-want +got):\n%s", diff)
	}
}

func TestNewRejectsAMissingStoreOrStages(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		store  audit.Store
		stages []pipeline.Stage
		want   string
	}{
		{"a nil store is rejected", nil, []pipeline.Stage{{Name: "s"}}, "audit store is nil"},
		{"an empty pipeline is rejected", e.store, nil, "invalid pipeline:\npipeline has no stages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pipeline.New(tt.store, tt.stages)
			if err == nil || err.Error() != tt.want {
				t.Errorf("New error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNewAcceptsAStageWithoutChanges(t *testing.T) {
	e := newEnv(t)
	r, err := pipeline.New(e.store, []pipeline.Stage{{Name: "empty"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.RunnerID(), "-") {
		t.Errorf("default runner id %q, want host-pid-random", r.RunnerID())
	}
	res, err := r.Run(context.Background())
	if err != nil || len(res.Changes()) != 0 {
		t.Errorf("Run = %+v, %v; want no outcomes and no error", res, err)
	}
}
