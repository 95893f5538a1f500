package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

// guarded is a store with three entries (a, b, c) and a checkpoint "d" at
// the trail's highest seq, current.
type guarded struct {
	srv    *server
	s      *postgres.Store
	schema string
	table  string // the quoted audit table
	tip    int64
}

func newGuarded(t *testing.T, srv *server) guarded {
	t.Helper()
	s, schema := srv.open(t)
	g := guarded{srv: srv, s: s, schema: schema, table: pgx.Identifier{schema, "flamingock_audit"}.Sanitize()}
	g.tip = appendApplied(t, s, "a", "b", "c")
	if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: g.tip}); err != nil {
		t.Fatal(err)
	}
	if _, current, err := s.SnapshotUnlessCurrent(t.Context(), "d"); err != nil || !current {
		t.Fatalf("before the trail was touched: current %v, error %v", current, err)
	}
	return g
}

// stale checks that the checkpoint is not current and that the start
// reads the trail as it now is, want entries.
func (g guarded) stale(t *testing.T, want int) []audit.Entry {
	t.Helper()
	entries, current, err := g.s.SnapshotUnlessCurrent(t.Context(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if current {
		t.Fatal("the checkpoint is current after the trail was edited")
	}
	if len(entries) != want {
		t.Fatalf("the start read %d entries, want %d", len(entries), want)
	}
	snap, err := g.s.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != len(entries) {
		t.Fatalf("SnapshotUnlessCurrent read %d entries, Snapshot %d", len(entries), len(snap))
	}
	return entries
}

// triggers returns the names and definitions of the user triggers on the
// audit table, and the definitions of their functions.
func (g guarded) triggers(t *testing.T) (names, defs, funcs []string) {
	t.Helper()
	rows, err := g.srv.admin.Query(t.Context(), `SELECT tgname::text, pg_get_triggerdef(t.oid), pg_get_functiondef(t.tgfoid)
FROM pg_trigger t WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal ORDER BY 1`, g.table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n, d, f string
		if err := rows.Scan(&n, &d, &f); err != nil {
			t.Fatal(err)
		}
		names, defs = append(names, n), append(defs, d)
		if len(funcs) == 0 || funcs[len(funcs)-1] != f {
			funcs = append(funcs, f)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("the audit table has no triggers")
	}
	return names, defs, funcs
}

// enableAlways marks the triggers ENABLE ALWAYS, as the store does.
func (g guarded) enableAlways(t *testing.T, names []string) {
	t.Helper()
	for _, n := range names {
		g.srv.exec(t, "ALTER TABLE "+g.table+" ENABLE ALWAYS TRIGGER "+pgx.Identifier{n}.Sanitize())
	}
}

// editState rewrites the state of b's entry, as an operator would.
func (g guarded) editState(t *testing.T) {
	t.Helper()
	g.srv.exec(t, "UPDATE "+g.table+" SET state = 'STARTED' WHERE change_id = 'b'")
}

// TestCheckpointGuardCannotBeBypassed covers the ways an operator could
// edit the trail without the triggers voiding the checkpoints: each one
// leaves the checkpoint stale, and the next start reads the trail.
func TestCheckpointGuardCannotBeBypassed(t *testing.T) {
	srv := newServer(t)
	t.Run("an edit with session_replication_role = replica", func(t *testing.T) {
		g := newGuarded(t, srv)
		tx, err := srv.admin.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		for _, sql := range []string{"SET LOCAL session_replication_role = replica",
			"UPDATE " + g.table + " SET state = 'STARTED' WHERE change_id = 'b'"} {
			if _, err := tx.Exec(t.Context(), sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		if err := tx.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
		checkPending(t, g.stale(t, 3), "b")
	})
	t.Run("triggers disabled, an edit, triggers enabled again", func(t *testing.T) {
		g := newGuarded(t, srv)
		names, _, _ := g.triggers(t)
		srv.exec(t, "ALTER TABLE "+g.table+" DISABLE TRIGGER USER")
		g.editState(t)
		g.enableAlways(t, names)
		checkPending(t, g.stale(t, 3), "b")
	})
	t.Run("triggers dropped, an edit, triggers created again", func(t *testing.T) {
		g := newGuarded(t, srv)
		names, defs, _ := g.triggers(t)
		for _, n := range names {
			srv.exec(t, "DROP TRIGGER "+pgx.Identifier{n}.Sanitize()+" ON "+g.table)
		}
		srv.exec(t, "DELETE FROM "+g.table+" WHERE change_id = 'a'")
		for _, d := range defs {
			srv.exec(t, d)
		}
		g.enableAlways(t, names)
		g.stale(t, 2)
	})
	t.Run("the function emptied, an edit, the function restored", func(t *testing.T) {
		g := newGuarded(t, srv)
		_, _, funcs := g.triggers(t)
		var name string
		if err := srv.admin.QueryRow(t.Context(), `SELECT DISTINCT t.tgfoid::regproc::text FROM pg_trigger t
WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal`, g.table).Scan(&name); err != nil {
			t.Fatal(err)
		}
		srv.exec(t, "CREATE OR REPLACE FUNCTION "+name+"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$")
		g.editState(t)
		for _, f := range funcs {
			srv.exec(t, f)
		}
		checkPending(t, g.stale(t, 3), "b")
	})
	t.Run("TRUNCATE, then as many entries again", func(t *testing.T) {
		g := newGuarded(t, srv)
		srv.exec(t, "TRUNCATE "+g.table+" RESTART IDENTITY")
		g.stale(t, 0)
		// The new trail reaches the checkpoint's seq again: still stale.
		if tip := appendApplied(t, g.s, "x", "y", "z"); tip != g.tip {
			t.Fatalf("the new trail's highest seq is %d, want %d", tip, g.tip)
		}
		g.stale(t, 3)
	})
	t.Run("an entry inserted by hand below the highest seq", func(t *testing.T) {
		g := newGuarded(t, srv)
		srv.exec(t, "DELETE FROM "+g.table+" WHERE change_id = 'b'")
		g.stale(t, 2)
		if err := g.s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: g.tip}); err != nil {
			t.Fatal(err)
		}
		if _, current, err := g.s.SnapshotUnlessCurrent(t.Context(), "d"); err != nil || !current {
			t.Fatalf("saved again: current %v, error %v", current, err)
		}
		// Into the gap the delete left: b is pending again.
		srv.exec(t, "INSERT INTO "+g.table+` OVERRIDING SYSTEM VALUE
SELECT seq - 1, schema_version, execution_id, stage, 'b', change_order, author, 'ROLLED_BACK', occurred_at, duration_ns,
	host, runner_id, target_id, strategy, recovery, checksum, error_message, error_kind, operator, reason, metadata
FROM `+g.table+" WHERE change_id = 'c'")
		checkPending(t, g.stale(t, 3), "b")
	})
	t.Run("after it all, a start reads the trail and saves a current checkpoint", func(t *testing.T) {
		g := newGuarded(t, srv)
		names, defs, _ := g.triggers(t)
		srv.exec(t, "ALTER TABLE "+g.table+" DISABLE TRIGGER USER")
		g.editState(t)
		g.enableAlways(t, names)
		for _, n := range names {
			srv.exec(t, "DROP TRIGGER "+pgx.Identifier{n}.Sanitize()+" ON "+g.table)
		}
		for _, d := range defs {
			srv.exec(t, d)
		}
		g.enableAlways(t, names)
		checkPending(t, g.stale(t, 3), "b")
		if err := g.s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: g.tip}); err != nil {
			t.Fatal(err)
		}
		if _, current, err := g.s.SnapshotUnlessCurrent(t.Context(), "d"); err != nil || !current {
			t.Fatalf("saved again on the triggers as they now are: current %v, error %v", current, err)
		}
	})
}

// checkPending checks that the latest entry of id is not APPLIED.
func checkPending(t *testing.T, entries []audit.Entry, id string) {
	t.Helper()
	for _, e := range entries {
		if e.ChangeID == id {
			if e.State == audit.StateApplied {
				t.Errorf("%s reads back APPLIED, want the state edited by hand", id)
			}
			return
		}
	}
	t.Errorf("no entry of %s", id)
}

// TestCheckpointCheckReadsNoEntry pins that the check of a current
// checkpoint reads no row of the trail, whatever its length: the
// statement's plan, run with EXPLAIN ANALYZE, reads at most one row of the
// audit table (max(seq), from the end of its primary key's index).
func TestCheckpointCheckReadsNoEntry(t *testing.T) {
	srv := newServer(t)
	pool, c := pgtest.New(t).CountedPool(t)
	s, err := postgres.New(t.Context(), pool, postgres.WithSchema(srv.schema(t)))
	if err != nil {
		t.Fatal(err)
	}
	tip := appendApplied(t, s, "a", "b", "c", "d", "e", "f", "g", "h")
	if err := s.SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: tip}); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	if _, current, err := s.SnapshotUnlessCurrent(t.Context(), "d"); err != nil || !current {
		t.Fatalf("current %v, error %v", current, err)
	}
	sqls := c.Statements()
	if len(sqls) != 1 {
		t.Fatalf("the check ran %d statements, want 1: %q", len(sqls), sqls)
	}
	rows, err := pool.Query(t.Context(), "EXPLAIN (ANALYZE, FORMAT JSON) "+sqls[0], pgx.QueryExecModeExec, "d")
	if err != nil {
		t.Fatal(err)
	}
	plans, err := pgx.CollectRows(rows, pgx.RowTo[[]map[string]any])
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]float64{}
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if rel, ok := n["Relation Name"].(string); ok {
			read[rel] += n["Actual Rows"].(float64) * n["Actual Loops"].(float64)
		}
		subs, _ := n["Plans"].([]any)
		for _, p := range subs {
			walk(p.(map[string]any))
		}
	}
	walk(plans[0][0]["Plan"].(map[string]any))
	if _, ok := read["flamingock_checkpoint"]; !ok {
		t.Fatalf("the plan reads no checkpoint: %v", read)
	}
	if n := read["flamingock_audit"]; n > 1 {
		t.Errorf("the check read %v rows of the audit table, want at most 1 (its highest seq): plan reads %v", n, read)
	}
}

// TestFirstUseConcurrentlyGuardsCheckpoints opens many stores at once on a
// fresh schema: all succeed, the triggers exist once, and a checkpoint
// saved by any of them is current for every other.
func TestFirstUseConcurrentlyGuardsCheckpoints(t *testing.T) {
	srv := newServer(t)
	schema := srv.schema(t)
	const n = 20
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), srv.dsn, postgres.WithSchema(schema))
			if errs[i] != nil {
				return
			}
			if i%2 == 0 {
				_, _, errs[i] = stores[i].SnapshotUnlessCurrent(t.Context(), "d")
			} else {
				errs[i] = stores[i].SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "early", Seq: 1})
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if stores[i] != nil {
			t.Cleanup(func() { stores[i].Close() })
		}
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	g := guarded{srv: srv, schema: schema, table: pgx.Identifier{schema, "flamingock_audit"}.Sanitize()}
	names, _, funcs := g.triggers(t)
	if len(names) != 3 || len(funcs) != 1 {
		t.Errorf("the audit table has triggers %v on %d functions, want 3 on 1", names, len(funcs))
	}
	tip := appendApplied(t, stores[0], "a")
	if err := stores[1].SaveCheckpoint(t.Context(), audit.Checkpoint{Digest: "d", Seq: tip}); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, current, err := s.SnapshotUnlessCurrent(t.Context(), "d"); err != nil || !current {
			t.Errorf("store %d: current %v, error %v", i, current, err)
		}
	}
}
