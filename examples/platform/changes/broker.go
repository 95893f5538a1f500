package changes

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/flamingock/flamingock-go/ensure/rabbitmq"
)

func ordersExchange(n Names) rabbitmq.Exchange {
	return rabbitmq.Exchange{Name: n.Exchange(), Kind: amqp.ExchangeTopic, Durable: true}
}

func billingQueue(n Names) rabbitmq.Queue {
	return rabbitmq.Queue{Name: n.Queue(), Durable: true}
}

func billingBinding(n Names) rabbitmq.Binding {
	return rabbitmq.Binding{Queue: n.Queue(), Exchange: n.Exchange(), Key: n.RoutingKey()}
}

// RouteOrdersToBilling declares three things in one change. A crash can
// stop it after any of them, and it is still retry-safe as a whole because
// each step is: a retry finds the exchange (and the queue) as declared and
// writes nothing, and binding an existing binding again is a no-op in AMQP.
//
//flamingock:change id=billing-routing order=4 target=broker author=platform recovery=retry rollback=UnrouteOrdersToBilling
func RouteOrdersToBilling(ctx context.Context, conn *amqp.Connection, n Names) error {
	if _, err := rabbitmq.DeclareExchange(ctx, conn, ordersExchange(n)); err != nil {
		return err
	}
	if _, err := rabbitmq.DeclareQueue(ctx, conn, billingQueue(n)); err != nil {
		return err
	}
	_, err := rabbitmq.Bind(ctx, conn, billingBinding(n))
	return err
}

// UnrouteOrdersToBilling undoes RouteOrdersToBilling in reverse order; each
// step finds what is already gone absent, so it is retry-safe too. A queue
// that holds messages is refused (ensure.ErrNotEmpty), not purged.
func UnrouteOrdersToBilling(ctx context.Context, conn *amqp.Connection, n Names) error {
	if _, err := rabbitmq.Unbind(ctx, conn, billingBinding(n)); err != nil {
		return err
	}
	if _, err := rabbitmq.RemoveQueue(ctx, conn, billingQueue(n)); err != nil {
		return err
	}
	_, err := rabbitmq.RemoveExchange(ctx, conn, ordersExchange(n))
	return err
}
