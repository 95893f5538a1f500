package sqlite_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
)

// FuzzDecodeEntry writes arbitrary values into a raw row of the audit
// table, bypassing Append, and checks that Snapshot and History return
// either entries that validate or an error matching audit.ErrCorrupt:
// never a panic, never an untrustworthy entry.
//
// wrongCol names a column (by its index in the table, 1 to 20) that gets
// the text wrong instead of its value, for a table that would accept it
// (the store's are STRICT, so an INTEGER column refuses it); other values
// disable it.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(int64(1), "exec", "s1", "c1", int64(1), "STARTED", int64(1700000000000), int64(0), "NON_TX", "MANUAL", "", "", "", false, uint8(0), "")
	f.Add(int64(1), "exec", "s1", "c1", int64(1), "MANUAL_MARKED_AS_APPLIED", int64(1), int64(5), "SHARED_TX", "RETRY", "op", "why", `{"k":[1]}`, false, uint8(0), "")
	f.Add(int64(2), "exec", "s1", "c1", int64(1), "APPLIED", int64(1), int64(0), "SHARED_TX", "MANUAL", "", "", "", true, uint8(0), "")
	f.Add(int64(1), "", "s1", "c1", int64(1), "DONE", int64(0), int64(-1), "LATER", "NEVER", "", "", "[1]", false, uint8(0), "")
	f.Add(int64(1), "exec", "s1", "c1", int64(1), "APPLIED", int64(1), int64(0), "SHARED_TX", "MANUAL", "", "", "", true, uint8(1), "one")
	f.Add(int64(1), "exec", "s1", "c1", int64(1), "APPLIED", int64(1), int64(0), "SHARED_TX", "MANUAL", "", "", "", true, uint8(8), "noon")
	f.Add(int64(1), "exec", "s1", "c1", int64(1), "APPLIED", int64(1), int64(0), "SHARED_TX", "MANUAL", "", "", "", true, uint8(9), "1.5")

	s, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "audit.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	db := s.DB()

	f.Fuzz(func(t *testing.T, version int64, execID, stage, changeID string, order int64, state string, ms, duration int64,
		strategy, recovery, operator, reason, metadata string, nullMetadata bool, wrongCol uint8, wrong string) {
		values := []any{version, execID, stage, changeID, order, "author", state, ms, duration, "host", "runner",
			"target", strategy, recovery, "sum", "", "", operator, reason, metadata}
		if nullMetadata {
			values[19] = nil
		}
		if 1 <= wrongCol && int(wrongCol) <= len(values) {
			values[wrongCol-1] = wrong
		}
		if _, err := db.ExecContext(t.Context(), `DELETE FROM flamingock_audit`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), `INSERT INTO flamingock_audit ("schema_version", "execution_id", "stage",
			"change_id", "change_order", "author", "state", "time", "duration", "host", "runner_id", "target_id",
			"strategy", "recovery", "checksum", "error_message", "error_kind", "operator", "reason", "metadata")
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, values...); err != nil {
			// The tables are STRICT: a value of the wrong type is refused
			// on the way in, so no read can meet it.
			return
		}
		for name, read := range map[string]func() ([]audit.Entry, error){
			"snapshot": func() ([]audit.Entry, error) { return s.Snapshot(t.Context()) },
			"history":  func() ([]audit.Entry, error) { return s.History(t.Context(), audit.Filter{}) },
		} {
			got, err := read()
			if err != nil {
				if !errors.Is(err, audit.ErrCorrupt) {
					t.Fatalf("%s: %v, want an error matching audit.ErrCorrupt", name, err)
				}
				if got != nil {
					t.Errorf("%s returned %d entries with its error", name, len(got))
				}
				continue
			}
			if len(got) != 1 {
				t.Fatalf("%s: %d entries, want the one row", name, len(got))
			}
			if err := got[0].Validate(); err != nil {
				t.Errorf("%s returned an invalid entry %+v: %v", name, got[0], err)
			}
		}
	})
}
