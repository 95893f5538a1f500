package rabbitmq_test

import (
	"context"
	"log"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/flamingock/flamingock-go/ensure/rabbitmq"
)

var (
	orders  = rabbitmq.Exchange{Name: "orders", Kind: "topic", Durable: true}
	billing = rabbitmq.Queue{Name: "billing.orders", Durable: true, Args: amqp.Table{"x-queue-type": "quorum"}}
	route   = rabbitmq.Binding{Queue: billing.Name, Exchange: orders.Name, Key: "order.*"}
)

// BillingQueue is a change that declares an exchange, a queue and the
// binding between them. Run again, it finds them and changes nothing, so
// it may declare recovery=retry.
//
//flamingock:change id=billing-queue order=3 target=broker recovery=retry rollback=DropBillingQueue
func BillingQueue(ctx context.Context, conn *amqp.Connection) error {
	if _, err := rabbitmq.DeclareExchange(ctx, conn, orders); err != nil {
		return err
	}
	if _, err := rabbitmq.DeclareQueue(ctx, conn, billing); err != nil {
		return err
	}
	_, err := rabbitmq.Bind(ctx, conn, route)
	return err
}

// DropBillingQueue is the rollback of BillingQueue. It leaves the exchange,
// which other queues may use, and refuses to delete a queue that holds
// messages.
func DropBillingQueue(ctx context.Context, conn *amqp.Connection) error {
	if _, err := rabbitmq.Unbind(ctx, conn, route); err != nil {
		return err
	}
	_, err := rabbitmq.RemoveQueue(ctx, conn, billing)
	return err
}

// A change and its rollback. (Not run: it needs a RabbitMQ server.)
func ExampleDeclareQueue() {
	conn, err := amqp.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if err := BillingQueue(ctx, conn); err != nil {
		log.Fatal(err) // a *ensure.ConflictError if billing.orders exists with other settings
	}
	if err := DropBillingQueue(ctx, conn); err != nil {
		log.Fatal(err) // matches ensure.ErrNotEmpty if the queue holds messages
	}
}
