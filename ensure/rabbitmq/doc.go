// Package rabbitmq declares RabbitMQ exchanges, queues and bindings, and
// removes them, so that a change doing so can be run again safely.
//
// Each helper looks first (a passive declare) and writes only what is
// missing:
//
//	DeclareExchange, DeclareQueue  absent: declared; present: must be equivalent
//	Bind                           declared (AMQP does not say whether it held)
//	RemoveExchange                 absent: nothing; equivalent and unused: deleted
//	RemoveQueue                    absent: nothing; equivalent, empty, unused: deleted
//	Unbind                         queue or exchange absent: nothing; else removed
//
// "Equivalent" is RabbitMQ's own test: declaring an existing exchange or
// queue again with other settings is refused with 406 PRECONDITION_FAILED,
// and a helper turns that into a *ensure.ConflictError carrying the
// server's text ("inequivalent arg 'durable' for queue 'orders' in vhost
// '/': received 'false' but current is 'true'"), without changing
// anything. The server compares the flags and the arguments it knows
// (x-queue-type, x-message-ttl, x-max-length, alternate-exchange…); it
// ignores an argument it does not know, and so do the helpers.
//
// # Connections and channels
//
// The helpers take a *amqp.Connection and open a channel of their own for
// each AMQP operation, closed after: a 404 or a 406 closes the channel it
// happens on, so a channel shared with the application would be lost to
// it. A closed connection gives an error that names the resource and
// matches amqp.ErrClosed.
//
// The context is checked before each operation, but an operation, once
// sent, cannot be cancelled: amqp091-go's calls take no context and wait
// for the server's answer (or the connection's end).
//
// # Retry safety
//
// A change may declare recovery=retry only if running it again after it ran
// partly or fully gives the same end state and no extra effect. A change
// made of these helpers does: declaring what exists already changes
// nothing, a state nobody declared stops the change with a conflict
// instead of being overwritten, and a removal refuses a queue that holds
// messages. Publishing messages is not retry-safe (a retry publishes them
// again, and after a crash only a person can say whether they were): such
// a change stays recovery=manual.
//
// A change and its rollback:
//
//	var (
//		orders  = rabbitmq.Exchange{Name: "orders", Kind: "topic", Durable: true}
//		billing = rabbitmq.Queue{Name: "billing.orders", Durable: true,
//			Args: amqp.Table{"x-queue-type": "quorum"}}
//		route   = rabbitmq.Binding{Queue: billing.Name, Exchange: orders.Name, Key: "order.*"}
//	)
//
//	//flamingock:change id=billing-queue order=3 target=broker recovery=retry rollback=DropBillingQueue
//	func BillingQueue(ctx context.Context, conn *amqp.Connection) error {
//		if _, err := rabbitmq.DeclareExchange(ctx, conn, orders); err != nil {
//			return err
//		}
//		if _, err := rabbitmq.DeclareQueue(ctx, conn, billing); err != nil {
//			return err
//		}
//		_, err := rabbitmq.Bind(ctx, conn, route)
//		return err
//	}
//
//	func DropBillingQueue(ctx context.Context, conn *amqp.Connection) error {
//		if _, err := rabbitmq.Unbind(ctx, conn, route); err != nil {
//			return err
//		}
//		_, err := rabbitmq.RemoveQueue(ctx, conn, billing)
//		return err
//	}
package rabbitmq
