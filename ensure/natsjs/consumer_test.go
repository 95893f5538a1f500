package natsjs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flamingock/flamingock-go/ensure"
	"github.com/flamingock/flamingock-go/ensure/natsjs"
)

// consumerStream creates a stream of its own for t and returns its name
// and subject prefix.
func consumerStream(t *testing.T, js jetstream.JetStream) (string, string) {
	t.Helper()
	name, subj := streamName(t, js)
	create(t, js, jetstream.StreamConfig{Name: name, Subjects: []string{subj + ".>"}})
	return name, subj
}

func consumerConfig(t *testing.T, js jetstream.JetStream, stream, name string) jetstream.ConsumerConfig {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, name)
	if err != nil {
		t.Fatalf("read consumer %s: %v", name, err)
	}
	return c.CachedInfo().Config
}

func TestConsumer(t *testing.T) {
	ctx := context.Background()
	_, js := connect(t)
	base := func(subj string) jetstream.ConsumerConfig {
		return jetstream.ConsumerConfig{
			Durable:       "billing",
			FilterSubject: subj + ".created",
			AckWait:       time.Minute,
			MaxDeliver:    5,
		}
	}
	tests := []struct {
		name    string
		start   func(c jetstream.ConsumerConfig) *jetstream.ConsumerConfig // nil: absent
		want    func(c jetstream.ConsumerConfig) jetstream.ConsumerConfig
		outcome ensure.Outcome
		diffs   []string // a conflict is expected when set
	}{
		{
			name:    "an absent consumer is created",
			start:   func(jetstream.ConsumerConfig) *jetstream.ConsumerConfig { return nil },
			outcome: ensure.Created,
		},
		{
			name:    "a matching consumer is left unchanged",
			start:   func(c jetstream.ConsumerConfig) *jetstream.ConsumerConfig { return &c },
			outcome: ensure.Unchanged,
		},
		{
			name: "a field left zero in want is not compared",
			start: func(c jetstream.ConsumerConfig) *jetstream.ConsumerConfig {
				c.MaxAckPending = 10
				return &c
			},
			want: func(c jetstream.ConsumerConfig) jetstream.ConsumerConfig {
				c.MaxDeliver = 0
				return c
			},
			outcome: ensure.Unchanged,
		},
		{
			name: "a differing consumer is a conflict naming each field",
			start: func(c jetstream.ConsumerConfig) *jetstream.ConsumerConfig {
				c.AckWait = 30 * time.Second
				c.AckPolicy = jetstream.AckAllPolicy
				return &c
			},
			want: func(c jetstream.ConsumerConfig) jetstream.ConsumerConfig {
				c.AckPolicy = jetstream.AckNonePolicy
				return c
			},
			diffs: []string{"ack_policy: have all, want none", "ack_wait: have 30s, want 1m0s"},
		},
		{
			name: "a consumer given by Name alone is durable",
			start: func(jetstream.ConsumerConfig) *jetstream.ConsumerConfig {
				return nil
			},
			want: func(c jetstream.ConsumerConfig) jetstream.ConsumerConfig {
				c.Name, c.Durable = c.Durable, ""
				return c
			},
			outcome: ensure.Created,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, subj := consumerStream(t, js)
			want := base(subj)
			if tt.want != nil {
				want = tt.want(want)
			}
			start := tt.start(base(subj))
			var before jetstream.ConsumerConfig
			if start != nil {
				if _, err := js.CreateConsumer(ctx, stream, *start); err != nil {
					t.Fatal(err)
				}
				before = consumerConfig(t, js, stream, "billing")
			}

			got, err := natsjs.Consumer(ctx, js, stream, want)

			if tt.diffs != nil {
				if diff := cmp.Diff(tt.diffs, conflictDiffs(t, err)); diff != "" {
					t.Errorf("diffs (-want +got):\n%s", diff)
				}
				if !strings.Contains(err.Error(), "consumer billing of stream "+stream) {
					t.Errorf("error %q does not name the consumer", err)
				}
				if diff := cmp.Diff(before, consumerConfig(t, js, stream, "billing")); diff != "" {
					t.Errorf("a conflict changed the consumer (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			have := consumerConfig(t, js, stream, "billing")
			if have.Durable != "billing" {
				t.Errorf("consumer's durable_name = %q, want billing", have.Durable)
			}
			again, err := natsjs.Consumer(ctx, js, stream, want)
			if err != nil || again != ensure.Unchanged {
				t.Errorf("second call = %v, %v; want unchanged", again, err)
			}
			if diff := cmp.Diff(have, consumerConfig(t, js, stream, "billing")); diff != "" {
				t.Errorf("the second call changed the consumer (-before +after):\n%s", diff)
			}
		})
	}
}

func TestConsumerOfAnAbsentStreamIsAnError(t *testing.T) {
	_, js := connect(t)
	stream, _ := streamName(t, js)
	_, err := natsjs.Consumer(context.Background(), js, stream, jetstream.ConsumerConfig{Durable: "billing"})
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("error = %v, want jetstream.ErrStreamNotFound", err)
	}
}

func TestConsumerRefusesAmbiguousNames(t *testing.T) {
	_, js := connect(t)
	stream, _ := consumerStream(t, js)
	for _, c := range []jetstream.ConsumerConfig{{}, {Name: "a", Durable: "b"}} {
		if _, err := natsjs.Consumer(context.Background(), js, stream, c); err == nil {
			t.Errorf("Consumer(Name %q, Durable %q): no error", c.Name, c.Durable)
		}
	}
}

func TestConsumerReportsASettingTheServerDoesNotKeep(t *testing.T) {
	nc, js := connect(t)
	var major, minor int
	if _, err := fmt.Sscanf(nc.ConnectedServerVersion(), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("server version %q: %v", nc.ConnectedServerVersion(), err)
	}
	if major > 2 || major == 2 && minor >= 10 {
		t.Skipf("server %s supports filter_subjects", nc.ConnectedServerVersion())
	}
	stream, subj := consumerStream(t, js)
	want := jetstream.ConsumerConfig{Durable: "billing", FilterSubjects: []string{subj + ".a", subj + ".b"}}
	if _, err := natsjs.Consumer(context.Background(), js, stream, want); err == nil {
		t.Error("filter_subjects on a 2.9 server: no error")
	}
	// What the server made of it must not pass for the consumer asked for.
	if _, err := natsjs.Consumer(context.Background(), js, stream, want); !errors.Is(err, ensure.ErrConflict) {
		t.Errorf("second call: %v, want a conflict", err)
	}
}

func TestRemoveConsumer(t *testing.T) {
	ctx := context.Background()
	_, js := connect(t)
	tests := []struct {
		name         string
		streamAbsent bool
		absent       bool
		differ       bool
		outcome      ensure.Outcome
		err          error
	}{
		{name: "a consumer of an absent stream is absent", streamAbsent: true, outcome: ensure.Absent},
		{name: "an absent consumer is absent", absent: true, outcome: ensure.Absent},
		{name: "a matching consumer is deleted", outcome: ensure.Deleted},
		{name: "a differing consumer is a conflict", differ: true, err: ensure.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stream string
			if tt.streamAbsent {
				stream, _ = streamName(t, js)
			} else {
				stream, _ = consumerStream(t, js)
			}
			want := jetstream.ConsumerConfig{Durable: "billing", AckWait: time.Minute}
			if !tt.absent && !tt.streamAbsent {
				start := want
				if tt.differ {
					start.AckWait = 2 * time.Minute
				}
				if _, err := js.CreateConsumer(ctx, stream, start); err != nil {
					t.Fatal(err)
				}
			}

			got, err := natsjs.RemoveConsumer(ctx, js, stream, want)

			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				if _, err := js.Consumer(ctx, stream, "billing"); err != nil {
					t.Errorf("the consumer is gone after a refusal: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			if !tt.streamAbsent {
				if _, err := js.Consumer(ctx, stream, "billing"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
					t.Errorf("consumer after removal: %v, want not found", err)
				}
			}
			again, err := natsjs.RemoveConsumer(ctx, js, stream, want)
			if err != nil || again != ensure.Absent {
				t.Errorf("second call = %v, %v; want absent", again, err)
			}
		})
	}
}

func TestAPushConsumerIsNotTheConsumerAsked(t *testing.T) {
	ctx := context.Background()
	_, js := connect(t)
	stream, subj := consumerStream(t, js)
	push := jetstream.ConsumerConfig{Durable: "billing", DeliverSubject: subj + "-deliver"}
	if _, err := js.CreateOrUpdatePushConsumer(ctx, stream, push); err != nil {
		t.Fatal(err)
	}
	want := jetstream.ConsumerConfig{Durable: "billing"}
	for name, call := range map[string]func() (ensure.Outcome, error){
		"Consumer":       func() (ensure.Outcome, error) { return natsjs.Consumer(ctx, js, stream, want) },
		"RemoveConsumer": func() (ensure.Outcome, error) { return natsjs.RemoveConsumer(ctx, js, stream, want) },
	} {
		_, err := call()
		d := conflictDiffs(t, err)
		if len(d) != 1 || !strings.HasPrefix(d[0], "deliver_subject: have ") {
			t.Errorf("%s: diffs = %q, want one on deliver_subject", name, d)
		}
	}
	if _, err := js.PushConsumer(ctx, stream, "billing"); err != nil {
		t.Errorf("the push consumer is gone: %v", err)
	}
	if _, err := natsjs.Consumer(ctx, js, stream, push); err == nil {
		t.Error("Consumer of a push consumer config: no error")
	}
}
