// Command platform is the example of one pipeline that evolves more than a
// database: a PostgreSQL table, a NATS JetStream stream and its durable
// consumer, a RabbitMQ exchange, queue and binding, feature flags and
// credit balances in Redis, and an API gateway's route configuration. The
// changes are in package changes, which says which of them are safe to
// retry after a crash, and which are not, and why.
//
// With the four servers running (./scripts/test starts them) and a database
// of its own for the example (createdb -h 127.0.0.1 -U postgres platform),
// one command:
//
//	cd examples/platform && \
//	FLAMINGOCK_STORE='postgres://postgres@127.0.0.1:5432/platform?sslmode=disable' \
//	FLAMINGOCK_NATS=nats://127.0.0.1:4222 \
//	FLAMINGOCK_AMQP=amqp://guest:guest@127.0.0.1:5672/ \
//	FLAMINGOCK_REDIS=redis://127.0.0.1:6379/0 \
//	go run . --gateway-state gateway.json
//
// The first run applies the eight changes and prints "applied 8 change(s),
// 0 already applied", then what each system now holds, read back from the
// servers: the stream's subjects and max age, the consumer, the exchange and
// the queue, the flag and the balances, the gateway's routes. The next runs
// apply none and send nothing to the servers but the reads of that summary.
//
// Every address comes from a flag or its environment variable, and a
// missing one is an error naming both; the example has no default address.
//
//	--store URL          FLAMINGOCK_STORE          PostgreSQL, postgres://…: the audit trail and the orders table
//	--nats URL           FLAMINGOCK_NATS           NATS with JetStream
//	--amqp URL           FLAMINGOCK_AMQP           RabbitMQ
//	--redis URL          FLAMINGOCK_REDIS          Redis
//	--gateway URL        FLAMINGOCK_GATEWAY        a running gateway API (package gateway), or
//	--gateway-state FILE FLAMINGOCK_GATEWAY_STATE  the state file of one the example starts on 127.0.0.1
//
// The gateway stand-in keeps its routes in the state file, so that the
// second run finds what the first one put.
//
// The application's own migrate command (package migrate) is mounted under
// "migrate"; the flags (or their variables) come before it:
//
//	go run . --gateway-state gateway.json migrate status
//	go run . --gateway-state gateway.json migrate plan
//	go run . --gateway-state gateway.json migrate rollback-to create-orders-table
//	go run . --gateway-state gateway.json migrate issue list
package main
