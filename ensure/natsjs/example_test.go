package natsjs_test

import (
	"context"
	"log"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flamingock/flamingock-go/ensure/natsjs"
)

var ordersStream = jetstream.StreamConfig{
	Name:     "ORDERS",
	Subjects: []string{"orders.>"},
	MaxAge:   24 * time.Hour,
}

// OrdersStream is a change that creates the ORDERS stream. Run again, it
// finds the stream as it left it and writes nothing, so it may declare
// recovery=retry.
//
//flamingock:change id=orders-stream order=2 target=events recovery=retry rollback=DropOrdersStream
func OrdersStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := natsjs.Stream(ctx, js, ordersStream)
	return err
}

// DropOrdersStream is the rollback of OrdersStream: it refuses to delete a
// stream that holds messages.
func DropOrdersStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := natsjs.RemoveStream(ctx, js, ordersStream)
	return err
}

// OrdersRetention keeps orders a week instead of a day; its rollback would
// be the same call with from and to swapped.
//
//flamingock:change id=orders-retention order=3 target=events recovery=retry
func OrdersRetention(ctx context.Context, js jetstream.JetStream) error {
	week := ordersStream
	week.MaxAge = 7 * 24 * time.Hour
	_, err := natsjs.UpdateStream(ctx, js, ordersStream, week)
	return err
}

// A change creating a stream and a durable consumer of it. (Not run: it
// needs a NATS server.)
func ExampleStream() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := OrdersStream(ctx, js); err != nil {
		log.Fatal(err)
	}
	outcome, err := natsjs.Consumer(ctx, js, "ORDERS", jetstream.ConsumerConfig{
		Durable:       "billing",
		FilterSubject: "orders.created",
		AckWait:       time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("consumer billing: %v", outcome) // created, then unchanged
}

// Moving a stream from one configuration to another. (Not run: it needs a
// NATS server.)
func ExampleUpdateStream() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	if err := OrdersRetention(context.Background(), js); err != nil {
		log.Fatal(err) // a *ensure.ConflictError if someone else changed ORDERS
	}
}
