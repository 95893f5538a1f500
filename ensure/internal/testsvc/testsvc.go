// Package testsvc gives the tests of this module the servers they talk to,
// as package internal/testenv of the main module does for its tests (this
// module does not require the main one): an address from an environment
// variable, a skip when it is unset, and a failure instead when
// FLAMINGOCK_REQUIRE_SERVICES=1, as in CI.
package testsvc

import (
	"os"
	"testing"
)

// Environment variables read by this package, set by scripts/test.
const (
	NATSEnv            = "FLAMINGOCK_TEST_NATS"  // nats://127.0.0.1:4222
	AMQPEnv            = "FLAMINGOCK_TEST_AMQP"  // amqp://guest:guest@127.0.0.1:5672/
	RedisEnv           = "FLAMINGOCK_TEST_REDIS" // redis://127.0.0.1:6379/0
	RequireServicesEnv = "FLAMINGOCK_REQUIRE_SERVICES"
)

// NATS returns the URL of a NATS server with JetStream.
func NATS(t testing.TB) string { t.Helper(); return service(t, NATSEnv, "NATS") }

// AMQP returns the URL of a RabbitMQ server.
func AMQP(t testing.TB) string { t.Helper(); return service(t, AMQPEnv, "RabbitMQ") }

// Redis returns the URL of a Redis server.
func Redis(t testing.TB) string { t.Helper(); return service(t, RedisEnv, "Redis") }

func service(t testing.TB, env, name string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s is required (%s=1) but %s is not set", name, RequireServicesEnv, env)
	}
	t.Skipf("%s not configured: set %s to run this test", name, env)
	return ""
}
