package changes

import (
	"context"

	"github.com/flamingock/flamingock-go/ensure/httpjson"
)

// OrdersRoute is the gateway's route to the orders service.
var OrdersRoute = []byte(`{"path": "/api/orders", "upstream": "http://orders.internal:8080", "timeout_ms": 3000}`)

// AddOrdersRoute is retry-safe: httpjson.Put reads the route first, finds
// it as wanted on a retry and sends nothing, and refuses a route that
// someone else created meanwhile (the document differs, or its ETag changed
// between the read and the write).
//
//flamingock:change id=orders-route order=6 target=gateway author=platform recovery=retry rollback=RemoveOrdersRoute
func AddOrdersRoute(ctx context.Context, g *Gateway, n Names) error {
	_, err := httpjson.Put(ctx, g.HTTP, g.RouteURL(n.Route()), nil, OrdersRoute)
	return err
}

// RemoveOrdersRoute undoes AddOrdersRoute: it deletes the route only while
// it is the one AddOrdersRoute put.
func RemoveOrdersRoute(ctx context.Context, g *Gateway, n Names) error {
	_, err := httpjson.Put(ctx, g.HTTP, g.RouteURL(n.Route()), OrdersRoute, nil)
	return err
}
