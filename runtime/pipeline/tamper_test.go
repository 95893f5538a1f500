package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/pgtest"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// tamperWorld is a store whose trail a test edits by hand, with changes
// that share a transaction with their APPLIED entry (so that entry is
// their only one) and count their committed side effects.
type tamperWorld struct {
	store audit.Store
	// change is a change whose side effect is a row in the store's own
	// database, committed with its APPLIED entry.
	change func(id string, order uint64) pipeline.Change
	// ran counts the committed side effects of change id.
	ran func(id string) int
	// exec runs SQL on the store's database, behind the store's back:
	// {audit} is the quoted audit table, and parameters are written $1,
	// $2 (rewritten for SQLite).
	exec func(sql string, args ...any) int64
}

var tamperWorlds = []struct {
	name string
	open func(t *testing.T) *tamperWorld
}{
	{"sqlite", func(t *testing.T) *tamperWorld {
		ctx := context.Background()
		store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		db := store.DB()
		if _, err := db.ExecContext(ctx, `CREATE TABLE effects (change_id TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		target := pipeline.Target[*sql.Tx](sqltarget.New(db))
		w := &tamperWorld{store: store}
		w.change = func(id string, order uint64) pipeline.Change {
			return pipeline.NewChange(tamperMeta(id, order), target, func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO effects (change_id) VALUES (?)`, id)
				return err
			}, nil)
		}
		w.ran = func(id string) int {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM effects WHERE change_id = ?`, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		w.exec = func(query string, args ...any) int64 {
			query = sqlParams.Replace(strings.ReplaceAll(query, "{audit}", `"flamingock_audit"`))
			res, err := db.Exec(query, args...)
			if err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			n, _ := res.RowsAffected()
			return n
		}
		return w
	}},
	{"postgres", func(t *testing.T) *tamperWorld {
		ctx := context.Background()
		srv := pgtest.New(t) // skips without FLAMINGOCK_TEST_POSTGRES
		pool := srv.Pool(t)
		schema := srv.Schema(t)
		store, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		effects := pgx.Identifier{schema, "effects"}.Sanitize()
		// The store creates the schema on its first use.
		if _, err := store.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `CREATE TABLE `+effects+` (change_id text NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		target := pipeline.Target[pgx.Tx](pgxtarget.New(pool))
		w := &tamperWorld{store: store}
		w.change = func(id string, order uint64) pipeline.Change {
			return pipeline.NewChange(tamperMeta(id, order), target, func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO `+effects+` (change_id) VALUES ($1)`, id)
				return err
			}, nil)
		}
		w.ran = func(id string) int {
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+effects+` WHERE change_id = $1`, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		w.exec = func(query string, args ...any) int64 {
			query = strings.ReplaceAll(query, "{audit}", pgx.Identifier{schema, "flamingock_audit"}.Sanitize())
			tag, err := pool.Exec(ctx, query, args...)
			if err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return tag.RowsAffected()
		}
		return w
	}},
}

// sqlParams rewrites the $n parameters of the tamper statements for SQLite.
var sqlParams = strings.NewReplacer("$1", "?1", "$2", "?2")

func tamperMeta(id string, order uint64) pipeline.Meta {
	return pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "tester", Target: "appdb",
		Recovery: audit.RecoveryManual, Checksum: "sum-" + id, Source: id + ".go:3"}
}

// seqOf returns the seq of the latest entry of change id, which must be in
// state want.
func seqOf(t *testing.T, store audit.Store, id string, want audit.State) int64 {
	t.Helper()
	h, err := store.History(context.Background(), audit.Filter{Stage: "s1", ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) == 0 || h[len(h)-1].State != want {
		t.Fatalf("history of %s: %+v, want it to end %s", id, h, want)
	}
	return h[len(h)-1].Seq
}

// An operator deletes, or edits, the APPLIED entry of a change that a
// checkpoint took into account, and the change is pending again: Plan,
// Validate and Run all say so, and Run applies it exactly once more. A
// checkpoint that only compared the trail's highest seq (which did not
// move) took the change for done, and the next release that appended
// anything ran it again, unannounced.
func TestCheckpointNoticesATamperedTrail(t *testing.T) {
	for _, w := range tamperWorlds {
		for _, tc := range []struct {
			name   string
			tamper func(w *tamperWorld, seq int64) int64
		}{
			{"the APPLIED entry deleted", func(w *tamperWorld, seq int64) int64 {
				return w.exec(`DELETE FROM {audit} WHERE seq = $1`, seq)
			}},
			{"the APPLIED entry edited to ROLLED_BACK", func(w *tamperWorld, seq int64) int64 {
				return w.exec(`UPDATE {audit} SET state = $1 WHERE seq = $2`, string(audit.StateRolledBack), seq)
			}},
		} {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				world := w.open(t)
				ctx := context.Background()
				stages := func() []pipeline.Stage {
					return []pipeline.Stage{{Name: "s1", Changes: []pipeline.Change{
						world.change("a", 1), world.change("b", 2), world.change("c", 3)}}}
				}
				if res := mustRun(t, newRunner(t, world.store, stages()...)); len(res.Applied()) != 3 {
					t.Fatalf("first run: %v", statuses(res))
				}
				if res := mustRun(t, newRunner(t, world.store, stages()...)); !fromCheckpoint(res) {
					t.Fatalf("the first run saved no checkpoint: %v", statuses(res))
				}

				if n := tc.tamper(world, seqOf(t, world.store, "b", audit.StateApplied)); n != 1 {
					t.Fatalf("the tamper touched %d rows, want 1", n)
				}

				r := newRunner(t, world.store, stages()...)
				p, err := r.Plan(ctx)
				if err != nil {
					t.Fatalf("plan: %v", err)
				}
				var actions []string
				for _, c := range p.Changes {
					actions = append(actions, c.ChangeID+"="+string(c.Action))
				}
				if diff := cmp.Diff([]string{"a=skip", "b=apply", "c=skip"}, actions); diff != "" {
					t.Errorf("plan (-want +got):\n%s", diff)
				}
				var pending *pipeline.PendingError
				if err := r.Validate(ctx); !errors.As(err, &pending) {
					t.Errorf("validate: %v, want a *PendingError", err)
				} else if len(pending.Changes) != 1 || pending.Changes[0].ChangeID != "b" {
					t.Errorf("validate reports %+v pending, want b alone", pending.Changes)
				}

				res := mustRun(t, r)
				if diff := cmp.Diff([]string{"s1/a=skipped", "s1/b=applied", "s1/c=skipped"}, statuses(res)); diff != "" {
					t.Errorf("run after the tamper (-want +got):\n%s", diff)
				}
				for id, want := range map[string]int{"a": 1, "b": 2, "c": 1} {
					if got := world.ran(id); got != want {
						t.Errorf("change %s ran %d times, want %d", id, got, want)
					}
				}

				// The run saved a checkpoint again: the next start is up to
				// date from it, and applies nothing.
				res = mustRun(t, newRunner(t, world.store, stages()...))
				if !fromCheckpoint(res) {
					t.Errorf("the start after the re-apply did not start from a checkpoint: %v", statuses(res))
				}
				if got := world.ran("b"); got != 2 {
					t.Errorf("change b ran %d times after the next start, want 2", got)
				}
			})
		}
	}
}

func mustRun(t *testing.T, r *pipeline.Runner) *pipeline.Result {
	t.Helper()
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}
