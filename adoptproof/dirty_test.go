package adoptproof

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

// dirtyAt is the index in postgresHistory of the version golang-migrate
// fails in the middle of: create_tags, whose first statement creates tags
// and whose second user_tags.
const dirtyAt = 8

// brokenUserTags is the second statement of create_tags as the broken
// release shipped it: it references a table that does not exist, so it
// fails after tags was created.
const brokenUserTags = "CREATE TABLE user_tags (user_id bigint NOT NULL REFERENCES users (id), tag_id bigint NOT NULL REFERENCES no_such_table (id));"

// proveDirtyAdoption: golang-migrate fails in the middle of a version and
// leaves it dirty; the application's first start imports the versions
// before it, stops on an issue naming that version's change and applies
// nothing; an operator repairs the database by hand, either way, and
// resolves the issue through the flamingock CLI; the next start applies
// the rest, ending with the schema of golang-migrate applying every file.
func proveDirtyAdoption(t *testing.T, a app, srv *pgtest.Server) {
	h := postgresHistory
	dirty := h[dirtyAt]
	ref := postgresDatabase(t, srv)
	if err := migrateUp(migratePostgres(false), ref.db, h.migrateFS()); err != nil {
		t.Fatal(err)
	}
	want := ref.schema(t)
	cli := buildCLI(t)

	tests := []struct {
		resolution string
		// repair is what the operator runs by hand first.
		repair string
		// applied is how many changes the start after the resolution
		// applies: the dirty one too when it was rolled back.
		applied int
	}{
		{resolution: "applied", repair: strings.SplitAfter(dirty.up, ";\n")[1], applied: len(h) - dirtyAt - 1},
		{resolution: "rolled-back", repair: "DROP TABLE tags;", applied: len(h) - dirtyAt},
	}
	for _, tt := range tests {
		t.Run(tt.resolution, func(t *testing.T) {
			db := postgresDatabase(t, srv)
			// The release before the broken one, migrated as usual.
			if err := migrateUp(migratePostgres(false), db.db, h[:dirtyAt].migrateFS()); err != nil {
				t.Fatal(err)
			}
			// The broken release: golang-migrate sends its file statement
			// by statement (as x-multi-statement does), so the first one
			// stays when the second fails, and the version stays dirty.
			broken := append(history{}, h[:dirtyAt+1]...)
			broken[dirtyAt].up = strings.SplitAfter(dirty.up, ";\n")[0] + brokenUserTags
			if err := migrateUp(migratePostgres(true), db.db, broken.migrateFS()); err == nil {
				t.Fatal("migrate up of the broken release succeeded")
			}
			if got, want := queryRows(t, db.db, "SELECT version, dirty FROM schema_migrations"), []string{dirty.version + " true"}; !cmp.Equal(got, want) {
				t.Fatalf("schema_migrations = %q, want %q", got, want)
			}
			kept := queryRows(t, db.db, "SELECT version, dirty FROM schema_migrations")
			schema := db.schema(t)

			// The first start stops on the dirty version, applying nothing.
			r := a.start(t, "-store", db.arg, "-import", "migrate")
			if r.code == 0 || !strings.Contains(r.stderr, dirty.id()) {
				t.Fatalf("first start: exit status %d, stderr %q: want a failure naming %s\n%s", r.code, r.stderr, dirty.id(), r.stdout)
			}
			store := db.store(t)
			entries := trail(t, store)
			var got []string
			for _, e := range entries {
				got = append(got, e.ChangeID+" "+string(e.State))
			}
			var wantTrail []string
			for _, m := range h[:dirtyAt] {
				wantTrail = append(wantTrail, m.id()+" "+string(audit.StateManualApplied))
			}
			wantTrail = append(wantTrail, dirty.id()+" "+string(audit.StateFailed))
			if diff := cmp.Diff(wantTrail, got); diff != "" {
				t.Fatalf("trail after the first start (-want +got):\n%s", diff)
			}
			if last := entries[len(entries)-1]; last.Recovery != audit.RecoveryManual {
				t.Errorf("%s: recovery %q, want %q: an issue only an operator resolves", dirty.id(), last.Recovery, audit.RecoveryManual)
			}
			if diff := cmp.Diff(schema, db.schema(t)); diff != "" {
				t.Errorf("the first start changed the schema (-before +after):\n%s", diff)
			}

			// The operator: what blocks, the repair, the resolution.
			storeFlags := []string{"--store", db.arg, "--schema", "flamingock"}
			issues := run(t, cli, append([]string{"issue", "list"}, storeFlags...)...)
			if issues.code != 3 || !strings.Contains(issues.stdout, dirty.id()) {
				t.Fatalf("flamingock issue list: exit status %d, want 3 and %s listed\n%s%s", issues.code, dirty.id(), issues.stdout, issues.stderr)
			}
			if _, err := db.db.Exec(tt.repair); err != nil {
				t.Fatalf("repair %s: %v", tt.repair, err)
			}
			fix := run(t, cli, append([]string{"audit", "fix", dirty.id(), "--resolution", tt.resolution,
				"--reason", "migrate left " + dirty.version + " dirty; repaired by hand", "--operator", "ops@example.com"}, storeFlags...)...)
			if fix.code != 0 {
				t.Fatalf("flamingock audit fix: exit status %d\n%s%s", fix.code, fix.stdout, fix.stderr)
			}

			if out := a.startOK(t, "-store", db.arg, "-import", "migrate"); out != applied(h, tt.applied) {
				t.Errorf("start after the resolution printed %q, want %q", out, applied(h, tt.applied))
			}
			if diff := cmp.Diff(want, db.schema(t)); diff != "" {
				t.Errorf("schema of the adopted database (-migrate applying all %d, +adopted):\n%s", len(h), diff)
			}
			if diff := cmp.Diff(kept, queryRows(t, db.db, "SELECT version, dirty FROM schema_migrations")); diff != "" {
				t.Errorf("schema_migrations changed (-before +after):\n%s", diff)
			}
		})
	}
}
