package natsjs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flamingock/flamingock-go/ensure"
)

type cc = jetstream.ConsumerConfig

// consumerFields are the settings Consumer and RemoveConsumer compare.
// Metadata, pause and priority groups (servers 2.10 and later) are not
// looked at.
var consumerFields = []field[cc]{
	scalar("name", func(c *cc) *string { return &c.Name }),
	scalar("durable_name", func(c *cc) *string { return &c.Durable }),
	scalar("description", func(c *cc) *string { return &c.Description }),
	policy("deliver_policy", func(c *cc) *jetstream.DeliverPolicy { return &c.DeliverPolicy }),
	scalar("opt_start_seq", func(c *cc) *uint64 { return &c.OptStartSeq }),
	timePtr("opt_start_time", func(c *cc) **time.Time { return &c.OptStartTime }),
	policy("ack_policy", func(c *cc) *jetstream.AckPolicy { return &c.AckPolicy }),
	scalar("ack_wait", func(c *cc) *time.Duration { return &c.AckWait }),
	scalar("max_deliver", func(c *cc) *int { return &c.MaxDeliver }),
	durationList("backoff", func(c *cc) *[]time.Duration { return &c.BackOff }),
	scalar("filter_subject", func(c *cc) *string { return &c.FilterSubject }),
	stringSet("filter_subjects", func(c *cc) *[]string { return &c.FilterSubjects }),
	policy("replay_policy", func(c *cc) *jetstream.ReplayPolicy { return &c.ReplayPolicy }),
	scalar("rate_limit_bps", func(c *cc) *uint64 { return &c.RateLimit }),
	scalar("sample_freq", func(c *cc) *string { return &c.SampleFrequency }),
	scalar("max_waiting", func(c *cc) *int { return &c.MaxWaiting }),
	scalar("max_ack_pending", func(c *cc) *int { return &c.MaxAckPending }),
	scalar("headers_only", func(c *cc) *bool { return &c.HeadersOnly }),
	scalar("max_batch", func(c *cc) *int { return &c.MaxRequestBatch }),
	scalar("max_expires", func(c *cc) *time.Duration { return &c.MaxRequestExpires }),
	scalar("max_bytes", func(c *cc) *int { return &c.MaxRequestMaxBytes }),
	scalar("inactive_threshold", func(c *cc) *time.Duration { return &c.InactiveThreshold }),
	scalar("num_replicas", func(c *cc) *int { return &c.Replicas }),
	scalar("mem_storage", func(c *cc) *bool { return &c.MemoryStorage }),
}

// consumerName returns the name a consumer config designates and the
// config made durable under that name.
func consumerName(stream string, want cc) (string, cc, error) {
	switch {
	case want.Durable == "" && want.Name == "":
		return "", want, fmt.Errorf("natsjs: consumer of stream %s without a name (Durable)", stream)
	case want.Durable != "" && want.Name != "" && want.Durable != want.Name:
		return "", want, fmt.Errorf("natsjs: consumer of stream %s named both %s (Name) and %s (Durable)", stream, want.Name, want.Durable)
	case want.DeliverSubject != "":
		return "", want, fmt.Errorf("natsjs: consumer %s of stream %s: a push consumer (deliver_subject); Consumer manages pull consumers", want.Durable+want.Name, stream)
	case want.Durable == "":
		// Named but not durable, the server would delete it after
		// inactive_threshold (5s by default): a change declares what
		// stays.
		want.Durable = want.Name
	}
	return want.Durable, want, nil
}

// Consumer makes the durable consumer want.Durable (or want.Name, which is
// then made durable) of stream exist with the settings of want.
//
// Absent, it is created (ensure.Created). Present, its configuration is
// compared with want on the fields listed in the package documentation:
// equal, nothing is written (ensure.Unchanged); different, the result is a
// *ensure.ConflictError naming each differing field. A field left zero in
// want is the server's default and not compared. A missing stream is an
// error matching jetstream.ErrStreamNotFound.
//
// Consumer manages pull consumers: a want with a DeliverSubject is
// refused, and a push consumer found under the name is a conflict.
//
// A server older than 2.10 does not tell a create from an update: a
// consumer another client creates under the same name between the look
// and the create is updated to want, not reported.
func Consumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig) (ensure.Outcome, error) {
	name, want, err := consumerName(stream, want)
	if err != nil {
		return 0, err
	}
	res := consumerResource(stream, name)
	info, err := consumerInfo(ctx, js, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		c, err := js.CreateConsumer(ctx, stream, want)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			// Created by someone else since we looked, differently.
			info, rerr := consumerInfo(ctx, js, stream, name)
			if rerr != nil {
				return 0, fmt.Errorf("%s: created meanwhile by another client: %w", res, rerr)
			}
			return compareConsumer(res, info, want)
		}
		if err != nil {
			return 0, fmt.Errorf("%s: create: %w", res, err)
		}
		have := c.CachedInfo().Config
		if d := diffs(consumerFields, &have, &want, nil); len(d) > 0 {
			return 0, fmt.Errorf("%s: created, but the server did not keep: %v", res, d)
		}
		return ensure.Created, nil
	}
	if err != nil {
		return 0, err
	}
	return compareConsumer(res, info, want)
}

func compareConsumer(res string, info *jetstream.ConsumerInfo, want cc) (ensure.Outcome, error) {
	if d := consumerDiffs(&info.Config, &want); len(d) > 0 {
		return 0, &ensure.ConflictError{Resource: res, Diffs: d}
	}
	return ensure.Unchanged, nil
}

// consumerDiffs compares as diffs does, and also sees a push consumer
// where a pull one is wanted: want's empty deliver_subject is not "the
// server's default" but the kind of consumer.
func consumerDiffs(have, want *cc) []string {
	d := diffs(consumerFields, have, want, nil)
	if have.DeliverSubject != "" {
		d = append(d, fmt.Sprintf("deliver_subject: have %q, want none (a pull consumer)", have.DeliverSubject))
	}
	return d
}

// RemoveConsumer deletes the consumer want.Durable (or want.Name) of
// stream, the undo of Consumer. Absent, or its stream absent, nothing is
// done (ensure.Absent). Present, it must match want as Consumer compares
// it, or the result is a *ensure.ConflictError; then it is deleted
// (ensure.Deleted). Its messages stay in the stream.
func RemoveConsumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig) (ensure.Outcome, error) {
	name, want, err := consumerName(stream, want)
	if err != nil {
		return 0, err
	}
	res := consumerResource(stream, name)
	info, err := consumerInfo(ctx, js, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return ensure.Absent, nil
	}
	if err != nil {
		return 0, err
	}
	if d := consumerDiffs(&info.Config, &want); len(d) > 0 {
		return 0, &ensure.ConflictError{Resource: res, Diffs: d}
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%s: delete: %w", res, err)
	}
	err = js.DeleteConsumer(ctx, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return ensure.Absent, nil // deleted by someone else since we looked
	}
	if err != nil {
		return 0, fmt.Errorf("%s: delete: %w", res, err)
	}
	return ensure.Deleted, nil
}

func consumerResource(stream, name string) string {
	return "consumer " + name + " of stream " + stream
}

func consumerInfo(ctx context.Context, js jetstream.JetStream, stream, name string) (*jetstream.ConsumerInfo, error) {
	res := consumerResource(stream, name)
	if js == nil {
		return nil, fmt.Errorf("%s: no JetStream context (nil)", res)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: read: %w", res, err)
	}
	c, err := js.Consumer(ctx, stream, name)
	if errors.Is(err, jetstream.ErrNotPullConsumer) {
		// Read it anyway, to report it as it is.
		p, perr := js.PushConsumer(ctx, stream, name)
		if perr != nil {
			return nil, fmt.Errorf("%s: read: %w", res, perr)
		}
		return p.CachedInfo(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", res, err)
	}
	return c.CachedInfo(), nil
}
