package main

import (
	_ "github.com/flamingock/flamingock-go/ensure"
	_ "github.com/flamingock/flamingock-go/runtime/pipeline"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/rabbitmq/amqp091-go"
	_ "github.com/redis/go-redis/v9"
)

func main() {}
