package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recorder stands in for a test so the helper's skip or failure can be
// observed rather than suffered. Like the real ones, Skipf and Fatalf end
// the calling goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	panic(r)
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(r)
}

// call runs helper against r and reports what it returned.
func call(r *recorder, helper func(testing.TB) string) (dsn string) {
	defer func() {
		if v := recover(); v != nil && v != r {
			panic(v)
		}
	}()
	return helper(r)
}

func TestPostgres(t *testing.T) {
	testService(t, Postgres, PostgresEnv, "postgres://u@127.0.0.1:5432/db")
}

func TestMongo(t *testing.T) {
	testService(t, Mongo, MongoEnv, "mongodb://127.0.0.1:27017/")
}

func TestMySQL(t *testing.T) {
	testService(t, MySQL, MySQLEnv, "mysql://root@127.0.0.1:3306/test")
}

func TestNATS(t *testing.T) {
	testService(t, NATS, NATSEnv, "nats://127.0.0.1:4222")
}

func TestAMQP(t *testing.T) {
	testService(t, AMQP, AMQPEnv, "amqp://guest:guest@127.0.0.1:5672/")
}

func TestRedis(t *testing.T) {
	testService(t, Redis, RedisEnv, "redis://127.0.0.1:6379/0")
}

// testService checks that helper returns what env holds, and skips or fails
// as FLAMINGOCK_REQUIRE_SERVICES says when env is empty.
func testService(t *testing.T, helper func(testing.TB) string, env, dsn string) {
	tests := []struct {
		name               string
		env, require       string
		wantDSN            string
		wantSkip, wantFail bool
	}{
		{name: "returns the configured DSN", env: dsn, wantDSN: dsn},
		{name: "returns the configured DSN when services are required", env: dsn, require: "1", wantDSN: dsn},
		{name: "skips when nothing is configured", wantSkip: true},
		{name: "skips when the requirement flag is not exactly 1", require: "yes", wantSkip: true},
		{name: "fails when nothing is configured but services are required", require: "1", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(env, tt.env)
			t.Setenv(RequireServicesEnv, tt.require)
			r := &recorder{TB: t}
			got := call(r, helper)
			if got != tt.wantDSN {
				t.Errorf("%s: got %q, want %q", env, got, tt.wantDSN)
			}
			if (r.skipped != "") != tt.wantSkip {
				t.Errorf("skipped = %v, want %v", r.skipped != "", tt.wantSkip)
			}
			if (r.failed != "") != tt.wantFail {
				t.Errorf("failed = %v, want %v", r.failed != "", tt.wantFail)
			}
			if msg := r.skipped + r.failed; msg != "" && !strings.Contains(msg, env) {
				t.Errorf("message %q does not name the variable", msg)
			}
		})
	}
}
