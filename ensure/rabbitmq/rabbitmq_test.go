package rabbitmq_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/flamingock/flamingock-go/ensure"
	"github.com/flamingock/flamingock-go/ensure/internal/testsvc"
	"github.com/flamingock/flamingock-go/ensure/rabbitmq"
)

func dial(t *testing.T) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(testsvc.AMQP(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// channel returns a channel for the test's own checks and setup.
func channel(t *testing.T, conn *amqp.Connection) *amqp.Channel {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

// names returns an exchange and a queue name of the test's own, both
// deleted at its end.
func names(t *testing.T, conn *amqp.Connection) (exchange, queue string) {
	t.Helper()
	suffix := rand.Text()[:8]
	exchange, queue = "flamingock-test.x."+t.Name()+"."+suffix, "flamingock-test.q."+t.Name()+"."+suffix
	t.Cleanup(func() {
		ch, err := conn.Channel()
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer ch.Close()
		if _, err := ch.QueueDelete(queue, false, false, false); err != nil {
			t.Errorf("cleanup: delete queue %s: %v", queue, err)
			return
		}
		if err := ch.ExchangeDelete(exchange, false, false); err != nil {
			t.Errorf("cleanup: delete exchange %s: %v", exchange, err)
		}
	})
	return exchange, queue
}

func declareExchange(t *testing.T, conn *amqp.Connection, x rabbitmq.Exchange) {
	t.Helper()
	if err := channel(t, conn).ExchangeDeclare(x.Name, x.Kind, x.Durable, x.AutoDelete, x.Internal, false, x.Args); err != nil {
		t.Fatalf("declare exchange %s: %v", x.Name, err)
	}
}

func declareQueue(t *testing.T, conn *amqp.Connection, q rabbitmq.Queue) {
	t.Helper()
	if _, err := channel(t, conn).QueueDeclare(q.Name, q.Durable, q.AutoDelete, q.Exclusive, false, q.Args); err != nil {
		t.Fatalf("declare queue %s: %v", q.Name, err)
	}
}

// exchangeIs checks that the exchange exists with the settings of x, by
// declaring it again (the server answers 406 to other settings).
func exchangeIs(t *testing.T, conn *amqp.Connection, x rabbitmq.Exchange) {
	t.Helper()
	if err := channel(t, conn).ExchangeDeclare(x.Name, x.Kind, x.Durable, x.AutoDelete, x.Internal, false, x.Args); err != nil {
		t.Errorf("exchange %s is not as it was: %v", x.Name, err)
	}
}

func queueIs(t *testing.T, conn *amqp.Connection, q rabbitmq.Queue, messages int) {
	t.Helper()
	state, err := channel(t, conn).QueueDeclare(q.Name, q.Durable, q.AutoDelete, q.Exclusive, false, q.Args)
	if err != nil {
		t.Errorf("queue %s is not as it was: %v", q.Name, err)
		return
	}
	if state.Messages != messages {
		t.Errorf("queue %s holds %d messages, want %d", q.Name, state.Messages, messages)
	}
}

func exists(t *testing.T, conn *amqp.Connection, exchange, queue string) (xOK, qOK bool) {
	t.Helper()
	xOK = channel(t, conn).ExchangeDeclarePassive(exchange, "", false, false, false, false, nil) == nil
	_, err := channel(t, conn).QueueDeclarePassive(queue, false, false, false, false, nil)
	return xOK, err == nil
}

// publish publishes n messages to exchange with key, waiting for the
// server's confirmation: routed, they are in their queues.
func publish(t *testing.T, conn *amqp.Connection, exchange, key string, n int) {
	t.Helper()
	ch := channel(t, conn)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for range n {
		c, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), exchange, key, false, false, amqp.Publishing{Body: []byte("m")})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Wait() {
			t.Fatal("publish: not confirmed")
		}
	}
}

// wantConflict checks that err is a conflict naming res and carrying the
// server's text.
func wantConflict(t *testing.T, err error, res, text string) {
	t.Helper()
	var ce *ensure.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ensure.ErrConflict) {
		t.Fatalf("error = %v, want a *ensure.ConflictError", err)
	}
	if ce.Resource != res {
		t.Errorf("conflict resource = %q, want %q", ce.Resource, res)
	}
	if len(ce.Diffs) != 1 || !strings.HasPrefix(ce.Diffs[0], text) {
		t.Errorf("conflict diffs = %q, want one starting %q", ce.Diffs, text)
	}
}

func TestDeclareExchange(t *testing.T) {
	ctx := context.Background()
	conn := dial(t)
	tests := []struct {
		name     string
		start    func(x rabbitmq.Exchange) *rabbitmq.Exchange // nil: absent
		outcome  ensure.Outcome
		conflict string // the start of the server's text, when a conflict is expected
	}{
		{
			name:    "an absent exchange is created",
			start:   func(rabbitmq.Exchange) *rabbitmq.Exchange { return nil },
			outcome: ensure.Created,
		},
		{
			name:    "an equivalent exchange is left unchanged",
			start:   func(x rabbitmq.Exchange) *rabbitmq.Exchange { return &x },
			outcome: ensure.Unchanged,
		},
		{
			name: "another durability is a conflict",
			start: func(x rabbitmq.Exchange) *rabbitmq.Exchange {
				x.Durable = false
				return &x
			},
			conflict: "inequivalent arg 'durable'",
		},
		{
			name: "another kind is a conflict",
			start: func(x rabbitmq.Exchange) *rabbitmq.Exchange {
				x.Kind = "fanout"
				return &x
			},
			conflict: "inequivalent arg 'type'",
		},
		{
			name: "another alternate exchange is a conflict",
			start: func(x rabbitmq.Exchange) *rabbitmq.Exchange {
				x.Args = amqp.Table{"alternate-exchange": "other"}
				return &x
			},
			conflict: "inequivalent arg 'alternate-exchange'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, _ := names(t, conn)
			want := rabbitmq.Exchange{Name: name, Kind: "topic", Durable: true}
			start := tt.start(want)
			if start != nil {
				declareExchange(t, conn, *start)
			}

			got, err := rabbitmq.DeclareExchange(ctx, conn, want)

			if tt.conflict != "" {
				wantConflict(t, err, "exchange "+name, tt.conflict)
				exchangeIs(t, conn, *start)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			again, err := rabbitmq.DeclareExchange(ctx, conn, want)
			if err != nil || again != ensure.Unchanged {
				t.Errorf("second call = %v, %v; want unchanged", again, err)
			}
			exchangeIs(t, conn, want)
		})
	}
}

func TestDeclareQueue(t *testing.T) {
	ctx := context.Background()
	conn := dial(t)
	tests := []struct {
		name     string
		start    func(q rabbitmq.Queue) *rabbitmq.Queue // nil: absent
		outcome  ensure.Outcome
		conflict string
	}{
		{
			name:    "an absent queue is created",
			start:   func(rabbitmq.Queue) *rabbitmq.Queue { return nil },
			outcome: ensure.Created,
		},
		{
			name:    "an equivalent queue is left unchanged",
			start:   func(q rabbitmq.Queue) *rabbitmq.Queue { return &q },
			outcome: ensure.Unchanged,
		},
		{
			name: "an argument the server does not know is not compared",
			start: func(q rabbitmq.Queue) *rabbitmq.Queue {
				q.Args = amqp.Table{"x-message-ttl": int32(60000), "x-flamingock-test": "other"}
				return &q
			},
			outcome: ensure.Unchanged,
		},
		{
			name: "another durability is a conflict",
			start: func(q rabbitmq.Queue) *rabbitmq.Queue {
				q.Durable = false
				return &q
			},
			conflict: "inequivalent arg 'durable'",
		},
		{
			name: "another exclusive flag is a conflict",
			start: func(q rabbitmq.Queue) *rabbitmq.Queue {
				q.Exclusive = true
				return &q
			},
			conflict: "cannot obtain exclusive access",
		},
		{
			name: "another message ttl is a conflict",
			start: func(q rabbitmq.Queue) *rabbitmq.Queue {
				q.Args = amqp.Table{"x-message-ttl": int32(1000)}
				return &q
			},
			conflict: "inequivalent arg 'x-message-ttl'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, name := names(t, conn)
			want := rabbitmq.Queue{Name: name, Durable: true, Args: amqp.Table{"x-message-ttl": int32(60000)}}
			start := tt.start(want)
			if start != nil {
				declareQueue(t, conn, *start)
				publish(t, conn, "", name, 2) // the default exchange routes by queue name
			}

			got, err := rabbitmq.DeclareQueue(ctx, conn, want)

			if tt.conflict != "" {
				wantConflict(t, err, "queue "+name, tt.conflict)
				queueIs(t, conn, *start, 2)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			again, err := rabbitmq.DeclareQueue(ctx, conn, want)
			if err != nil || again != ensure.Unchanged {
				t.Errorf("second call = %v, %v; want unchanged", again, err)
			}
			messages := 0
			if start != nil {
				messages = 2
			}
			queueIs(t, conn, want, messages)
		})
	}
}

func TestBind(t *testing.T) {
	ctx := context.Background()
	conn := dial(t)
	tests := []struct {
		name            string
		exchange, queue bool   // which exist
		err             string // what the error names, when one is expected
	}{
		{name: "a queue is bound to an exchange", exchange: true, queue: true},
		{name: "a missing queue is an error naming it", exchange: true, err: "no queue"},
		{name: "a missing exchange is an error naming it", queue: true, err: "no exchange"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xName, qName := names(t, conn)
			x := rabbitmq.Exchange{Name: xName, Kind: "topic"}
			q := rabbitmq.Queue{Name: qName}
			if tt.exchange {
				declareExchange(t, conn, x)
			}
			if tt.queue {
				declareQueue(t, conn, q)
			}
			b := rabbitmq.Binding{Queue: qName, Exchange: xName, Key: "order.*"}

			got, err := rabbitmq.Bind(ctx, conn, b)

			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				if x, q := exists(t, conn, xName, qName); x != tt.exchange || q != tt.queue {
					t.Errorf("after a failed bind: exchange exists %v, queue %v", x, q)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != ensure.Declared {
				t.Errorf("outcome = %v, want declared", got)
			}
			if again, err := rabbitmq.Bind(ctx, conn, b); err != nil || again != ensure.Declared {
				t.Errorf("second call = %v, %v; want declared", again, err)
			}
			publish(t, conn, xName, "order.created", 1)
			queueIs(t, conn, q, 1)
		})
	}
}

func TestUnbind(t *testing.T) {
	ctx := context.Background()
	conn := dial(t)
	tests := []struct {
		name            string
		exchange, queue bool
		outcome         ensure.Outcome
	}{
		{name: "a binding is removed", exchange: true, queue: true, outcome: ensure.Declared},
		{name: "a binding to a missing queue is absent", exchange: true, outcome: ensure.Absent},
		{name: "a binding from a missing exchange is absent", queue: true, outcome: ensure.Absent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xName, qName := names(t, conn)
			x := rabbitmq.Exchange{Name: xName, Kind: "topic"}
			q := rabbitmq.Queue{Name: qName}
			b := rabbitmq.Binding{Queue: qName, Exchange: xName, Key: "order.*"}
			if tt.exchange {
				declareExchange(t, conn, x)
			}
			if tt.queue {
				declareQueue(t, conn, q)
			}
			if tt.exchange && tt.queue {
				if err := channel(t, conn).QueueBind(qName, b.Key, xName, false, nil); err != nil {
					t.Fatal(err)
				}
			}

			got, err := rabbitmq.Unbind(ctx, conn, b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			if again, err := rabbitmq.Unbind(ctx, conn, b); err != nil || again != tt.outcome {
				t.Errorf("second call = %v, %v; want %v", again, err, tt.outcome)
			}
			if x, q := exists(t, conn, xName, qName); x != tt.exchange || q != tt.queue {
				t.Errorf("after unbind: exchange exists %v, queue %v; want %v, %v", x, q, tt.exchange, tt.queue)
			}
			if tt.exchange && tt.queue {
				publish(t, conn, xName, "order.created", 1)
				queueIs(t, conn, q, 0)
			}
		})
	}
}

func TestRemoveExchange(t *testing.T) {
	ctx := context.Background()
	conn := dial(t)
	tests := []struct {
		name    string
		absent  bool
		bound   bool
		differ  bool
		outcome ensure.Outcome
		err     string // in the error, when one is expected
	}{
		{name: "an absent exchange is absent", absent: true, outcome: ensure.Absent},
		{name: "an unused equivalent exchange is deleted", outcome: ensure.Deleted},
		{name: "an exchange with a binding is refused", bound: true, err: "in use"},
		{name: "a differing exchange is a conflict", differ: true, err: "inequivalent arg 'durable'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xName, qName := names(t, conn)
			x := rabbitmq.Exchange{Name: xName, Kind: "direct", Durable: true}
			start := x
			start.Durable = !tt.differ
			if !tt.absent {
				declareExchange(t, conn, start)
			}
			if tt.bound {
				declareQueue(t, conn, rabbitmq.Queue{Name: qName})
				if err := channel(t, conn).QueueBind(qName, "k", xName, false, nil); err != nil {
					t.Fatal(err)
				}
			}

			got, err := rabbitmq.RemoveExchange(ctx, conn, x)

			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "exchange "+xName) {
					t.Fatalf("error = %v, want one naming the exchange and containing %q", err, tt.err)
				}
				if tt.differ && !errors.Is(err, ensure.ErrConflict) {
					t.Errorf("error %v is not a conflict", err)
				}
				exchangeIs(t, conn, start)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			if x, _ := exists(t, conn, xName, qName); x {
				t.Error("the exchange still exists")
			}
			if again, err := rabbitmq.RemoveExchange(ctx, conn, x); err != nil || again != ensure.Absent {
				t.Errorf("second call = %v, %v; want absent", again, err)
			}
		})
	}
}

func TestRemoveQueue(t *testing.T) {
	ctx := context.Background()
	conn := dial(t)
	tests := []struct {
		name     string
		absent   bool
		messages int
		consumer bool
		differ   bool
		outcome  ensure.Outcome
		err      string
	}{
		{name: "an absent queue is absent", absent: true, outcome: ensure.Absent},
		{name: "an empty equivalent queue is deleted", outcome: ensure.Deleted},
		{name: "a queue holding messages is refused", messages: 3, err: "holds 3 messages"},
		{name: "a queue with a consumer is refused", consumer: true, err: "in use"},
		{name: "a differing queue is a conflict", differ: true, err: "inequivalent arg 'durable'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, qName := names(t, conn)
			q := rabbitmq.Queue{Name: qName, Durable: true}
			start := q
			start.Durable = !tt.differ
			if !tt.absent {
				declareQueue(t, conn, start)
				publish(t, conn, "", qName, tt.messages)
			}
			if tt.consumer {
				if _, err := channel(t, conn).Consume(qName, "", false, false, false, false, nil); err != nil {
					t.Fatal(err)
				}
			}

			got, err := rabbitmq.RemoveQueue(ctx, conn, q)

			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "queue "+qName) {
					t.Fatalf("error = %v, want one naming the queue and containing %q", err, tt.err)
				}
				if tt.messages > 0 && !errors.Is(err, ensure.ErrNotEmpty) {
					t.Errorf("error %v does not match ensure.ErrNotEmpty", err)
				}
				if tt.differ && !errors.Is(err, ensure.ErrConflict) {
					t.Errorf("error %v is not a conflict", err)
				}
				queueIs(t, conn, start, tt.messages)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			if _, q := exists(t, conn, "amq.direct", qName); q {
				t.Error("the queue still exists")
			}
			if again, err := rabbitmq.RemoveQueue(ctx, conn, q); err != nil || again != ensure.Absent {
				t.Errorf("second call = %v, %v; want absent", again, err)
			}
		})
	}
}

func TestRefusesMissingNames(t *testing.T) {
	ctx := context.Background()
	conn := dial(t)
	calls := map[string]func() (ensure.Outcome, error){
		"exchange without a name": func() (ensure.Outcome, error) {
			return rabbitmq.DeclareExchange(ctx, conn, rabbitmq.Exchange{Kind: "direct"})
		},
		"exchange without a kind": func() (ensure.Outcome, error) {
			return rabbitmq.DeclareExchange(ctx, conn, rabbitmq.Exchange{Name: "x"})
		},
		"queue without a name": func() (ensure.Outcome, error) {
			return rabbitmq.DeclareQueue(ctx, conn, rabbitmq.Queue{})
		},
		"binding to the default exchange": func() (ensure.Outcome, error) {
			return rabbitmq.Bind(ctx, conn, rabbitmq.Binding{Queue: "q"})
		},
		"removal of an unnamed queue": func() (ensure.Outcome, error) {
			return rabbitmq.RemoveQueue(ctx, conn, rabbitmq.Queue{})
		},
	}
	for name, call := range calls {
		if _, err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestAClosedConnectionIsAnErrorNamingTheResource(t *testing.T) {
	conn := dial(t)
	_, qName := names(t, dial(t))
	conn.Close()
	_, err := rabbitmq.DeclareQueue(context.Background(), conn, rabbitmq.Queue{Name: qName})
	if !errors.Is(err, amqp.ErrClosed) || !strings.Contains(err.Error(), "queue "+qName) {
		t.Errorf("error = %v, want one naming the queue and matching amqp.ErrClosed", err)
	}
}

func TestACancelledContextStopsBeforeAnyCall(t *testing.T) {
	conn := dial(t)
	_, qName := names(t, conn)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := rabbitmq.DeclareQueue(ctx, conn, rabbitmq.Queue{Name: qName})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if _, q := exists(t, conn, "amq.direct", qName); q {
		t.Error("the queue was declared")
	}
}

func TestAQueueExclusiveToAnotherConnectionIsAnError(t *testing.T) {
	conn := dial(t)
	_, qName := names(t, conn)
	q := rabbitmq.Queue{Name: qName, Exclusive: true}
	declareQueue(t, dial(t), q)
	_, err := rabbitmq.DeclareQueue(context.Background(), conn, q)
	if err == nil || errors.Is(err, ensure.ErrConflict) || !strings.Contains(err.Error(), "queue "+qName) {
		t.Errorf("error = %v, want one naming the queue, not a conflict", err)
	}
}
