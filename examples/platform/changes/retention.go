package changes

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flamingock/flamingock-go/ensure/natsjs"
)

// KeepOrdersAWeek raises the stream's max age from a day to a week. It is
// retry-safe: natsjs.UpdateStream finds the stream at a week on a retry and
// writes nothing, and refuses a stream that is at neither value.
//
//flamingock:change id=orders-retention order=7 target=events author=platform recovery=retry rollback=KeepOrdersADay
func KeepOrdersAWeek(ctx context.Context, js jetstream.JetStream, n Names) error {
	_, err := natsjs.UpdateStream(ctx, js, ordersStream(n), ordersStreamWeek(n))
	return err
}

// KeepOrdersADay undoes KeepOrdersAWeek.
func KeepOrdersADay(ctx context.Context, js jetstream.JetStream, n Names) error {
	_, err := natsjs.UpdateStream(ctx, js, ordersStreamWeek(n), ordersStream(n))
	return err
}
