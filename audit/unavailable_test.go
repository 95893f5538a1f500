package audit_test

import (
	"errors"
	"io"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
)

func TestUnavailableKeepsTheCauseAndItsMessage(t *testing.T) {
	err := audit.Unavailable(io.ErrUnexpectedEOF)
	if !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("%v does not match ErrUnavailable", err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("%v lost its cause", err)
	}
	if err.Error() != io.ErrUnexpectedEOF.Error() {
		t.Errorf("message %q, want the cause's %q", err.Error(), io.ErrUnexpectedEOF.Error())
	}
}
