package crashproof_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/flamingock/flamingock-go/ensure/httpjson"
	"github.com/flamingock/flamingock-go/ensure/natsjs"
	"github.com/flamingock/flamingock-go/ensure/rabbitmq"
	"github.com/flamingock/flamingock-go/ensure/redisflag"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// The targets of the proof.
const (
	targetNATS  = "nats"
	targetAMQP  = "rabbitmq"
	targetRedis = "redis"
	targetHTTP  = "http"
	kindEnsure  = "ensure"
	kindAppend  = "append"
	fullLevel   = 2 // a change's two steps
)

var targets = []string{targetNATS, targetAMQP, targetRedis, targetHTTP}

// system is a target server as the changes of one case see it: where a
// change's two steps take effect, and how they are counted on the server.
//
// Every change of a case does step 1, hits crash.InApply, then does step
// 2; its undo takes step 2 back, hits crash.InRollback, then takes step 1
// back. A change of kind ensure makes each step with an ensure helper,
// which looks before it writes (declared recovery=retry); a change of kind
// append appends each step (a message, INCRBY, a POST: declared
// recovery=manual), and its undo appends the inverse.
type system interface {
	// change declares change m.ID on the system's handle.
	change(m pipeline.Meta) pipeline.Change
	// step does step n (1 or 2) of change id, or takes it back (undo),
	// through the system's handle: what the change does, and what an
	// operator does by hand to finish a change cut half-way.
	step(ctx context.Context, id string, n int, undo bool) error
	// level counts change id on the server: how many of its steps hold (0,
	// 1 or 2; an ensure change's second step without its first is an
	// error). For kind append it is the net count of the appends, which a
	// change run twice takes beyond 2.
	level(ctx context.Context, id string) (int, error)
	close() error
}

// steps runs the body of a change (or of its undo) with the crash point
// between its two steps.
func steps(ctx context.Context, undo bool, step func(n int, undo bool) error) error {
	if undo {
		if err := step(2, true); err != nil {
			return err
		}
		crash.Hit(ctx, crash.InRollback)
		return step(1, true)
	}
	if err := step(1, false); err != nil {
		return err
	}
	crash.Hit(ctx, crash.InApply)
	return step(2, false)
}

// newChange declares change m on handle h, whose steps stepOn does.
func newChange[H any](m pipeline.Meta, h H, stepOn func(context.Context, H, string, int, bool) error) pipeline.Change {
	body := func(undo bool) func(context.Context, H) error {
		return func(ctx context.Context, h H) error {
			return steps(ctx, undo, func(n int, undo bool) error { return stepOn(ctx, h, m.ID, n, undo) })
		}
	}
	return pipeline.NewChange(m, pipeline.NonTransactional(h), body(false), body(true))
}

// levelOf is the level of an ensure change whose steps' states are one
// and two.
func levelOf(what string, one, two bool) (int, error) {
	switch {
	case one && two:
		return 2, nil
	case one:
		return 1, nil
	case two:
		return 0, fmt.Errorf("%s: its second step holds without its first", what)
	}
	return 0, nil
}

// endpoints are the servers' addresses, as the parent and its children
// reach them.
type endpoints struct {
	NATS, AMQP, Redis, HTTP string
}

// openSystem connects to the server of target for the case named by
// prefix, its changes of kind.
func openSystem(ctx context.Context, target, kind, prefix string, at endpoints) (system, error) {
	switch target {
	case targetNATS:
		nc, err := nats.Connect(at.NATS, nats.NoReconnect())
		if err != nil {
			return nil, fmt.Errorf("connect to NATS: %w", err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, err
		}
		return &natsSystem{nc: nc, js: js, kind: kind, prefix: prefix}, nil
	case targetAMQP:
		conn, err := amqp.Dial(at.AMQP)
		if err != nil {
			return nil, fmt.Errorf("connect to RabbitMQ: %w", err)
		}
		return &amqpSystem{conn: conn, kind: kind, prefix: prefix}, nil
	case targetRedis:
		opt, err := redis.ParseURL(at.Redis)
		if err != nil {
			return nil, err
		}
		return &redisSystem{rdb: redis.NewClient(opt), kind: kind, prefix: prefix}, nil
	case targetHTTP:
		return &httpSystem{c: &http.Client{Timeout: time.Minute}, base: at.HTTP + "/" + prefix, kind: kind, prefix: prefix}, nil
	}
	return nil, fmt.Errorf("unknown target %q", target)
}

// natsSystem: an ensure change creates a stream (step 1) and a durable
// consumer on it (step 2); an append change publishes a message to the
// case's log stream per step, on subject <prefix>.log.<id>.apply (its undo
// on .undo).
type natsSystem struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	kind   string
	prefix string
}

func (s *natsSystem) stream(id string) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: s.prefix + "_" + id, Subjects: []string{s.prefix + "." + id + ".>"},
		Storage: jetstream.MemoryStorage, MaxAge: time.Hour}
}

var natsConsumer = jetstream.ConsumerConfig{Durable: "worker", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 5}

func (s *natsSystem) logStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: s.prefix + "_log", Subjects: []string{s.prefix + ".log.>"},
		Storage: jetstream.MemoryStorage}
}

func (s *natsSystem) change(m pipeline.Meta) pipeline.Change { return newChange(m, s.js, s.stepOn) }

func (s *natsSystem) step(ctx context.Context, id string, n int, undo bool) error {
	return s.stepOn(ctx, s.js, id, n, undo)
}

func (s *natsSystem) stepOn(ctx context.Context, js jetstream.JetStream, id string, n int, undo bool) error {
	if s.kind == kindAppend {
		subject := s.prefix + ".log." + id + ".apply"
		if undo {
			subject = s.prefix + ".log." + id + ".undo"
		}
		_, err := js.Publish(ctx, subject, []byte("step "+strconv.Itoa(n)))
		return err
	}
	var err error
	switch {
	case n == 1 && !undo:
		_, err = natsjs.Stream(ctx, js, s.stream(id))
	case n == 2 && !undo:
		_, err = natsjs.Consumer(ctx, js, s.stream(id).Name, natsConsumer)
	case n == 2:
		_, err = natsjs.RemoveConsumer(ctx, js, s.stream(id).Name, natsConsumer)
	default:
		_, err = natsjs.RemoveStream(ctx, js, s.stream(id))
	}
	return err
}

func (s *natsSystem) level(ctx context.Context, id string) (int, error) {
	if s.kind == kindAppend {
		st, err := s.js.Stream(ctx, s.logStream().Name)
		if err != nil {
			return 0, err
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(s.prefix+".log."+id+".>"))
		if err != nil {
			return 0, err
		}
		subjects := info.State.Subjects
		return int(subjects[s.prefix+".log."+id+".apply"]) - int(subjects[s.prefix+".log."+id+".undo"]), nil
	}
	want := s.stream(id)
	st, err := s.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, cerr := s.js.Consumer(ctx, want.Name, natsConsumer.Durable)
		return levelOf("stream "+want.Name, false, cerr == nil)
	}
	if err != nil {
		return 0, err
	}
	// The stream the change made, with its settings.
	cfg := st.CachedInfo().Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != want.Subjects[0] || cfg.MaxAge != want.MaxAge || cfg.Storage != want.Storage {
		return 0, fmt.Errorf("stream %s has subjects %v, max age %v, storage %v; want %v, %v, %v", want.Name,
			cfg.Subjects, cfg.MaxAge, cfg.Storage, want.Subjects, want.MaxAge, want.Storage)
	}
	c, err := st.Consumer(ctx, natsConsumer.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return levelOf("stream "+want.Name, true, false)
	}
	if err != nil {
		return 0, err
	}
	if cc := c.CachedInfo().Config; cc.AckPolicy != natsConsumer.AckPolicy || cc.MaxDeliver != natsConsumer.MaxDeliver {
		return 0, fmt.Errorf("consumer %s of stream %s has ack policy %v, max deliver %d; want %v, %d", natsConsumer.Durable,
			want.Name, cc.AckPolicy, cc.MaxDeliver, natsConsumer.AckPolicy, natsConsumer.MaxDeliver)
	}
	return levelOf("stream "+want.Name, true, true)
}

// births returns when the stream and the consumer of ensure change id
// that exist were created, by the server's clock: a retry that converged
// re-created neither.
func (s *natsSystem) births(ctx context.Context, id string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if s.kind != kindEnsure {
		return out, nil
	}
	st, err := s.js.Stream(ctx, s.stream(id).Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out["stream"] = st.CachedInfo().Created
	c, err := st.Consumer(ctx, natsConsumer.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out["consumer"] = c.CachedInfo().Created
	return out, nil
}

func (s *natsSystem) close() error { s.nc.Close(); return nil }

// amqpSystem: an ensure change declares a fanout exchange (step 1), then
// a queue and its binding to the exchange (step 2); an append change
// publishes, with publisher confirms, a message per step to the case's
// queue <prefix>.<id>.apply (its undo to .undo).
type amqpSystem struct {
	conn   *amqp.Connection
	kind   string
	prefix string
}

func (s *amqpSystem) exchange(id string) rabbitmq.Exchange {
	return rabbitmq.Exchange{Name: s.prefix + "." + id + ".x", Kind: "fanout"}
}

func (s *amqpSystem) queue(id string) rabbitmq.Queue {
	return rabbitmq.Queue{Name: s.prefix + "." + id + ".q"}
}

func (s *amqpSystem) binding(id string) rabbitmq.Binding {
	return rabbitmq.Binding{Queue: s.queue(id).Name, Exchange: s.exchange(id).Name}
}

// logQueues are the queues of the appends of change id.
func (s *amqpSystem) logQueues(id string) (apply, undo string) {
	return s.prefix + "." + id + ".apply", s.prefix + "." + id + ".undo"
}

func (s *amqpSystem) change(m pipeline.Meta) pipeline.Change { return newChange(m, s.conn, s.stepOn) }

func (s *amqpSystem) step(ctx context.Context, id string, n int, undo bool) error {
	return s.stepOn(ctx, s.conn, id, n, undo)
}

func (s *amqpSystem) stepOn(ctx context.Context, conn *amqp.Connection, id string, n int, undo bool) error {
	if s.kind == kindAppend {
		apply, undoQueue := s.logQueues(id)
		if undo {
			apply = undoQueue
		}
		return publishConfirmed(ctx, conn, apply, "step "+strconv.Itoa(n))
	}
	var err error
	switch {
	case n == 1 && !undo:
		_, err = rabbitmq.DeclareExchange(ctx, conn, s.exchange(id))
	case n == 2 && !undo:
		if _, err = rabbitmq.DeclareQueue(ctx, conn, s.queue(id)); err == nil {
			_, err = rabbitmq.Bind(ctx, conn, s.binding(id))
		}
	case n == 2:
		if _, err = rabbitmq.Unbind(ctx, conn, s.binding(id)); err == nil {
			_, err = rabbitmq.RemoveQueue(ctx, conn, s.queue(id))
		}
	default:
		_, err = rabbitmq.RemoveExchange(ctx, conn, s.exchange(id))
	}
	return err
}

// publishConfirmed publishes body to queue through the default exchange
// and waits for the broker's confirm: once it returns, the message is in
// the queue.
func publishConfirmed(ctx context.Context, conn *amqp.Connection, queue, body string) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("publish to %s: confirm mode: %w", queue, err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false,
		amqp.Publishing{ContentType: "text/plain", Body: []byte(body)})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	ok, err := dc.WaitContext(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("publish to %s: wait for the confirm: %w", queue, err)
	case !ok:
		// A nack, or the channel closed before the confirm came: the
		// message may be in the queue or not.
		return fmt.Errorf("publish to %s: not confirmed", queue)
	}
	return nil
}

// queueState looks at queue name with a passive declare on a channel of
// its own (a 404 closes it).
func queueState(conn *amqp.Connection, name string) (q amqp.Queue, exists bool, err error) {
	ch, err := conn.Channel()
	if err != nil {
		return q, false, err
	}
	defer ch.Close()
	q, err = ch.QueueDeclarePassive(name, false, false, false, false, nil)
	if e, ok := errors.AsType[*amqp.Error](err); ok && e.Code == amqp.NotFound {
		return q, false, nil
	}
	return q, err == nil, err
}

func exchangeExists(conn *amqp.Connection, name string) (bool, error) {
	ch, err := conn.Channel()
	if err != nil {
		return false, err
	}
	defer ch.Close()
	err = ch.ExchangeDeclarePassive(name, "fanout", false, false, false, false, nil)
	if e, ok := errors.AsType[*amqp.Error](err); ok && e.Code == amqp.NotFound {
		return false, nil
	}
	return err == nil, err
}

func (s *amqpSystem) level(_ context.Context, id string) (int, error) {
	if s.kind == kindAppend {
		apply, undo := s.logQueues(id)
		a, _, err := queueState(s.conn, apply)
		if err != nil {
			return 0, err
		}
		u, _, err := queueState(s.conn, undo)
		if err != nil {
			return 0, err
		}
		return a.Messages - u.Messages, nil
	}
	x, err := exchangeExists(s.conn, s.exchange(id).Name)
	if err != nil {
		return 0, err
	}
	_, q, err := queueState(s.conn, s.queue(id).Name)
	if err != nil {
		return 0, err
	}
	return levelOf("exchange "+s.exchange(id).Name, x, q)
}

func (s *amqpSystem) close() error { return s.conn.Close() }

// redisSystem: an ensure change sets two flags from absent, <prefix>:<id>:a
// to "on" and <prefix>:<id>:b to "50" (its undo deletes them, from those
// values); an append change runs INCRBY 1 on <prefix>:<id>:count per step
// (its undo INCRBY -1).
type redisSystem struct {
	rdb    *redis.Client
	kind   string
	prefix string
}

func (s *redisSystem) key(id, name string) string { return s.prefix + ":" + id + ":" + name }

var redisFlags = [...]struct{ name, value string }{{"a", "on"}, {"b", "50"}}

func (s *redisSystem) change(m pipeline.Meta) pipeline.Change { return newChange(m, s.rdb, s.stepOn) }

func (s *redisSystem) step(ctx context.Context, id string, n int, undo bool) error {
	return s.stepOn(ctx, s.rdb, id, n, undo)
}

func (s *redisSystem) stepOn(ctx context.Context, rdb *redis.Client, id string, n int, undo bool) error {
	if s.kind == kindAppend {
		by := int64(1)
		if undo {
			by = -1
		}
		return rdb.IncrBy(ctx, s.key(id, "count"), by).Err()
	}
	f := redisFlags[n-1]
	from, to := redisflag.Absent, redisflag.Of(f.value)
	if undo {
		from, to = to, from
	}
	_, err := redisflag.Set(ctx, rdb, s.key(id, f.name), from, to)
	return err
}

func (s *redisSystem) level(ctx context.Context, id string) (int, error) {
	if s.kind == kindAppend {
		n, err := s.rdb.Get(ctx, s.key(id, "count")).Int()
		if errors.Is(err, redis.Nil) {
			return 0, nil
		}
		return n, err
	}
	var holds [2]bool
	for i, f := range redisFlags {
		v, err := s.rdb.Get(ctx, s.key(id, f.name)).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return 0, err
		case v != f.value:
			return 0, fmt.Errorf("flag %s is %q, want %q or absent", s.key(id, f.name), v, f.value)
		default:
			holds[i] = true
		}
	}
	return levelOf("flag "+s.key(id, "a"), holds[0], holds[1])
}

func (s *redisSystem) keys() []string {
	var keys []string
	for _, id := range ids {
		keys = append(keys, s.key(id, "a"), s.key(id, "b"), s.key(id, "count"))
	}
	return keys
}

func (s *redisSystem) close() error { return s.rdb.Close() }

// httpSystem: an ensure change puts two JSON documents from absent,
// <base>/docs/<id>/a and /b (its undo deletes them); an append change
// POSTs an event with delta 1 to <base>/events/<id> per step (its undo
// with delta -1). The server is the parent's apiServer.
type httpSystem struct {
	c    *http.Client
	base string // the server's URL and the case's prefix
	kind string
	// srv is the server, in the parent: it counts.
	srv    *apiServer
	prefix string
}

var httpDocs = [...]struct{ name, body string }{{"a", `{"enabled": true}`}, {"b", `{"limit": 50, "burst": 10}`}}

func (s *httpSystem) change(m pipeline.Meta) pipeline.Change { return newChange(m, s.c, s.stepOn) }

func (s *httpSystem) step(ctx context.Context, id string, n int, undo bool) error {
	return s.stepOn(ctx, s.c, id, n, undo)
}

func (s *httpSystem) stepOn(ctx context.Context, c *http.Client, id string, n int, undo bool) error {
	if s.kind == kindAppend {
		delta := "1"
		if undo {
			delta = "-1"
		}
		return postEvent(ctx, c, s.base+"/events/"+id, delta)
	}
	d := httpDocs[n-1]
	from, to := []byte(nil), []byte(d.body)
	if undo {
		from, to = to, from
	}
	_, err := httpjson.Put(ctx, c, s.base+"/docs/"+id+"/"+d.name, from, to)
	return err
}

// level is counted by the server, on its own state: only the parent,
// which runs it, can.
func (s *httpSystem) level(_ context.Context, id string) (int, error) {
	if s.srv == nil {
		return 0, errors.New("the HTTP target is counted by the server, in the parent")
	}
	if s.kind == kindAppend {
		return s.srv.events("/" + s.prefix + "/events/" + id), nil
	}
	return levelOf("document "+s.base+"/docs/"+id+"/a",
		s.srv.holds("/"+s.prefix+"/docs/"+id+"/a", httpDocs[0].body),
		s.srv.holds("/"+s.prefix+"/docs/"+id+"/b", httpDocs[1].body))
}

func (s *httpSystem) close() error { s.c.CloseIdleConnections(); return nil }
