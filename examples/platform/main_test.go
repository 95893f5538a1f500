package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/flamingock/flamingock-go/ensure"
	"github.com/flamingock/flamingock-go/examples/platform/changes"
	"github.com/flamingock/flamingock-go/examples/platform/gateway"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

// world is one copy of the example on the shared test servers: a database
// of its own, a name prefix of its own, a gateway of its own.
type world struct {
	cfg   config
	names changes.Names
	api   *gateway.API
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	suffix := randomSuffix(t)
	w := &world{names: changes.Names{Prefix: "t" + suffix + "_"}}
	w.cfg = config{
		Store:  newDatabase(t, "platform_"+suffix),
		NATS:   testenv.NATS(t),
		AMQP:   testenv.AMQP(t),
		Redis:  testenv.Redis(t),
		Prefix: w.names.Prefix,
	}
	api, err := gateway.Open(filepath.Join(t.TempDir(), "gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	w.api = api
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	w.cfg.Gateway = srv.URL
	t.Cleanup(func() { w.removeEverything(t, ctx) })
	return w
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newDatabase creates database name on the test PostgreSQL server, dropped
// at the end of the test, and returns its URL.
func newDatabase(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// removeEverything deletes what the test's changes left on the shared
// servers.
func (w *world) removeEverything(t *testing.T, ctx context.Context) {
	if nc, err := nats.Connect(w.cfg.NATS); err == nil {
		if js, err := jetstream.New(nc); err == nil {
			if err := js.DeleteStream(ctx, w.names.Stream()); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("cleanup: %v", err)
			}
		}
		nc.Close()
	}
	if conn, err := amqp.Dial(w.cfg.AMQP); err == nil {
		if ch, err := conn.Channel(); err == nil {
			ch.QueueDelete(w.names.Queue(), false, false, false)
			ch.ExchangeDelete(w.names.Exchange(), false, false)
		}
		conn.Close()
	}
	if opts, err := redis.ParseURL(w.cfg.Redis); err == nil {
		rdb := redis.NewClient(opts)
		keys := []string{w.names.Flag()}
		for _, g := range changes.Grants() {
			keys = append(keys, w.names.Credits(g.Tenant))
		}
		rdb.Del(ctx, keys...)
		rdb.Close()
	}
}

// run runs the example and returns what it printed.
func (w *world) run(t *testing.T) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), w.cfg, &out)
	return out.String(), err
}

// migrate runs "platform migrate ARGS…" and returns its output, failing t
// when the exit status is not want.
func (w *world) migrate(t *testing.T, want int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if got := migrateCommand(context.Background(), w.cfg, args, &stdout, &stderr); got != want {
		t.Fatalf("platform migrate %s: exit status %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, want, &stdout, &stderr)
	}
	return stdout.String()
}

// state reads what the servers hold, through a system of its own.
func (w *world) state(t *testing.T) *state {
	t.Helper()
	ctx := context.Background()
	sys, err := open(ctx, w.cfg, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	st, err := sys.readState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// applied is what every server holds once the eight changes are applied.
func (w *world) applied() *state {
	n := w.names
	return &state{
		OrdersTable: true,
		Stream:      &streamState{Subjects: n.Subjects(), MaxAge: 7 * 24 * time.Hour},
		Consumer:    "billing (ack AckExplicit)",
		Exchange:    amqp.ExchangeTopic,
		Queue:       &queueState{},
		Flag:        "on",
		Credits:     map[string]int64{"acme": 100, "globex": 50},
		Routes:      map[string]string{n.Route(): `{"path":"/api/orders","upstream":"http://orders.internal:8080","timeout_ms":3000}`},
	}
}

// onlyTable is what the servers hold with the first change alone applied:
// what they held before the pipeline, plus the table.
func onlyTable() *state {
	return &state{
		OrdersTable: true,
		Flag:        "absent",
		Credits:     map[string]int64{"acme": 0, "globex": 0},
		Routes:      map[string]string{},
	}
}

// streamCreated is when the test's stream was created: a stream deleted
// and created again would have another time.
func (w *world) streamCreated(t *testing.T) time.Time {
	t.Helper()
	ctx := context.Background()
	nc, err := nats.Connect(w.cfg.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, w.names.Stream())
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().Created
}

// routed reports whether a message published to the test's exchange with
// the billing routing key reaches the billing queue: AMQP cannot list
// bindings without the management plugin, so the test sends one message,
// mandatory (an unroutable one comes back), and takes it off the queue.
func (w *world) routed(t *testing.T) bool {
	t.Helper()
	conn, err := amqp.Dial(w.cfg.AMQP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	ctx := context.Background()
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, w.names.Exchange(), w.names.RoutingKey(), true, false, amqp.Publishing{Body: []byte(`{"probe":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	// RabbitMQ sends basic.return before the confirm of the same message.
	if ok, err := conf.WaitContext(ctx); err != nil || !ok {
		t.Fatalf("probe not confirmed: %v, %v", ok, err)
	}
	select {
	case <-returns:
		return false
	default:
	}
	if _, ok, err := ch.Get(w.names.Queue(), true); err != nil || !ok {
		t.Fatalf("probe routed but not in queue %s: %v, %v", w.names.Queue(), ok, err)
	}
	return true
}

func TestPlatformAppliesOnceRollsBackAndAppliesAgain(t *testing.T) {
	w := newWorld(t)

	out, err := w.run(t)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "applied 8 change(s), 0 already applied") {
		t.Errorf("first run output:\n%s\nwant 8 applied", out)
	}
	if diff := cmp.Diff(w.applied(), w.state(t)); diff != "" {
		t.Errorf("after the first run, the servers hold (-want +got):\n%s", diff)
	}
	if !w.routed(t) {
		t.Errorf("after the first run, %s does not route %s to %s", w.names.Exchange(), w.names.RoutingKey(), w.names.Queue())
	}

	// The second run finds every change applied in the trail and sends
	// the systems nothing: the gateway sees only the summary's read, and
	// the stream is the one the first run created.
	created := w.streamCreated(t)
	before := w.api.Requests()
	out, err = w.run(t)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "applied 0 change(s), 8 already applied") {
		t.Errorf("second run output:\n%s\nwant nothing applied", out)
	}
	after := w.api.Requests()
	for m, n := range before {
		after[m] -= n
	}
	maps.DeleteFunc(after, func(_ string, n int) bool { return n == 0 })
	if diff := cmp.Diff(map[string]int{"GET": 1}, after); diff != "" {
		t.Errorf("gateway requests of the second run (-want +got):\n%s\nwant the summary's GET /routes only", diff)
	}
	if got := w.streamCreated(t); !got.Equal(created) {
		t.Errorf("stream created at %v after the second run, at %v before: it was created again", got, created)
	}
	if diff := cmp.Diff(w.applied(), w.state(t)); diff != "" {
		t.Errorf("after the second run, the servers hold (-want +got):\n%s", diff)
	}

	status := w.migrate(t, 0, "status")
	if n := strings.Count(status, " APPLIED "); n != 8 || !strings.Contains(status, "8 applied") {
		t.Errorf("migrate status lists %d APPLIED:\n%s\nwant 8", n, status)
	}

	// Rolling back to the first change takes every later one back, newest
	// first: each server is as before the pipeline.
	out = w.migrate(t, 0, "rollback-to", "create-orders-table")
	if !strings.Contains(out, "rolled back 7 change(s)") {
		t.Errorf("migrate rollback-to:\n%s\nwant 7 rolled back", out)
	}
	if diff := cmp.Diff(onlyTable(), w.state(t)); diff != "" {
		t.Errorf("after rollback-to create-orders-table, the servers hold (-want +got):\n%s", diff)
	}

	out, err = w.run(t)
	if err != nil {
		t.Fatalf("run after the rollback: %v\n%s", err, out)
	}
	if !strings.Contains(out, "applied 7 change(s), 1 already applied") {
		t.Errorf("run after the rollback:\n%s\nwant 7 applied again", out)
	}
	if diff := cmp.Diff(w.applied(), w.state(t)); diff != "" {
		t.Errorf("after applying again, the servers hold (-want +got):\n%s", diff)
	}
	if !w.routed(t) {
		t.Errorf("after applying again, %s does not route %s to %s", w.names.Exchange(), w.names.RoutingKey(), w.names.Queue())
	}
}

// A retry-safe change refuses a state it was not told to expect: a flag
// someone turned off by hand stops the run at its change, with an error
// naming the flag, and the flag stays off.
func TestAFlagSetByHandStopsItsChange(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	opts, err := redis.ParseURL(w.cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Set(ctx, w.names.Flag(), "off", 0).Err(); err != nil {
		t.Fatal(err)
	}

	out, err := w.run(t)
	if !errors.Is(err, ensure.ErrConflict) || !strings.Contains(err.Error(), w.names.Flag()) {
		t.Fatalf("run with the flag off by hand: %v\n%s\nwant a conflict naming %s", err, out, w.names.Flag())
	}
	if !strings.Contains(out, "applied 4 change(s), 0 already applied") {
		t.Errorf("run output:\n%s\nwant the 4 changes before the flag's applied", out)
	}
	want := w.applied()
	want.Flag = "off"
	want.Stream.MaxAge = 24 * time.Hour // orders-retention comes after
	want.Credits = map[string]int64{"acme": 0, "globex": 0}
	want.Routes = map[string]string{}
	if diff := cmp.Diff(want, w.state(t)); diff != "" {
		t.Errorf("after the refused change, the servers hold (-want +got):\n%s", diff)
	}
	if status := w.migrate(t, 0, "status"); strings.Count(status, " APPLIED ") != 4 {
		t.Errorf("migrate status:\n%s\nwant 4 APPLIED", status)
	}
	t.Logf("the run stopped with: %v", err)

	// Once someone has decided that the flag should not be off after all
	// (here: removed it, the state the change expects), the next run
	// applies the rest.
	if err := rdb.Del(ctx, w.names.Flag()).Err(); err != nil {
		t.Fatal(err)
	}
	out, err = w.run(t)
	if err != nil || !strings.Contains(out, "applied 4 change(s), 4 already applied") {
		t.Fatalf("run after the flag was removed: %v\n%s\nwant the last 4 applied", err, out)
	}
	if diff := cmp.Diff(w.applied(), w.state(t)); diff != "" {
		t.Errorf("after the last run, the servers hold (-want +got):\n%s", diff)
	}
}

func TestMissingAddressesAreNamed(t *testing.T) {
	var stdout, stderr bytes.Buffer
	noEnv := func(string) string { return "" }
	if code := Main(context.Background(), nil, noEnv, &stdout, &stderr); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, want := range []string{"--store", "FLAMINGOCK_STORE", "--nats", "FLAMINGOCK_NATS", "--amqp", "FLAMINGOCK_AMQP", "--redis", "FLAMINGOCK_REDIS", "--gateway", "--gateway-state"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %s:\n%s", want, &stderr)
		}
	}
}

// An address that cannot be reached is reported without its password.
func TestPasswordsAreNotPrinted(t *testing.T) {
	w := newWorld(t)
	for name, set := range map[string]func(*config){
		"amqp":  func(c *config) { c.AMQP = "amqp://guest:s3cret-pw@127.0.0.1:1/" },
		"redis": func(c *config) { c.Redis = "redis://:s3cret-pw@127.0.0.1:1/0" },
		"store": func(c *config) { c.Store = "mysql://root:s3cret-pw@127.0.0.1:1/x" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := w.cfg
			set(&cfg)
			err := run(context.Background(), cfg, &bytes.Buffer{})
			if err == nil {
				t.Fatal("run succeeded; want a connection error")
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &stdout, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2\n%s", code, &stderr)
	}
}

// The command line as doc.go gives it: addresses from the environment, a
// gateway the example starts on a state file, which the next run (a new
// gateway process) reads back.
func TestTheCommandLine(t *testing.T) {
	w := newWorld(t)
	state := filepath.Join(t.TempDir(), "gateway.json")
	env := map[string]string{
		"FLAMINGOCK_STORE": w.cfg.Store,
		"FLAMINGOCK_NATS":  w.cfg.NATS,
		"FLAMINGOCK_AMQP":  w.cfg.AMQP,
		"FLAMINGOCK_REDIS": w.cfg.Redis,
	}
	// The prefix is no flag of the command: the test sets it below Main.
	main := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cfgArgs := append([]string{"--gateway-state", state}, args...)
		code := command(context.Background(), config{Prefix: w.names.Prefix}, cfgArgs, func(k string) string { return env[k] }, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("platform %s: exit status %d\nstdout: %s\nstderr: %s", strings.Join(cfgArgs, " "), code, &stdout, &stderr)
		}
		return stdout.String()
	}
	if out := main(); !strings.Contains(out, "applied 8 change(s), 0 already applied") {
		t.Errorf("first run:\n%s\nwant 8 applied", out)
	}
	out := main()
	for _, want := range []string{
		"applied 0 change(s), 8 already applied",
		"stream " + w.names.Stream(),
		"max age 168h0m0s",
		"/routes/" + w.names.Route(),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second run:\n%s\nlacks %q", out, want)
		}
	}
	if out := main("migrate", "status"); !strings.Contains(out, "8 applied") {
		t.Errorf("migrate status:\n%s\nwant 8 applied", out)
	}
}
