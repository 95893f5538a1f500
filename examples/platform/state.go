package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/flamingock/flamingock-go/examples/platform/changes"
)

// state is what the systems hold, read back from the servers themselves
// (not from the audit trail): what the summary prints and the tests
// compare with the trail.
type state struct {
	OrdersTable bool
	// Stream is nil when the stream is absent.
	Stream *streamState
	// Consumer is the durable consumer's name and ack policy, "" when
	// absent.
	Consumer string
	// Exchange is the exchange's kind, "" when absent. AMQP has no way to
	// ask an exchange its kind, so this is the kind a passive declare
	// accepted.
	Exchange string
	// Queue is nil when the queue is absent.
	Queue *queueState
	// Flag is the checkout-v2 flag's value, "absent" when the key is.
	Flag string
	// Credits are the tenants' balances (an absent key is 0).
	Credits map[string]int64
	// Routes are the gateway's routes, each as compact JSON.
	Routes map[string]string
}

type streamState struct {
	Subjects []string
	MaxAge   time.Duration
	Messages uint64
}

type queueState struct {
	Messages, Consumers int
}

// readState reads every system.
func (s *system) readState(ctx context.Context) (*state, error) {
	st := &state{Credits: map[string]int64{}}
	n := s.names
	err := s.store.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name = 'orders')`).Scan(&st.OrdersTable)
	if err != nil {
		return nil, fmt.Errorf("read the orders table: %w", err)
	}

	stream, err := s.js.Stream(ctx, n.Stream())
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return nil, fmt.Errorf("read stream %s: %w", n.Stream(), err)
	default:
		info, err := stream.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", n.Stream(), err)
		}
		st.Stream = &streamState{Subjects: info.Config.Subjects, MaxAge: info.Config.MaxAge, Messages: info.State.Msgs}
		c, err := stream.Consumer(ctx, n.Consumer())
		switch {
		case errors.Is(err, jetstream.ErrConsumerNotFound):
		case err != nil:
			return nil, fmt.Errorf("read consumer %s: %w", n.Consumer(), err)
		default:
			ci, err := c.Info(ctx)
			if err != nil {
				return nil, fmt.Errorf("read consumer %s: %w", n.Consumer(), err)
			}
			st.Consumer = ci.Config.Durable + " (ack " + ci.Config.AckPolicy.String() + ")"
		}
	}

	if st.Exchange, err = s.exchangeKind(n.Exchange(), amqp.ExchangeTopic); err != nil {
		return nil, err
	}
	if st.Queue, err = s.queue(n.Queue()); err != nil {
		return nil, err
	}

	if st.Flag, err = s.rdb.Get(ctx, n.Flag()).Result(); errors.Is(err, redis.Nil) {
		st.Flag = "absent"
	} else if err != nil {
		return nil, fmt.Errorf("read flag %s: %w", n.Flag(), err)
	}
	for _, g := range changes.Grants() {
		v, err := s.rdb.Get(ctx, n.Credits(g.Tenant)).Result()
		if errors.Is(err, redis.Nil) {
			v = "0"
		} else if err != nil {
			return nil, fmt.Errorf("read credits of %s: %w", g.Tenant, err)
		}
		if st.Credits[g.Tenant], err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, fmt.Errorf("credits of %s: %w", g.Tenant, err)
		}
	}

	if st.Routes, err = s.routes(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// exchangeKind returns kind when exchange name exists, "" when it does not.
// A passive declare that fails closes its channel, so each look opens one.
func (s *system) exchangeKind(name, kind string) (string, error) {
	ch, err := s.amqp.Channel()
	if err != nil {
		return "", fmt.Errorf("read exchange %s: %w", name, err)
	}
	defer ch.Close()
	var aerr *amqp.Error
	switch err := ch.ExchangeDeclarePassive(name, kind, true, false, false, false, nil); {
	case errors.As(err, &aerr) && aerr.Code == amqp.NotFound:
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read exchange %s: %w", name, err)
	}
	return kind, nil
}

// queue returns what queue name holds, nil when it does not exist.
func (s *system) queue(name string) (*queueState, error) {
	ch, err := s.amqp.Channel()
	if err != nil {
		return nil, fmt.Errorf("read queue %s: %w", name, err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	var aerr *amqp.Error
	switch {
	case errors.As(err, &aerr) && aerr.Code == amqp.NotFound:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read queue %s: %w", name, err)
	}
	return &queueState{Messages: q.Messages, Consumers: q.Consumers}, nil
}

// routes lists the gateway's routes (GET /routes).
func (s *system) routes(ctx context.Context) (map[string]string, error) {
	url := strings.TrimSuffix(s.gateway.BaseURL, "/") + "/routes"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.gateway.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the gateway's routes: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the gateway's routes: %s", resp.Status)
	}
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("read the gateway's routes: %w", err)
	}
	routes := make(map[string]string, len(raw))
	for name, doc := range raw {
		var b bytes.Buffer
		if err := json.Compact(&b, doc); err != nil {
			return nil, fmt.Errorf("gateway route %s: %w", name, err)
		}
		routes[name] = b.String()
	}
	return routes, nil
}

// print writes the state as a table, one line per resource.
func (st *state) print(out io.Writer, n changes.Names) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SYSTEM\tRESOURCE\tSTATE")
	fmt.Fprintf(w, "postgres\ttable orders\t%s\n", presence(st.OrdersTable))
	if st.Stream == nil {
		fmt.Fprintf(w, "nats\tstream %s\tabsent\n", n.Stream())
	} else {
		fmt.Fprintf(w, "nats\tstream %s\tsubjects %s, max age %s, %d message(s)\n", n.Stream(), strings.Join(st.Stream.Subjects, " "), st.Stream.MaxAge, st.Stream.Messages)
	}
	fmt.Fprintf(w, "nats\tconsumer %s\t%s\n", n.Consumer(), cmp.Or(st.Consumer, "absent"))
	fmt.Fprintf(w, "rabbitmq\texchange %s\t%s\n", n.Exchange(), cmp.Or(st.Exchange, "absent"))
	if st.Queue == nil {
		fmt.Fprintf(w, "rabbitmq\tqueue %s\tabsent\n", n.Queue())
	} else {
		fmt.Fprintf(w, "rabbitmq\tqueue %s\tpresent, %d message(s), %d consumer(s)\n", n.Queue(), st.Queue.Messages, st.Queue.Consumers)
	}
	fmt.Fprintf(w, "redis\t%s\t%s\n", n.Flag(), st.Flag)
	for _, g := range changes.Grants() {
		fmt.Fprintf(w, "redis\t%s\t%d\n", n.Credits(g.Tenant), st.Credits[g.Tenant])
	}
	names := make([]string, 0, len(st.Routes))
	for name := range st.Routes {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) == 0 {
		fmt.Fprintln(w, "gateway\troutes\tnone")
	}
	for _, name := range names {
		fmt.Fprintf(w, "gateway\t/routes/%s\t%s\n", name, st.Routes[name])
	}
	w.Flush()
}

func presence(ok bool) string {
	if ok {
		return "present"
	}
	return "absent"
}
