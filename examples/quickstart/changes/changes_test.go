package changes_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/examples/quickstart/changes"
	"github.com/flamingock/flamingock-go/flamingocktest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// quickstart is the stage wired as main.go wires it, on the kit's
// temporary store and a flag file of the test's own.
type quickstart struct {
	k     *flamingocktest.Kit
	flags string
	stage pipeline.Stage
}

func newQuickstart(t *testing.T) *quickstart {
	k := flamingocktest.New(t)
	flags := filepath.Join(t.TempDir(), "flags.json")
	stage := changes.Stage(
		changes.Targets{
			Appdb: sqltarget.Shared(k.SQLite()),
			Flags: pipeline.NonTransactional(&changes.Flags{Path: flags}),
		},
		changes.Deps{Logger: slog.New(slog.DiscardHandler)},
	)
	return &quickstart{k: k, flags: flags, stage: stage}
}

// snapshot is what the changes change: the users table's definition and
// rows, and the flags that are on (a flag turned off is as good as a flag
// never set: the application reads both as off).
func (q *quickstart) snapshot(ctx context.Context) (any, error) {
	db := q.k.SQLite().DB()
	var state struct {
		Table string
		Users []string
		On    []string
	}
	err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'users'`).Scan(&state.Table)
	switch {
	case err == nil:
		rows, err := db.QueryContext(ctx, `SELECT email || ' admin=' || admin FROM users ORDER BY id`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				return nil, err
			}
			state.Users = append(state.Users, u)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	b, err := os.ReadFile(q.flags)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if len(b) > 0 {
		var flags map[string]bool
		if err := json.Unmarshal(b, &flags); err != nil {
			return nil, err
		}
		for name, on := range flags {
			if on {
				state.On = append(state.On, name)
			}
		}
		slices.Sort(state.On)
	}
	return state, nil
}

func TestGivenNothingARunAppliesTheQuickstart(t *testing.T) {
	q := newQuickstart(t)
	res := q.k.Run(q.stage)
	if n := res.Count(pipeline.StatusApplied); n != 3 {
		t.Errorf("applied %d changes, want 3", n)
	}
	q.k.AssertApplied("create-users", "seed-admin", "enable-signup")
	// The SQL changes commit with their APPLIED entry; the flag file has
	// no transactions, so STARTED guards its change.
	q.k.AssertTrail("changes", "create-users", audit.StateApplied)
	q.k.AssertTrail("changes", "enable-signup", audit.StateStarted, audit.StateApplied)

	if res := q.k.Run(q.stage); res.Count(pipeline.StatusSkipped) != 3 {
		t.Errorf("second run: %d skipped, want 3", res.Count(pipeline.StatusSkipped))
	}
}

func TestEveryQuickstartRollbackUndoesItsChange(t *testing.T) {
	q := newQuickstart(t)
	rep := q.k.RoundTrip(q.snapshot, q.stage)
	if !slices.Equal(rep.Checked, []string{"create-users", "enable-signup"}) {
		t.Errorf("checked %v, want create-users and enable-signup", rep.Checked)
	}
	q.k.AssertTrail("changes", "create-users", audit.StateApplied, audit.StateRolledBack, audit.StateApplied)
	q.k.AssertApplied("create-users", "seed-admin", "enable-signup")
}

func TestGivenTheSchemaReleasedTheFlagChangeRunsAlone(t *testing.T) {
	q := newQuickstart(t)
	q.k.GivenApplied(q.stage, "create-users", "seed-admin")
	res := q.k.RunOne(q.stage, "enable-signup")
	if applied := res.Applied(); len(applied) != 1 || applied[0].ChangeID != "enable-signup" {
		t.Errorf("applied %v, want enable-signup alone", applied)
	}
	b, err := os.ReadFile(q.flags)
	if err != nil {
		t.Fatal(err)
	}
	var flags map[string]bool
	if err := json.Unmarshal(b, &flags); err != nil || !flags["self-signup"] {
		t.Errorf("flag file %s (%v): want self-signup on", b, err)
	}
}

func TestGivenARunnerDiedSettingTheFlagTheNextRunStops(t *testing.T) {
	q := newQuickstart(t)
	q.k.Run(q.k.Through(q.stage, "seed-admin"))
	q.k.Given(audit.Entry{Stage: "changes", ChangeID: "enable-signup", State: audit.StateStarted, Strategy: audit.StrategyNonTx})

	_, err := q.k.TryRun(q.stage)
	if !errors.Is(err, pipeline.ErrManualInterventionRequired) {
		t.Fatalf("run: %v, want the issue", err)
	}
	q.k.AssertIssue("enable-signup", "whether it took effect is unknown")
	if _, err := os.Stat(q.flags); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the flag file exists (%v): the change ran past its issue", err)
	}
}
