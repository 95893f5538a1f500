package pgxtarget_test

import (
	"testing"

	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
)

// TestSharedOnAStoreLeftUnset: a *postgres.Store variable never assigned
// is a store left unset, reported like a nil one, not a panic.
func TestSharedOnAStoreLeftUnset(t *testing.T) {
	var store *postgres.Store
	_, err := pgxtarget.Shared(store).Strategy(true)
	if err == nil || err.Error() != "pgxtarget: nil audit store" {
		t.Fatalf("Strategy error = %v, want pgxtarget: nil audit store", err)
	}
}
