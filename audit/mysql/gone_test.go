package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mysql"
)

// TestServerGoneMidCall kills the store's connection on the server while
// its append waits for the lease row: the error says the connection was
// lost during the call, does not claim the request had no effect
// (audit.ErrUnavailable), and the trail holds nothing half-recorded.
func TestServerGoneMidCall(t *testing.T) {
	srv := newServer(t)
	p := prefix(t)
	s := open(t, srv.url, mysql.WithTablePrefix(p))
	l, err := s.Acquire(t.Context(), "k", "runner", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the lease row so that the append waits on it.
	tx, err := srv.admin.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(t.Context(), "SELECT * FROM `"+p+"_lock` FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(context.Background(), l, entry("a"))
		done <- err
	}()
	var id int64
	for deadline := time.Now().Add(10 * time.Second); id == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the append never showed in the process list")
		}
		err := srv.admin.QueryRowContext(t.Context(),
			"SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ?", "INSERT INTO `"+p+"_audit`%").Scan(&id)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := srv.admin.ExecContext(t.Context(), "KILL CONNECTION ?", id); err != nil {
		t.Fatal(err)
	}
	err = <-done
	t.Logf("Append: %v", err)
	if err == nil || !strings.Contains(err.Error(), "during the call") || errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Append whose connection was killed = %v, want an error saying the connection was lost during the call", err)
	}
	tx.Rollback()
	if got := srv.count(t, p+"_audit"); got != 0 {
		t.Errorf("the audit table holds %d entries, want none", got)
	}
	// The store reconnects.
	if _, err := s.Append(t.Context(), l, entry("b")); err != nil {
		t.Errorf("Append after the connection was killed: %v", err)
	}
}
