package sqlite_test

import (
	"path/filepath"
	"slices"
	"testing"
)

// A database made before checkpoints existed gets the checkpoint table on
// the next Open; its trail is left as it was.
func TestOpenAddsTheCheckpointTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := open(t, path)
	if _, err := s.DB().ExecContext(t.Context(), `DROP TABLE "flamingock_checkpoint"`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := schemaNames(t, open(t, path).DB()); !slices.Contains(got, "table flamingock_checkpoint") {
		t.Errorf("after reopening, the schema holds %q, without the checkpoint table", got)
	}
}
