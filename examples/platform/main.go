package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/storeurl"
	"github.com/flamingock/flamingock-go/examples/platform/changes"
	"github.com/flamingock/flamingock-go/examples/platform/gateway"
	"github.com/flamingock/flamingock-go/migrate"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is where the systems are: every address comes from a flag or its
// environment variable, never from a default, so that the example cannot
// reach a server nobody named.
type config struct {
	Store, NATS, AMQP, Redis string
	// Gateway is the URL of a running gateway API; GatewayState, the state
	// file of one the example starts itself.
	Gateway, GatewayState string
	// Prefix is put before the name of every resource the changes create
	// (changes.Names): empty here, unique per test.
	Prefix string
}

// Main runs the example with the command line args and the environment
// getenv, and returns the exit status.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return command(ctx, config{}, args, getenv, stdout, stderr)
}

// command is Main on top of cfg (where the tests set Prefix).
func command(ctx context.Context, cfg config, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("platform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Store, "store", getenv("FLAMINGOCK_STORE"), "PostgreSQL URL of the audit store and the application's database, postgres://… (default $FLAMINGOCK_STORE)")
	fs.StringVar(&cfg.NATS, "nats", getenv("FLAMINGOCK_NATS"), "NATS server URL, with JetStream (default $FLAMINGOCK_NATS)")
	fs.StringVar(&cfg.AMQP, "amqp", getenv("FLAMINGOCK_AMQP"), "RabbitMQ URL, amqp://… (default $FLAMINGOCK_AMQP)")
	fs.StringVar(&cfg.Redis, "redis", getenv("FLAMINGOCK_REDIS"), "Redis URL, redis://… (default $FLAMINGOCK_REDIS)")
	fs.StringVar(&cfg.Gateway, "gateway", getenv("FLAMINGOCK_GATEWAY"), "URL of a running gateway API (default $FLAMINGOCK_GATEWAY)")
	fs.StringVar(&cfg.GatewayState, "gateway-state", getenv("FLAMINGOCK_GATEWAY_STATE"), "state file of a gateway API the example starts on 127.0.0.1 (default $FLAMINGOCK_GATEWAY_STATE)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if rest := fs.Args(); len(rest) > 0 {
		if rest[0] != "migrate" {
			fmt.Fprintf(stderr, "platform: unknown command %q: run without arguments, or migrate COMMAND\n", rest[0])
			return 2
		}
		return migrateCommand(ctx, cfg, rest[1:], stdout, stderr)
	}
	if err := run(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return 1
	}
	return 0
}

// run applies the pipeline, then prints what each system holds.
func run(ctx context.Context, cfg config, out io.Writer) error {
	sys, err := open(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer sys.Close()
	res, err := sys.runner.Run(ctx)
	if res != nil {
		fmt.Fprintf(out, "applied %d change(s), %d already applied\n", res.Count(pipeline.StatusApplied), res.Count(pipeline.StatusSkipped))
	}
	if err != nil {
		return err
	}
	st, err := sys.readState(ctx)
	if err != nil {
		return err
	}
	st.print(out, sys.names)
	return nil
}

// migrateCommand runs "platform migrate ARGS…", the application's own
// migrate command (package migrate), on the same pipeline and store.
func migrateCommand(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) int {
	sys, err := open(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "platform migrate:", err)
		return 1
	}
	defer sys.Close()
	cmd := migrate.Command{Runner: sys.runner, Store: sys.store, Name: "platform migrate", Stdout: stdout, Stderr: stderr}
	return cmd.Run(ctx, args)
}

// system is the pipeline and a connection to every system it changes.
type system struct {
	names   changes.Names
	store   *postgres.Store
	runner  *pipeline.Runner
	nc      *nats.Conn
	js      jetstream.JetStream
	amqp    *amqp.Connection
	rdb     *redis.Client
	gateway *changes.Gateway
	closers []func()
}

// required names the flag and the environment variable of each address.
var required = []struct {
	flag, env string
	value     func(*config) string
}{
	{"--store", "FLAMINGOCK_STORE", func(c *config) string { return c.Store }},
	{"--nats", "FLAMINGOCK_NATS", func(c *config) string { return c.NATS }},
	{"--amqp", "FLAMINGOCK_AMQP", func(c *config) string { return c.AMQP }},
	{"--redis", "FLAMINGOCK_REDIS", func(c *config) string { return c.Redis }},
}

func (c *config) check() error {
	var errs []error
	for _, r := range required {
		if r.value(c) == "" {
			errs = append(errs, fmt.Errorf("no %s address: pass %s or set %s", strings.TrimPrefix(r.flag, "--"), r.flag, r.env))
		}
	}
	switch {
	case c.Gateway == "" && c.GatewayState == "":
		errs = append(errs, errors.New("no gateway: pass --gateway URL (or set FLAMINGOCK_GATEWAY) for a running one, or --gateway-state FILE (or FLAMINGOCK_GATEWAY_STATE) to start one"))
	case c.Gateway != "" && c.GatewayState != "":
		errs = append(errs, errors.New("both --gateway and --gateway-state: pass one"))
	}
	if c.Store != "" && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		// The first change shares the audit store's transactions, so the
		// store must be the application's PostgreSQL database.
		errs = append(errs, fmt.Errorf("store %s: the platform example needs a postgres:// URL", storeurl.Redact(c.Store)))
	}
	return errors.Join(errs...)
}

// open connects to every system and builds the pipeline; logs receives
// the runner's warnings. The caller closes the system.
func open(ctx context.Context, cfg config, logs io.Writer) (_ *system, err error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	sys := &system{names: changes.Names{Prefix: cfg.Prefix}}
	defer func() {
		if err != nil {
			sys.Close()
		}
	}()
	if sys.store, err = postgres.Open(ctx, cfg.Store); err != nil {
		return nil, err
	}
	sys.closers = append(sys.closers, func() { sys.store.Close() })

	if sys.nc, err = nats.Connect(cfg.NATS, nats.Name("flamingock platform example")); err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", storeurl.Redact(cfg.NATS), err)
	}
	sys.closers = append(sys.closers, sys.nc.Close)
	if sys.js, err = jetstream.New(sys.nc); err != nil {
		return nil, fmt.Errorf("JetStream at %s: %w", storeurl.Redact(cfg.NATS), err)
	}

	if sys.amqp, err = amqp.Dial(cfg.AMQP); err != nil {
		return nil, fmt.Errorf("connect to RabbitMQ at %s: %w", storeurl.Redact(cfg.AMQP), err)
	}
	sys.closers = append(sys.closers, func() { sys.amqp.Close() })

	ropts, err := redis.ParseURL(cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis URL %s: %w", storeurl.Redact(cfg.Redis), err)
	}
	sys.rdb = redis.NewClient(ropts)
	sys.closers = append(sys.closers, func() { sys.rdb.Close() })
	if err := sys.rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("connect to Redis at %s: %w", storeurl.Redact(cfg.Redis), err)
	}

	base := cfg.Gateway
	if cfg.GatewayState != "" {
		if base, err = sys.startGateway(cfg.GatewayState); err != nil {
			return nil, err
		}
	}
	sys.gateway = &changes.Gateway{BaseURL: base, HTTP: &http.Client{Timeout: 10 * time.Second}}

	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	stage := changes.Stage(changes.Targets{
		// Shared: the table commits with its APPLIED entry.
		Appdb: pgxtarget.Shared(sys.store),
		// The others have no transactions: STARTED, the change, APPLIED.
		Events:  pipeline.NonTransactional(sys.js),
		Broker:  pipeline.NonTransactional(sys.amqp),
		Flags:   pipeline.NonTransactional(sys.rdb),
		Gateway: pipeline.NonTransactional(sys.gateway),
	}, changes.Deps{Names: sys.names})
	if sys.runner, err = pipeline.New(sys.store, []pipeline.Stage{stage}, pipeline.WithLogger(log)); err != nil {
		return nil, err
	}
	return sys, nil
}

// startGateway serves the gateway API of state file path on a port of
// 127.0.0.1 chosen by the system, and returns its URL.
func (s *system) startGateway(path string) (string, error) {
	api, err := gateway.Open(path)
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("gateway: %w", err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	s.closers = append(s.closers, func() { srv.Close() })
	return "http://" + l.Addr().String(), nil
}

// Close closes every connection, newest first.
func (s *system) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}
