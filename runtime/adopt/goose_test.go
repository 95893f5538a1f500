package adopt

import (
	"context"
	"errors"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func gooseMeta(version, at string) string {
	return `{"imported":{"tool":"goose","table":"goose_db_version","version":"` + version + `","applied_at":"` + at + `"}}`
}

func TestGooseImportsWhatGooseApplied(t *testing.T) {
	worlds(t, func(t *testing.T, w *world) {
		w.gooseTable(t, "goose_db_version")
		w.gooseRows(t, "goose_db_version",
			gooseRow{1, true, "2024-01-01 10:00:00"},
			gooseRow{2, true, "2024-01-02 10:00:00"},
			gooseRow{2, false, "2024-01-03 10:00:00"}, // rolled back,
			gooseRow{2, true, "2024-01-04 10:00:00"},  // and applied again: the newest row decides
			gooseRow{3, true, "2024-01-05 10:00:00"},
			gooseRow{4, true, "2024-01-06 10:00:00"},
			gooseRow{4, false, "2024-01-07 10:00:00"}, // rolled back: flamingock runs it
		)
		before := w.dump(t, "goose_db_version")
		var rec recorder
		err := Goose(w.db, w.dialect).Import(context.Background(), rec.request(planned("schema", 1, 2, 3, 4, 5)))
		if err != nil {
			t.Fatal(err)
		}
		if rec.calls != 1 {
			t.Errorf("Record called %d times, want once", rec.calls)
		}
		diffMarks(t, rec.marks, []markSummary{
			{"c1", false, "goose import", "imported from goose_db_version version 1", gooseMeta("1", "2024-01-01T10:00:00Z")},
			{"c2", false, "goose import", "imported from goose_db_version version 2", gooseMeta("2", "2024-01-04T10:00:00Z")},
			{"c3", false, "goose import", "imported from goose_db_version version 3", gooseMeta("3", "2024-01-05T10:00:00Z")},
		})
		if after := w.dump(t, "goose_db_version"); after != before {
			t.Errorf("the old table changed:\n%s\nwas\n%s", after, before)
		}
	})
}

func TestGooseImportIsIdempotent(t *testing.T) {
	worlds(t, func(t *testing.T, w *world) {
		w.gooseTable(t, "goose_db_version")
		w.gooseRows(t, "goose_db_version", gooseRow{1, true, "2024-01-01 10:00:00"}, gooseRow{2, true, "2024-01-02 10:00:00"})
		imp := Goose(w.db, w.dialect)

		t.Run("every version has an entry", func(t *testing.T) {
			changes := withEntry(withEntry(planned("schema", 1, 2, 3), "c1", audit.StateManualApplied), "c2", audit.StateApplied)
			var rec recorder
			if err := imp.Import(context.Background(), rec.request(changes)); err != nil {
				t.Fatal(err)
			}
			if rec.calls != 0 {
				t.Errorf("Record called with %v, want no call", summarize(t, rec.marks))
			}
		})
		t.Run("a partial import is completed", func(t *testing.T) {
			changes := withEntry(planned("schema", 1, 2, 3), "c1", audit.StateManualApplied)
			var rec recorder
			if err := imp.Import(context.Background(), rec.request(changes)); err != nil {
				t.Fatal(err)
			}
			diffMarks(t, rec.marks, []markSummary{
				{"c2", false, "goose import", "imported from goose_db_version version 2", gooseMeta("2", "2024-01-02T10:00:00Z")},
			})
		})
	})
}

func TestGooseRefusesAHistoryThatDisagrees(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rows    []gooseRow
		changes []pipeline.PlannedChange
		want    []string
	}{{
		name:    "a version that is no change of the stage",
		rows:    []gooseRow{{1, true, "2024-01-01 10:00:00"}, {7, true, "2024-01-02 10:00:00"}},
		changes: planned("schema", 1, 2, 3),
		want:    []string{"goose_db_version", `version 7 is applied in goose_db_version but stage "schema" has no change of order 7`},
	}, {
		name:    "a change between imported versions that goose never applied",
		rows:    []gooseRow{{1, true, "2024-01-01 10:00:00"}, {3, true, "2024-01-02 10:00:00"}},
		changes: planned("schema", 1, 2, 3, 4),
		want:    []string{"goose_db_version", `change "c2" (order 2) lies below version 3, the last goose applied, but goose never applied it`},
	}, {
		name:    "a change between imported versions that goose rolled back",
		rows:    []gooseRow{{1, true, "2024-01-01 10:00:00"}, {2, true, "2024-01-01 10:00:00"}, {3, true, "2024-01-02 10:00:00"}, {2, false, "2024-01-02 10:00:00"}},
		changes: planned("schema", 1, 2, 3),
		want:    []string{`change "c2" (order 2) lies below version 3`},
	}, {
		name:    "an imported version whose change the trail says is rolled back",
		rows:    []gooseRow{{1, true, "2024-01-01 10:00:00"}, {2, true, "2024-01-02 10:00:00"}},
		changes: withEntry(planned("schema", 1, 2, 3), "c2", audit.StateRolledBack),
		want:    []string{"goose_db_version", `version 2 is applied in goose_db_version but change "c2" (order 2) is ROLLED_BACK in the trail`, "flamingock audit fix"},
	}, {
		name:    "a negative version",
		rows:    []gooseRow{{-3, true, "2024-01-01 10:00:00"}},
		changes: planned("schema", 1),
		want:    []string{"version -3 is no order"},
	}, {
		name:    "every problem at once",
		rows:    []gooseRow{{1, true, "2024-01-01 10:00:00"}, {3, true, "2024-01-02 10:00:00"}, {9, true, "2024-01-02 10:00:00"}},
		changes: planned("schema", 1, 2, 3),
		want:    []string{"version 9 is applied", `change "c2" (order 2)`},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			worlds(t, func(t *testing.T, w *world) {
				w.gooseTable(t, "goose_db_version")
				w.gooseRows(t, "goose_db_version", tt.rows...)
				before := w.dump(t, "goose_db_version")
				var rec recorder
				err := Goose(w.db, w.dialect).Import(context.Background(), rec.request(tt.changes))
				wantErr(t, err, append([]string{"nothing recorded", `stage "schema"`}, tt.want...)...)
				if !errors.Is(err, ErrMismatch) {
					t.Errorf("error %v is not ErrMismatch", err)
				}
				if rec.calls != 0 {
					t.Errorf("Record called with %v", summarize(t, rec.marks))
				}
				if after := w.dump(t, "goose_db_version"); after != before {
					t.Errorf("the old table changed:\n%s\nwas\n%s", after, before)
				}
			})
		})
	}
}

func TestGooseRefusesAMissingOrForeignTable(t *testing.T) {
	worlds(t, func(t *testing.T, w *world) {
		var rec recorder
		err := Goose(w.db, w.dialect).Import(context.Background(), rec.request(planned("schema", 1)))
		wantErr(t, err, "goose_db_version not found", "drop pipeline.WithImport", "adopt.WithTable")
		if !errors.Is(err, ErrNoTable) {
			t.Errorf("error %v is not ErrNoTable", err)
		}

		w.exec(t, "CREATE TABLE versions (id integer, version text)")
		err = Goose(w.db, w.dialect, WithTable("versions")).Import(context.Background(), rec.request(planned("schema", 1)))
		wantErr(t, err, "table versions is not goose's", "id", "version_id")
		if rec.calls != 0 {
			t.Errorf("Record called with %v", summarize(t, rec.marks))
		}
	})
}

func TestGooseTableOption(t *testing.T) {
	worlds(t, func(t *testing.T, w *world) {
		name := "Goose_History" // goose pastes it unquoted: PostgreSQL folds it
		w.gooseTable(t, name)
		w.gooseRows(t, name, gooseRow{1, true, "2024-01-01 10:00:00"})
		var rec recorder
		if err := Goose(w.db, w.dialect, WithTable(name)).Import(context.Background(), rec.request(planned("schema", 1, 2))); err != nil {
			t.Fatal(err)
		}
		diffMarks(t, rec.marks, []markSummary{{"c1", false, "goose import", "imported from Goose_History version 1",
			`{"imported":{"tool":"goose","table":"Goose_History","version":"1","applied_at":"2024-01-01T10:00:00Z"}}`}})
	})
}

func TestGooseSchemaQualifiedTable(t *testing.T) {
	w := pgWorld(t)
	other := w.srv.Schema(t)
	w.srv.Exec(t, `CREATE SCHEMA "`+other+`"`)
	name := other + ".goose_db_version"
	w.gooseTable(t, name)
	w.gooseRows(t, name, gooseRow{5, true, "2024-01-01 10:00:00"})
	var rec recorder
	if err := Goose(w.db, w.dialect, WithTable(name)).Import(context.Background(), rec.request(planned("schema", 5, 6))); err != nil {
		t.Fatal(err)
	}
	if got := summarize(t, rec.marks); len(got) != 1 || got[0].ChangeID != "c5" {
		t.Errorf("marks %v, want c5", got)
	}
}
