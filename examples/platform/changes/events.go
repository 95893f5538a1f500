package changes

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flamingock/flamingock-go/ensure/natsjs"
)

// ordersStream is the stream as CreateOrdersStream creates it: orders kept
// a day. KeepOrdersAWeek later keeps them a week.
//
// The configurations are functions shared by a change and its undo. Do not
// edit one once it ran: a change's checksum covers its own source, not the
// functions it calls, so flamingock-gen would not see the edit, and the
// environments that applied the old version would keep it. A new state is
// a new change, as KeepOrdersAWeek is.
func ordersStream(n Names) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:     n.Stream(),
		Subjects: n.Subjects(),
		MaxAge:   24 * time.Hour,
	}
}

// ordersStreamWeek is the stream after OrdersRetention.
func ordersStreamWeek(n Names) jetstream.StreamConfig {
	s := ordersStream(n)
	s.MaxAge = 7 * 24 * time.Hour
	return s
}

func billingConsumer(n Names) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       n.Consumer(),
		Description:   "billing reads every order",
		AckPolicy:     jetstream.AckExplicitPolicy,
		FilterSubject: n.Prefix + "orders.>",
	}
}

// CreateOrdersStream is retry-safe: run again after a crash, natsjs.Stream
// finds the stream it created and writes nothing; a stream of that name
// with another configuration is a conflict, not overwritten.
//
//flamingock:change id=orders-stream order=2 target=events author=platform recovery=retry rollback=DropOrdersStream
func CreateOrdersStream(ctx context.Context, js jetstream.JetStream, n Names) error {
	_, err := natsjs.Stream(ctx, js, ordersStream(n))
	return err
}

// DropOrdersStream undoes CreateOrdersStream. It refuses to delete a stream
// that holds messages (ensure.ErrNotEmpty): orders are not thrown away by a
// rollback.
func DropOrdersStream(ctx context.Context, js jetstream.JetStream, n Names) error {
	_, err := natsjs.RemoveStream(ctx, js, ordersStream(n))
	return err
}

// CreateBillingConsumer is retry-safe for the same reason: natsjs.Consumer
// creates the durable consumer only when it is absent.
//
//flamingock:change id=billing-consumer order=3 target=events author=platform recovery=retry rollback=DropBillingConsumer
func CreateBillingConsumer(ctx context.Context, js jetstream.JetStream, n Names) error {
	_, err := natsjs.Consumer(ctx, js, n.Stream(), billingConsumer(n))
	return err
}

// DropBillingConsumer undoes CreateBillingConsumer.
func DropBillingConsumer(ctx context.Context, js jetstream.JetStream, n Names) error {
	_, err := natsjs.RemoveConsumer(ctx, js, n.Stream(), billingConsumer(n))
	return err
}
