package adopt

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// An app is a world with an audit store in the same database, whose
// changes count their executions.
type app struct {
	*world
	store interface {
		audit.Store
		sqltarget.SharedStore
	}
	ran map[string]int
}

// apps runs f with an app on SQLite, and on PostgreSQL when one is
// configured.
func apps(t *testing.T, f func(t *testing.T, a *app)) {
	t.Run("sqlite", func(t *testing.T) {
		store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "app.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		f(t, &app{world: &world{dialect: SQLite, db: store.DB()}, store: store, ran: map[string]int{}})
	})
	t.Run("postgres", func(t *testing.T) {
		w := pgWorld(t)
		store, err := postgres.New(context.Background(), w.srv.Pool(t), postgres.WithSchema(w.schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		f(t, &app{world: w, store: store, ran: map[string]int{}})
	})
}

// runner runs the changes of these orders, in stage "schema", importing
// with imp.
func (a *app) runner(t *testing.T, imp pipeline.Importer, orders ...uint64) *pipeline.Runner {
	t.Helper()
	var cs []pipeline.Change
	for _, o := range orders {
		id := fmt.Sprintf("c%d", o)
		cs = append(cs, pipeline.NewChange(
			pipeline.Meta{ID: id, Order: audit.OrderOf(o), Author: "tester", Target: "appdb"},
			pipeline.Target[*sql.Tx](sqltarget.Shared(a.store)),
			func(context.Context, *sql.Tx) error { a.ran[id]++; return nil },
			nil,
		))
	}
	r, err := pipeline.New(a.store, []pipeline.Stage{{Name: "schema", Changes: cs}},
		pipeline.WithImport(imp), pipeline.WithLockWait(time.Minute, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// trail is every entry of the store: change, state, recovery, operator,
// reason and metadata.
func (a *app) trail(t *testing.T) []string {
	t.Helper()
	h, err := a.store.History(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range h {
		// PostgreSQL's jsonb spaces the metadata out.
		var md bytes.Buffer
		if len(e.Metadata) > 0 {
			if err := json.Compact(&md, e.Metadata); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, fmt.Sprintf("%s %s %s %q %q %s", e.ChangeID, e.State, e.Recovery, e.Operator, e.Reason, md.String()))
	}
	return out
}

func TestRunImportsGooseAndRunsOnlyTheNewChanges(t *testing.T) {
	apps(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		a.gooseTable(t, "goose_db_version")
		a.gooseRows(t, "goose_db_version", gooseRow{1, true, "2024-01-01 10:00:00"}, gooseRow{2, true, "2024-01-02 10:00:00"})
		imp := Goose(a.db, a.dialect)
		if _, err := a.runner(t, imp, 1, 2, 3).Run(ctx); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(map[string]int{"c3": 1}, a.ran); d != "" {
			t.Errorf("executions (-want +got):\n%s", d)
		}
		imported := []string{
			`c1 MANUAL_MARKED_AS_APPLIED MANUAL "goose import" "imported from goose_db_version version 1" ` + gooseMeta("1", "2024-01-01T10:00:00Z"),
			`c2 MANUAL_MARKED_AS_APPLIED MANUAL "goose import" "imported from goose_db_version version 2" ` + gooseMeta("2", "2024-01-02T10:00:00Z"),
		}
		trail := a.trail(t)
		if d := cmp.Diff(imported, trail[:2]); d != "" {
			t.Errorf("imported entries (-want +got):\n%s", d)
		}
		if len(trail) != 3 {
			t.Errorf("trail %q, want the two imported entries and c3's", trail)
		}

		// A later release with a new change imports nothing again.
		if _, err := a.runner(t, imp, 1, 2, 3, 4).Run(ctx); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(map[string]int{"c3": 1, "c4": 1}, a.ran); d != "" {
			t.Errorf("executions (-want +got):\n%s", d)
		}
		if d := cmp.Diff(trail, a.trail(t)[:3]); d != "" {
			t.Errorf("entries before the second run changed (-want +got):\n%s", d)
		}
	})
}

func TestRunStopsAtADirtyGolangMigrateVersion(t *testing.T) {
	apps(t, func(t *testing.T, a *app) {
		a.migrateTable(t, "schema_migrations", version(2), true)
		_, err := a.runner(t, Migrate(a.db, a.dialect), 1, 2, 3).Run(context.Background())
		var issues *pipeline.IssuesError
		if !errors.As(err, &issues) {
			t.Fatalf("Run: %v, want an *IssuesError", err)
		}
		if len(issues.Issues) != 1 || issues.Issues[0].ChangeID != "c2" {
			t.Errorf("issues %+v, want one, of c2", issues.Issues)
		}
		if len(a.ran) != 0 {
			t.Errorf("executions %v, want none", a.ran)
		}
		want := []string{
			`c1 MANUAL_MARKED_AS_APPLIED MANUAL "golang-migrate import" "imported from schema_migrations version 1 (golang-migrate applies every version up to its current one, 2)" ` + migrateMeta("1"),
			`c2 FAILED MANUAL "golang-migrate import" "golang-migrate left schema_migrations dirty at version 2: the migration of that version started and did not finish, its outcome is unknown; check the database, then resolve this change with flamingock audit fix" ` + migrateMeta("2"),
		}
		if d := cmp.Diff(want, a.trail(t)); d != "" {
			t.Errorf("trail (-want +got):\n%s", d)
		}
	})
}

func TestRunRefusesAHistoryThatDisagreesWritingNothing(t *testing.T) {
	apps(t, func(t *testing.T, a *app) {
		a.gooseTable(t, "goose_db_version")
		a.gooseRows(t, "goose_db_version", gooseRow{1, true, "2024-01-01 10:00:00"}, gooseRow{9, true, "2024-01-02 10:00:00"})
		_, err := a.runner(t, Goose(a.db, a.dialect), 1, 2).Run(context.Background())
		if !errors.Is(err, pipeline.ErrImport) || !errors.Is(err, ErrMismatch) {
			t.Fatalf("Run: %v, want ErrImport and ErrMismatch", err)
		}
		wantErr(t, err, "goose_db_version", "version 9", `stage "schema"`)
		if len(a.ran) != 0 {
			t.Errorf("executions %v, want none", a.ran)
		}
		if trail := a.trail(t); len(trail) != 0 {
			t.Errorf("trail %q, want it empty", trail)
		}
	})
}
