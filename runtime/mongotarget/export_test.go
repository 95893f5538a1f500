package mongotarget

import (
	"context"

	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// WriteMarkerOutsideTx writes m the way a committed transaction leaves it,
// on a server that has no transactions to commit one with.
func (t *Target) WriteMarkerOutsideTx(ctx context.Context, m pipeline.Marker) error {
	return t.markers.write(ctx, m)
}

// AssumeTransactions makes t act as on a server with transactions without
// asking it: BeginSeparate then begins a session transaction instead of
// refusing, so that the parts of the transactional strategy that need no
// transaction on the server (markers, recovery, the session a work's
// Context carries) run against one that has none.
func (t *Target) AssumeTransactions() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.server = &Transactions{Supported: true, Reason: "assumed by a test"}
}
