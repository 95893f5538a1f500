// Package testenv gives tests the external services they need, or skips
// them when a service is not configured.
//
// A service is configured by an environment variable holding its address:
//
//	FLAMINGOCK_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	FLAMINGOCK_TEST_MONGO=mongodb://127.0.0.1:27017
//	FLAMINGOCK_TEST_MYSQL=mysql://root@127.0.0.1:3306/test
//	FLAMINGOCK_TEST_NATS=nats://127.0.0.1:4222 (with JetStream)
//	FLAMINGOCK_TEST_AMQP=amqp://guest:guest@127.0.0.1:5672/
//	FLAMINGOCK_TEST_REDIS=redis://127.0.0.1:6379/0
//
// The MySQL variable holds a store URL (the form audit/storeurl and the
// flamingock CLI take, which mysql.Open accepts too); its database is where
// tests connect, and a test that wants one of its own creates it there.
//
// A test that needs an unconfigured service is skipped, unless
// FLAMINGOCK_REQUIRE_SERVICES=1 (as in CI), where it fails: a CI run that
// silently skipped its integration tests would prove nothing.
package testenv

import (
	"os"
	"testing"
)

// Environment variables read by this package.
const (
	PostgresEnv        = "FLAMINGOCK_TEST_POSTGRES"
	MongoEnv           = "FLAMINGOCK_TEST_MONGO"
	MySQLEnv           = "FLAMINGOCK_TEST_MYSQL"
	NATSEnv            = "FLAMINGOCK_TEST_NATS"
	AMQPEnv            = "FLAMINGOCK_TEST_AMQP"
	RedisEnv           = "FLAMINGOCK_TEST_REDIS"
	RequireServicesEnv = "FLAMINGOCK_REQUIRE_SERVICES"
)

// Postgres returns the DSN of the PostgreSQL server for tests, or skips (or
// fails) t when none is configured.
func Postgres(t testing.TB) string {
	t.Helper()
	return service(t, PostgresEnv, "PostgreSQL")
}

// Mongo returns the URI of the MongoDB server for tests, or skips (or fails)
// t when none is configured.
func Mongo(t testing.TB) string {
	t.Helper()
	return service(t, MongoEnv, "MongoDB")
}

// MySQL returns the store URL of the MySQL or MariaDB server for tests
// (mysql://user@host:port/db), or skips (or fails) t when none is
// configured.
func MySQL(t testing.TB) string {
	t.Helper()
	return service(t, MySQLEnv, "MySQL")
}

// NATS returns the URL of the NATS server (with JetStream) for tests, or
// skips (or fails) t when none is configured.
func NATS(t testing.TB) string {
	t.Helper()
	return service(t, NATSEnv, "NATS")
}

// AMQP returns the URL of the RabbitMQ server for tests, or skips (or
// fails) t when none is configured.
func AMQP(t testing.TB) string {
	t.Helper()
	return service(t, AMQPEnv, "RabbitMQ")
}

// Redis returns the URL of the Redis server for tests, or skips (or fails)
// t when none is configured.
func Redis(t testing.TB) string {
	t.Helper()
	return service(t, RedisEnv, "Redis")
}

func service(t testing.TB, env, name string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s is required (%s=1) but %s is not set", name, RequireServicesEnv, env)
	} else {
		t.Skipf("%s not configured: set %s to run this test", name, env)
	}
	return ""
}
