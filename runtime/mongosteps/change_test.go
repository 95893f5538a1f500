package mongosteps_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/runtime/mongosteps"
)

func TestApplyFuncAndUndoFuncRunTheEmbeddedFile(t *testing.T) {
	db := newDB(t, nil)
	const text = `transactional: false
steps:
  - createCollection: {collection: users}
  - insert: {collection: users, documents: [{email: ada@example.com}]}
undo:
  - dropCollection: {collection: users}
`
	apply, undo := mongosteps.ApplyFunc("0001_users.yaml", text), mongosteps.UndoFunc("0001_users.yaml", text)
	if err := apply(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if got := collections(t, db); !slices.Equal(got, []string{"users"}) {
		t.Fatalf("collections after apply: %q, want users", got)
	}
	n, err := db.Collection("users").CountDocuments(t.Context(), map[string]any{})
	if err != nil || n != 1 {
		t.Fatalf("users after apply: %d documents, %v; want 1", n, err)
	}
	if err := undo(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if got := collections(t, db); len(got) != 0 {
		t.Fatalf("collections after undo: %q, want none", got)
	}
	// A second apply parses nothing again and runs the steps again.
	if err := apply(t.Context(), db); err != nil {
		t.Fatal(err)
	}
}

func TestApplyFuncOfAnEditedFileRunsNothingAndSaysWhy(t *testing.T) {
	const text = "steps:\n  - insrt: {collection: users}\n"
	for _, fn := range []mongosteps.ChangeFunc{mongosteps.ApplyFunc("0002_bad.yaml", text), mongosteps.UndoFunc("0002_bad.yaml", text)} {
		for range 2 { // the same answer every time; the nil database is never used
			err := fn(t.Context(), nil)
			var list mongosteps.ErrorList
			if !errors.As(err, &list) || len(list) != 1 || list[0].Line != 2 || list[0].Col != 5 {
				t.Fatalf("error %v: want the ErrorList of Parse, at 2:5", err)
			}
			if !strings.HasPrefix(err.Error(), "embedded steps file 0002_bad.yaml does not parse, so it is not the file flamingock-gen checked: run go generate\n0002_bad.yaml:2:5: unknown operation") {
				t.Errorf("error:\n%v", err)
			}
		}
	}
}
