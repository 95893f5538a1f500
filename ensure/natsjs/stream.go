package natsjs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flamingock/flamingock-go/ensure"
)

type sc = jetstream.StreamConfig

// streamFields are the settings Stream, UpdateStream and RemoveStream
// compare. The others (placement, sources, mirror, metadata, compression…)
// are not looked at.
var streamFields = []field[sc]{
	scalar("name", func(c *sc) *string { return &c.Name }),
	scalar("description", func(c *sc) *string { return &c.Description }),
	stringSet("subjects", func(c *sc) *[]string { return &c.Subjects }),
	policy("retention", func(c *sc) *jetstream.RetentionPolicy { return &c.Retention }),
	scalar("max_consumers", func(c *sc) *int { return &c.MaxConsumers }),
	scalar("max_msgs", func(c *sc) *int64 { return &c.MaxMsgs }),
	scalar("max_bytes", func(c *sc) *int64 { return &c.MaxBytes }),
	policy("discard", func(c *sc) *jetstream.DiscardPolicy { return &c.Discard }),
	scalar("max_age", func(c *sc) *time.Duration { return &c.MaxAge }),
	scalar("max_msgs_per_subject", func(c *sc) *int64 { return &c.MaxMsgsPerSubject }),
	scalar("max_msg_size", func(c *sc) *int32 { return &c.MaxMsgSize }),
	policy("storage", func(c *sc) *jetstream.StorageType { return &c.Storage }),
	scalar("num_replicas", func(c *sc) *int { return &c.Replicas }),
	scalar("duplicate_window", func(c *sc) *time.Duration { return &c.Duplicates }),
	scalar("no_ack", func(c *sc) *bool { return &c.NoAck }),
	scalar("allow_direct", func(c *sc) *bool { return &c.AllowDirect }),
	scalar("deny_delete", func(c *sc) *bool { return &c.DenyDelete }),
	scalar("deny_purge", func(c *sc) *bool { return &c.DenyPurge }),
	scalar("allow_rollup_hdrs", func(c *sc) *bool { return &c.AllowRollup }),
}

// defaultDuplicates is the duplicate window the server gives a stream
// created without one (and a max_age of 2m or more).
const defaultDuplicates = 2 * time.Minute

// withDefaults returns c with each compared field left zero set to the
// value the server gives it when the field is left out: -1 (unlimited) for
// the limits, 1 replica, a duplicate window of 2m (the max_age if shorter),
// the stream's name as its subject. A configuration read from the server
// already holds these, so withDefaults changes it in nothing.
func withDefaults(c sc) sc {
	for _, p := range []*int64{&c.MaxMsgs, &c.MaxBytes, &c.MaxMsgsPerSubject} {
		if *p == 0 {
			*p = -1
		}
	}
	if c.MaxConsumers == 0 {
		c.MaxConsumers = -1
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = -1
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Duplicates == 0 {
		c.Duplicates = defaultDuplicates
		if c.MaxAge > 0 && c.MaxAge < defaultDuplicates {
			c.Duplicates = c.MaxAge
		}
	}
	if len(c.Subjects) == 0 && c.Mirror == nil && len(c.Sources) == 0 {
		c.Subjects = []string{c.Name}
	}
	return c
}

// Stream makes the stream want.Name exist with the settings of want.
//
// Absent, it is created from want (ensure.Created). Present, its
// configuration is compared with want on the fields listed in the package
// documentation: equal, nothing is written (ensure.Unchanged); different,
// the result is a *ensure.ConflictError naming each differing field and
// the stream is left as it is. A field left zero in want stands for "the
// server's default" and is not compared.
func Stream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (ensure.Outcome, error) {
	if want.Name == "" {
		return 0, errors.New("natsjs: stream without a name")
	}
	res := "stream " + want.Name
	have, err := streamConfig(ctx, js, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return createStream(ctx, js, want)
	}
	if err != nil {
		return 0, err
	}
	if d := diffs(streamFields, &have, &want, nil); len(d) > 0 {
		return 0, &ensure.ConflictError{Resource: res, Diffs: d}
	}
	return ensure.Unchanged, nil
}

// createStream creates the stream, then checks that the server kept what
// was asked: a server older than a setting ignores it instead of refusing.
func createStream(ctx context.Context, js jetstream.JetStream, want sc) (ensure.Outcome, error) {
	res := "stream " + want.Name
	s, err := js.CreateStream(ctx, want)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Created by someone else since we looked, with another
		// configuration (the server accepts an identical one): say how
		// it differs.
		have, rerr := streamConfig(ctx, js, want.Name)
		if rerr != nil {
			return 0, fmt.Errorf("%s: created meanwhile by another client: %w", res, rerr)
		}
		if d := diffs(streamFields, &have, &want, nil); len(d) > 0 {
			return 0, &ensure.ConflictError{Resource: res, Diffs: d}
		}
		return ensure.Unchanged, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: create: %w", res, err)
	}
	have := s.CachedInfo().Config
	if d := diffs(streamFields, &have, &want, nil); len(d) > 0 {
		return 0, fmt.Errorf("%s: created, but the server did not keep: %v", res, d)
	}
	return ensure.Created, nil
}

// UpdateStream moves the stream from.Name from the configuration from to
// the configuration to (both name the same stream).
//
// It reads the stream first. Found matching to, nothing is written
// (ensure.Unchanged): a retry after the update ends here. Found matching
// from, it is updated (ensure.Updated). Found matching neither, the result
// is a *ensure.ConflictError listing how it differs from to (and, for a
// field the change moves, what from says). Absent, the
// result is an error matching jetstream.ErrStreamNotFound: a stream to
// update is created by an earlier change.
//
// Fields are compared as Stream compares them, with one more rule: a field
// that differs between from and to is compared in both, a zero there
// standing for the server's default (-1 for the limits, 1 replica, a
// duplicate window of 2m or max_age if shorter, the stream's name as its
// subject). The update writes the compared fields of to
// over the stream's configuration as the server holds it; the fields this
// package does not compare are kept. The server refuses some moves
// (storage, or deny_delete and deny_purge back to false): that is an
// error, the stream unchanged.
func UpdateStream(ctx context.Context, js jetstream.JetStream, from, to jetstream.StreamConfig) (ensure.Outcome, error) {
	if to.Name == "" {
		return 0, errors.New("natsjs: stream without a name")
	}
	if from.Name != to.Name {
		return 0, fmt.Errorf("natsjs: update from stream %s to stream %s: the names must be the same", from.Name, to.Name)
	}
	res := "stream " + to.Name
	have, err := streamConfig(ctx, js, to.Name)
	if err != nil {
		return 0, err
	}
	// A field is forced where the change's two declarations differ, not
	// where only their defaults do: a duplicate window neither declares
	// is not the change's, even if the default follows max_age.
	force := map[string]bool{}
	for _, f := range streamFields {
		if !f.equal(&from, &to) {
			force[f.name] = true
		}
	}
	fromD, toD := withDefaults(from), withDefaults(to)
	haveD := withDefaults(have)
	// A field zero in to and not forced is not compared, so withDefaults
	// changes nothing there; a forced one is compared with its default.
	toCmp := pick(to, toD, force)
	if len(diffs(streamFields, &haveD, &toCmp, force)) == 0 {
		return ensure.Unchanged, nil
	}
	fromCmp := pick(from, fromD, force)
	if len(diffs(streamFields, &haveD, &fromCmp, force)) > 0 {
		return 0, &ensure.ConflictError{Resource: res, Diffs: transitionDiffs(&haveD, &fromCmp, &toCmp, force)}
	}
	next := have
	for _, f := range streamFields {
		if !f.isZero(&to) || force[f.name] {
			f.copy(&next, &toCmp)
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%s: update: %w", res, err)
	}
	s, err := js.UpdateStream(ctx, next)
	if err != nil {
		return 0, fmt.Errorf("%s: update: %w", res, err)
	}
	got := withDefaults(s.CachedInfo().Config)
	if d := diffs(streamFields, &got, &toCmp, force); len(d) > 0 {
		return 0, fmt.Errorf("%s: updated, but the server did not keep: %v", res, d)
	}
	return ensure.Updated, nil
}

// transitionDiffs lists the fields where have differs from to, giving
// from's value too where the change moves the field: "max_age: have 3h0m0s,
// want 2h0m0s (from 1h0m0s)".
func transitionDiffs(have, from, to *sc, force map[string]bool) []string {
	var out []string
	for _, f := range streamFields {
		if f.isZero(to) && !force[f.name] || f.equal(have, to) {
			continue
		}
		line := fmt.Sprintf("%s: have %s, want %s", f.name, f.show(have), f.show(to))
		if force[f.name] {
			line += fmt.Sprintf(" (from %s)", f.show(from))
		}
		out = append(out, line)
	}
	return out
}

// pick returns c with the forced fields taken from its defaulted form.
func pick(c, defaulted sc, force map[string]bool) sc {
	for _, f := range streamFields {
		if force[f.name] {
			f.copy(&c, &defaulted)
		}
	}
	return c
}

// RemoveStream deletes the stream want.Name, the undo of Stream.
//
// Absent, nothing is done (ensure.Absent). Present, it must match want as
// Stream compares it, or the result is a *ensure.ConflictError; and it
// must hold no message, or the result is an error matching
// ensure.ErrNotEmpty that gives the count: removing a stream that holds
// data is a person's decision, not an undo's. Otherwise it is deleted
// (ensure.Deleted). A message published between the check and the
// deletion is lost with the stream: JetStream has no "delete if empty".
func RemoveStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (ensure.Outcome, error) {
	if want.Name == "" {
		return 0, errors.New("natsjs: stream without a name")
	}
	res := "stream " + want.Name
	info, err := streamInfo(ctx, js, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return ensure.Absent, nil
	}
	if err != nil {
		return 0, err
	}
	if d := diffs(streamFields, &info.Config, &want, nil); len(d) > 0 {
		return 0, &ensure.ConflictError{Resource: res, Diffs: d}
	}
	if n := info.State.Msgs; n > 0 {
		return 0, fmt.Errorf("%s holds %d messages: %w", res, n, ensure.ErrNotEmpty)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%s: delete: %w", res, err)
	}
	err = js.DeleteStream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return ensure.Absent, nil // deleted by someone else since we looked
	}
	if err != nil {
		return 0, fmt.Errorf("%s: delete: %w", res, err)
	}
	return ensure.Deleted, nil
}

func streamInfo(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	res := "stream " + name
	if js == nil {
		return nil, fmt.Errorf("%s: no JetStream context (nil)", res)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: read: %w", res, err)
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", res, err)
	}
	return s.CachedInfo(), nil
}

func streamConfig(ctx context.Context, js jetstream.JetStream, name string) (sc, error) {
	info, err := streamInfo(ctx, js, name)
	if err != nil {
		return sc{}, err
	}
	return info.Config, nil
}
