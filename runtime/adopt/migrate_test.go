package adopt

import (
	"context"
	"errors"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func migrateMeta(version string) string {
	return `{"imported":{"tool":"golang-migrate","table":"schema_migrations","version":"` + version + `"}}`
}

func version(v int64) *int64 { return &v }

func TestMigrateImportsEveryVersionUpToTheCurrentOne(t *testing.T) {
	const up = "golang-migrate applies every version up to its current one, 20240103"
	for _, tt := range []struct {
		name    string
		version *int64
		dirty   bool
		changes []pipeline.PlannedChange
		want    []markSummary
	}{{
		name:    "clean",
		version: version(20240103),
		changes: planned("schema", 20240101, 20240102, 20240103, 20240104),
		want: []markSummary{
			{"c20240101", false, "golang-migrate import", "imported from schema_migrations version 20240101 (" + up + ")", migrateMeta("20240101")},
			{"c20240102", false, "golang-migrate import", "imported from schema_migrations version 20240102 (" + up + ")", migrateMeta("20240102")},
			{"c20240103", false, "golang-migrate import", "imported from schema_migrations version 20240103", migrateMeta("20240103")},
		},
	}, {
		name:    "dirty: the current version is uncertain, those below applied",
		version: version(20240103),
		dirty:   true,
		changes: planned("schema", 20240101, 20240103, 20240104),
		want: []markSummary{
			{"c20240101", false, "golang-migrate import", "imported from schema_migrations version 20240101 (" + up + ")", migrateMeta("20240101")},
			{"c20240103", true, "golang-migrate import", "golang-migrate left schema_migrations dirty at version 20240103: the migration of that version started and did not finish, its outcome is unknown; check the database, then resolve this change with flamingock audit fix", migrateMeta("20240103")},
		},
	}, {
		name:    "dirty, the issue imported before: nothing more",
		version: version(20240103),
		dirty:   true,
		changes: withEntry(withEntry(planned("schema", 20240101, 20240103), "c20240101", audit.StateManualApplied), "c20240103", audit.StateFailed),
	}, {
		name:    "empty table: nothing applied",
		changes: planned("schema", 1, 2),
	}} {
		t.Run(tt.name, func(t *testing.T) {
			worlds(t, func(t *testing.T, w *world) {
				w.migrateTable(t, "schema_migrations", tt.version, tt.dirty)
				before := w.dump(t, "schema_migrations")
				var rec recorder
				if err := Migrate(w.db, w.dialect).Import(context.Background(), rec.request(tt.changes)); err != nil {
					t.Fatal(err)
				}
				diffMarks(t, rec.marks, tt.want)
				if after := w.dump(t, "schema_migrations"); after != before {
					t.Errorf("the old table changed:\n%s\nwas\n%s", after, before)
				}
			})
		})
	}
}

func TestMigrateRefusesAHistoryThatDisagrees(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version int64
		dirty   bool
		changes []pipeline.PlannedChange
		want    []string
	}{{
		name:    "a version that is no change of the stage",
		version: 5,
		changes: planned("schema", 1, 2, 3, 6),
		want:    []string{`version 5 is golang-migrate's current version in schema_migrations but stage "schema" has no change of order 5`},
	}, {
		name:    "a change below the version that the trail says is rolled back",
		version: 3,
		changes: withEntry(planned("schema", 1, 2, 3), "c2", audit.StateManualRolledBack),
		want:    []string{`version 2 is applied in schema_migrations but change "c2" (order 2) is MANUAL_MARKED_AS_ROLLED_BACK in the trail`},
	}, {
		name:    "golang-migrate's nil version left dirty",
		version: -1,
		dirty:   true,
		changes: planned("schema", 1),
		want:    []string{"version -1 (dirty true) is no order", "migrate force"},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			worlds(t, func(t *testing.T, w *world) {
				w.migrateTable(t, "schema_migrations", &tt.version, tt.dirty)
				var rec recorder
				err := Migrate(w.db, w.dialect).Import(context.Background(), rec.request(tt.changes))
				wantErr(t, err, append([]string{"nothing recorded", "schema_migrations", `stage "schema"`}, tt.want...)...)
				if !errors.Is(err, ErrMismatch) {
					t.Errorf("error %v is not ErrMismatch", err)
				}
				if rec.calls != 0 {
					t.Errorf("Record called with %v", summarize(t, rec.marks))
				}
			})
		})
	}
}

func TestMigrateRefusesATableOfTwoRowsOrMissing(t *testing.T) {
	worlds(t, func(t *testing.T, w *world) {
		var rec recorder
		err := Migrate(w.db, w.dialect).Import(context.Background(), rec.request(planned("schema", 1)))
		wantErr(t, err, "schema_migrations not found")
		if !errors.Is(err, ErrNoTable) {
			t.Errorf("error %v is not ErrNoTable", err)
		}
		w.migrateTable(t, "schema_migrations", version(1), false)
		w.exec(t, "INSERT INTO schema_migrations (version, dirty) VALUES (2, false)")
		err = Migrate(w.db, w.dialect).Import(context.Background(), rec.request(planned("schema", 1, 2)))
		wantErr(t, err, "table schema_migrations has 2 rows, golang-migrate keeps one", "migrate force")
		if rec.calls != 0 {
			t.Errorf("Record called with %v", summarize(t, rec.marks))
		}
	})
}

func TestMigrateLockID(t *testing.T) {
	// The values golang-migrate v4.20's database.GenerateAdvisoryLockId
	// gives, computed from its source (crc32.ChecksumIEEE of the names
	// joined by NUL, times 1486364155 in uint32) with Python's
	// zlib.crc32, not with this package.
	for _, tt := range []struct {
		database, schema, table string
		want                    int64
	}{
		{"/flamingock_test", "public", "schema_migrations", 1597681864},
		{"flamingock_test", "public", "schema_migrations", 951249888},
		{"/shop", "app", "versions", 3597506350},
	} {
		if got := migrateLockID(tt.database, tt.schema, tt.table); got != tt.want {
			t.Errorf("migrateLockID(%q, %q, %q) = %d, want %d", tt.database, tt.schema, tt.table, got, tt.want)
		}
	}
}
