package sqltarget_test

import (
	"testing"

	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// TestSharedOnAStoreLeftUnset: a *sqlite.Store variable never assigned is
// a store left unset, reported like a nil one, not a panic.
func TestSharedOnAStoreLeftUnset(t *testing.T) {
	var store *sqlite.Store
	_, err := sqltarget.Shared(store).Strategy(true)
	if err == nil || err.Error() != "sqltarget: nil audit store" {
		t.Fatalf("Strategy error = %v, want sqltarget: nil audit store", err)
	}
}
