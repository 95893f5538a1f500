package audit_test

import (
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

func TestCheckAcquire(t *testing.T) {
	for _, tt := range []struct {
		key, owner string
		ttl        time.Duration
		want       string
	}{
		{"flamingock", "runner-1", time.Millisecond, ""},
		{"", "runner-1", time.Minute, "acquire lock: empty key"},
		{"flamingock", "", time.Minute, `acquire lock "flamingock": empty owner`},
		{"flamingock", "runner-1", time.Microsecond, `acquire lock "flamingock": ttl 1µs is under a millisecond`},
	} {
		got := ""
		if err := audit.CheckAcquire(tt.key, tt.owner, tt.ttl); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckAcquire(%q, %q, %s) = %q, want %q", tt.key, tt.owner, tt.ttl, got, tt.want)
		}
	}
}
