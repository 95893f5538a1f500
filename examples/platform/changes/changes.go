// Package changes is the platform example's stage: one pipeline that
// evolves a PostgreSQL schema, a NATS JetStream stream and its consumer, a
// RabbitMQ exchange, queue and binding, feature flags in Redis and an HTTP
// gateway's route configuration, each change with its undo.
//
// Only the first change runs in a transaction (the audit store's own, see
// runtime/pgxtarget.Shared): it commits with its APPLIED entry or not at
// all. The others reach systems without transactions, so the runner guards
// them with a STARTED entry before and an APPLIED entry after. A crash in
// between leaves the change STARTED, and what the next run does then is the
// change's recovery:
//
//   - recovery=retry: the next run runs it again. That is safe only for a
//     change that, run a second time after it ran partly or fully, reaches
//     the same end state with no extra effect. Every change here built on
//     the ensure helpers (natsjs, rabbitmq, redisflag, httpjson) is: each
//     helper reads first, writes only what differs, and refuses a state it
//     was not told to expect (an ensure.ConflictError) instead of
//     overwriting it.
//   - recovery=manual (the default): the next run stops with an issue until
//     an operator has looked at the system and recorded what happened
//     (flamingock audit fix). That is for appends, which a retry repeats:
//     GrantCredits below.
//
// The names of what the changes create carry Names.Prefix, so that several
// copies of the pipeline (the tests) share the same servers.
package changes

//go:generate go tool flamingock-gen -stage platform

import (
	"net/http"
	"strings"
)

// Names are the names of the resources the changes create, behind one
// prefix: empty in the application, unique per test.
type Names struct {
	Prefix string
}

// Stream is the JetStream stream of orders.
func (n Names) Stream() string { return n.Prefix + "ORDERS" }

// Subjects are the subjects the stream captures.
func (n Names) Subjects() []string { return []string{n.Prefix + "orders.>"} }

// Consumer is the stream's durable consumer. Consumer names are scoped by
// their stream, so it needs no prefix.
func (n Names) Consumer() string { return "billing" }

// Exchange is the RabbitMQ exchange orders are published to.
func (n Names) Exchange() string { return n.Prefix + "orders" }

// Queue is the RabbitMQ queue of the billing service.
func (n Names) Queue() string { return n.Prefix + "billing" }

// RoutingKey is the key that binds Queue to Exchange.
func (n Names) RoutingKey() string { return "orders.created" }

// Flag is the Redis key of the checkout-v2 feature flag.
func (n Names) Flag() string { return n.Prefix + "flag:checkout-v2" }

// Credits is the Redis key of a tenant's credit balance.
func (n Names) Credits(tenant string) string { return n.Prefix + "credits:" + tenant }

// Route is the name of the gateway route of the orders service.
func (n Names) Route() string { return n.Prefix + "orders" }

// Gateway is the handle of the gateway target: the HTTP API that holds the
// gateway's route configuration, one JSON document per route.
type Gateway struct {
	// BaseURL is the API's address, as http://127.0.0.1:8080.
	BaseURL string
	// HTTP is the client the changes use; nil is http.DefaultClient.
	HTTP *http.Client
}

// RouteURL is the URL of route name's document.
func (g *Gateway) RouteURL(name string) string {
	return strings.TrimSuffix(g.BaseURL, "/") + "/routes/" + name
}
