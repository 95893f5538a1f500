package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

func TestRetry(t *testing.T) {
	unavailable := audit.Unavailable(io.ErrUnexpectedEOF)
	unknown := io.ErrUnexpectedEOF // a connection lost after the request was sent
	tests := []struct {
		name      string
		retryable func(error) bool
		budget    time.Duration
		errs      []error // returned by the successive calls; then success
		// cancelAt cancels the context during that call (1-based), 0 never.
		cancelAt  int
		wantCalls int
		wantErr   error
	}{
		{name: "a call that succeeds is made once",
			retryable: unreached, budget: time.Minute, wantCalls: 1},
		{name: "a write that never reached the store is retried until it succeeds",
			retryable: unreached, budget: time.Minute, errs: []error{unavailable, unavailable, unavailable}, wantCalls: 4},
		{name: "a write whose outcome is unknown is not retried",
			retryable: unreached, budget: time.Minute, errs: []error{unknown}, wantCalls: 1, wantErr: unknown},
		{name: "a write that never reached the store and then one of unknown outcome stops at the second",
			retryable: unreached, budget: time.Minute, errs: []error{unavailable, unknown}, wantCalls: 2, wantErr: unknown},
		{name: "a read is retried after any transient error",
			retryable: idempotent, budget: time.Minute, errs: []error{unknown, unavailable}, wantCalls: 3},
		{name: "a read of a corrupt record is not retried",
			retryable: idempotent, budget: time.Minute, errs: []error{audit.ErrCorrupt}, wantCalls: 1, wantErr: audit.ErrCorrupt},
		{name: "a fenced refresh is not retried",
			retryable: idempotent, budget: time.Minute, errs: []error{audit.ErrFenced}, wantCalls: 1, wantErr: audit.ErrFenced},
		{name: "no budget means no retry",
			retryable: unreached, budget: 0, errs: []error{unavailable}, wantCalls: 1, wantErr: audit.ErrUnavailable},
		{name: "a cancelled context stops the retries",
			retryable: unreached, budget: time.Minute, errs: []error{unavailable, unavailable, unavailable, unavailable},
			cancelAt: 2, wantCalls: 2, wantErr: audit.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			b := backoff{first: time.Millisecond, max: 4 * time.Millisecond, budget: tt.budget,
				logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
			calls := 0
			v, err := retry(ctx, b, "test call", tt.retryable, func(context.Context) (int, error) {
				calls++
				if calls == tt.cancelAt {
					cancel()
				}
				if calls <= len(tt.errs) {
					return 0, tt.errs[calls-1]
				}
				return calls, nil
			})
			if calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
			if tt.wantErr == nil {
				if err != nil || v != calls {
					t.Errorf("retry = %d, %v; want %d, nil", v, err, calls)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("retry error = %v, want one matching %v", err, tt.wantErr)
			}
		})
	}
}
