package natsjs_test

import (
	"context"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flamingock/flamingock-go/ensure"
	"github.com/flamingock/flamingock-go/ensure/internal/testsvc"
	"github.com/flamingock/flamingock-go/ensure/natsjs"
)

func connect(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(testsvc.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// streamName returns a stream name of its own for t, deleted at the end of
// the test, and a subject prefix of its own.
func streamName(t *testing.T, js jetstream.JetStream) (name, subject string) {
	t.Helper()
	name = unsafeName.ReplaceAllString(t.Name(), "_") + "_" + rand.Text()[:8]
	t.Cleanup(func() {
		err := js.DeleteStream(context.Background(), name)
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("cleanup: delete stream %s: %v", name, err)
		}
	})
	return name, strings.ToLower(name)
}

func config(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("read stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}

func create(t *testing.T, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	if _, err := js.CreateStream(context.Background(), cfg); err != nil {
		t.Fatalf("create stream %s: %v", cfg.Name, err)
	}
}

// conflictDiffs returns the diffs of err, failing if err is not a conflict.
func conflictDiffs(t *testing.T, err error) []string {
	t.Helper()
	var ce *ensure.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ensure.ErrConflict) {
		t.Fatalf("error = %v, want a *ensure.ConflictError", err)
	}
	return ce.Diffs
}

func TestStream(t *testing.T) {
	ctx := context.Background()
	_, js := connect(t)

	// base is the stream the cases ask for; start, the one they find.
	base := func(name, subj string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: "orders",
			Subjects:    []string{subj + ".a", subj + ".b"},
			MaxAge:      24 * time.Hour,
			MaxMsgs:     1000,
		}
	}
	tests := []struct {
		name      string
		start     func(c jetstream.StreamConfig) *jetstream.StreamConfig // nil: absent
		want      func(c jetstream.StreamConfig) jetstream.StreamConfig
		outcome   ensure.Outcome
		diffs     []string // a conflict is expected when set
		diffsLike string   // when the values are names: a regexp on the joined diffs
	}{
		{
			name:    "an absent stream is created",
			start:   func(jetstream.StreamConfig) *jetstream.StreamConfig { return nil },
			outcome: ensure.Created,
		},
		{
			name:    "a matching stream is left unchanged",
			start:   func(c jetstream.StreamConfig) *jetstream.StreamConfig { return &c },
			outcome: ensure.Unchanged,
		},
		{
			name:  "subjects compare as a set",
			start: func(c jetstream.StreamConfig) *jetstream.StreamConfig { return &c },
			want: func(c jetstream.StreamConfig) jetstream.StreamConfig {
				c.Subjects = []string{c.Subjects[1], c.Subjects[0], c.Subjects[1]}
				return c
			},
			outcome: ensure.Unchanged,
		},
		{
			name: "a field left zero in want is not compared",
			start: func(c jetstream.StreamConfig) *jetstream.StreamConfig {
				c.MaxBytes = 1 << 20
				c.Duplicates = time.Minute
				c.DenyPurge = true
				return &c
			},
			want: func(c jetstream.StreamConfig) jetstream.StreamConfig {
				c.MaxMsgs, c.Description = 0, ""
				return c
			},
			outcome: ensure.Unchanged,
		},
		{
			name: "a differing stream is a conflict naming each field",
			start: func(c jetstream.StreamConfig) *jetstream.StreamConfig {
				c.MaxAge = time.Hour
				c.MaxMsgs = 10
				return &c
			},
			diffs: []string{"max_msgs: have 10, want 1000", "max_age: have 1h0m0s, want 24h0m0s"},
		},
		{
			name: "policies and flags are named as NATS names them",
			start: func(c jetstream.StreamConfig) *jetstream.StreamConfig {
				c.Retention = jetstream.InterestPolicy
				c.Storage = jetstream.MemoryStorage
				return &c
			},
			want: func(c jetstream.StreamConfig) jetstream.StreamConfig {
				c.Retention = jetstream.WorkQueuePolicy
				c.Storage = jetstream.FileStorage // the zero value, compared all the same
				c.DenyDelete = true
				return c
			},
			diffs: []string{"retention: have interest, want workqueue", "storage: have memory, want file", "deny_delete: have false, want true"},
		},
		{
			name: "other subjects are a conflict",
			start: func(c jetstream.StreamConfig) *jetstream.StreamConfig {
				c.Subjects = c.Subjects[:1]
				return &c
			},
			diffsLike: `^subjects: have \[\S+\.a\], want \[\S+\.a \S+\.b\]$`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, subj := streamName(t, js)
			want := base(name, subj)
			if tt.want != nil {
				want = tt.want(want)
			}
			start := tt.start(base(name, subj))
			if start != nil {
				create(t, js, *start)
			}
			var before jetstream.StreamConfig
			if start != nil {
				before = config(t, js, name)
			}

			got, err := natsjs.Stream(ctx, js, want)

			if tt.diffs != nil || tt.diffsLike != "" {
				d := conflictDiffs(t, err)
				if tt.diffs != nil {
					if diff := cmp.Diff(tt.diffs, d); diff != "" {
						t.Errorf("diffs (-want +got):\n%s", diff)
					}
				} else if j := strings.Join(d, "; "); !regexp.MustCompile(tt.diffsLike).MatchString(j) {
					t.Errorf("diffs = %q, want them to match %s", j, tt.diffsLike)
				}
				if !strings.Contains(err.Error(), "stream "+name) {
					t.Errorf("error %q does not name the stream", err)
				}
				if diff := cmp.Diff(before, config(t, js, name)); diff != "" {
					t.Errorf("a conflict changed the stream (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			// Run again, as a retry would: nothing to write.
			again, err := natsjs.Stream(ctx, js, want)
			if err != nil || again != ensure.Unchanged {
				t.Errorf("second call = %v, %v; want unchanged", again, err)
			}
			have := config(t, js, name)
			if start == nil {
				if diff := cmp.Diff(want.Subjects, have.Subjects); diff != "" {
					t.Errorf("created stream's subjects (-want +got):\n%s", diff)
				}
			} else if diff := cmp.Diff(before, have); diff != "" {
				t.Errorf("the stream changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestStreamRefusesANamelessConfig(t *testing.T) {
	_, js := connect(t)
	if _, err := natsjs.Stream(context.Background(), js, jetstream.StreamConfig{}); err == nil {
		t.Error("Stream without a name: no error")
	}
}

func TestStreamHonoursACancelledContext(t *testing.T) {
	_, js := connect(t)
	name, _ := streamName(t, js)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := natsjs.Stream(ctx, js, jetstream.StreamConfig{Name: name})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if _, err := js.Stream(context.Background(), name); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stream after a cancelled call: %v, want not found", err)
	}
}

func TestUpdateStream(t *testing.T) {
	ctx := context.Background()
	_, js := connect(t)

	type cfgs struct{ start, from, to *jetstream.StreamConfig }
	tests := []struct {
		name string
		// setup returns the stream found (nil: absent), from and to.
		setup   func(name, subj string) cfgs
		outcome ensure.Outcome
		check   func(t *testing.T, have jetstream.StreamConfig) // after the update
		err     error                                           // wanted by errors.Is
	}{
		{
			name: "a stream at from is updated to to",
			setup: func(name, subj string) cfgs {
				from := jetstream.StreamConfig{Name: name, Subjects: []string{subj + ".>"}, MaxAge: time.Hour}
				to := from
				to.MaxAge = 2 * time.Hour
				to.Description = "two hours"
				return cfgs{&from, &from, &to}
			},
			outcome: ensure.Updated,
			check: func(t *testing.T, have jetstream.StreamConfig) {
				if have.MaxAge != 2*time.Hour || have.Description != "two hours" {
					t.Errorf("after update: max_age %v, description %q", have.MaxAge, have.Description)
				}
			},
		},
		{
			name: "a stream at to is left unchanged",
			setup: func(name, subj string) cfgs {
				from := jetstream.StreamConfig{Name: name, Subjects: []string{subj + ".>"}, MaxAge: time.Hour}
				to := from
				to.MaxAge = 2 * time.Hour
				return cfgs{&to, &from, &to}
			},
			outcome: ensure.Unchanged,
		},
		{
			name: "a field going back to its default is compared and written",
			setup: func(name, subj string) cfgs {
				from := jetstream.StreamConfig{Name: name, Subjects: []string{subj + ".>"}, MaxMsgs: 10, AllowRollup: true}
				to := from
				to.MaxMsgs, to.AllowRollup = 0, false
				return cfgs{&from, &from, &to}
			},
			outcome: ensure.Updated,
			check: func(t *testing.T, have jetstream.StreamConfig) {
				if have.MaxMsgs != -1 || have.AllowRollup {
					t.Errorf("after update: max_msgs %d, allow_rollup_hdrs %v; want -1, false", have.MaxMsgs, have.AllowRollup)
				}
			},
		},
		{
			name: "settings in neither from nor to are kept",
			setup: func(name, subj string) cfgs {
				start := jetstream.StreamConfig{Name: name, Subjects: []string{subj + ".>"}, MaxBytes: 1 << 20, MaxAge: time.Hour}
				from := jetstream.StreamConfig{Name: name, MaxAge: time.Hour}
				to := jetstream.StreamConfig{Name: name, MaxAge: 2 * time.Hour}
				return cfgs{&start, &from, &to}
			},
			outcome: ensure.Updated,
			check: func(t *testing.T, have jetstream.StreamConfig) {
				if have.MaxBytes != 1<<20 || len(have.Subjects) != 1 || have.MaxAge != 2*time.Hour {
					t.Errorf("after update: max_bytes %d, subjects %v, max_age %v", have.MaxBytes, have.Subjects, have.MaxAge)
				}
			},
		},
		{
			name: "a stream at neither is a conflict",
			setup: func(name, subj string) cfgs {
				from := jetstream.StreamConfig{Name: name, Subjects: []string{subj + ".>"}, MaxAge: time.Hour}
				to := from
				to.MaxAge = 2 * time.Hour
				start := from
				start.MaxAge = 3 * time.Hour
				return cfgs{&start, &from, &to}
			},
			err: ensure.ErrConflict,
		},
		{
			name: "an absent stream is an error",
			setup: func(name, subj string) cfgs {
				from := jetstream.StreamConfig{Name: name, MaxAge: time.Hour}
				to := jetstream.StreamConfig{Name: name, MaxAge: 2 * time.Hour}
				return cfgs{nil, &from, &to}
			},
			err: jetstream.ErrStreamNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, subj := streamName(t, js)
			c := tt.setup(name, subj)
			var before jetstream.StreamConfig
			if c.start != nil {
				create(t, js, *c.start)
				before = config(t, js, name)
			}

			got, err := natsjs.UpdateStream(ctx, js, *c.from, *c.to)

			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				if !strings.Contains(err.Error(), "stream "+name) {
					t.Errorf("error %q does not name the stream", err)
				}
				if c.start != nil {
					if diff := cmp.Diff(before, config(t, js, name)); diff != "" {
						t.Errorf("a failed update changed the stream (-before +after):\n%s", diff)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			after := config(t, js, name)
			if tt.check != nil {
				tt.check(t, after)
			}
			again, err := natsjs.UpdateStream(ctx, js, *c.from, *c.to)
			if err != nil || again != ensure.Unchanged {
				t.Errorf("second call = %v, %v; want unchanged", again, err)
			}
			if diff := cmp.Diff(after, config(t, js, name)); diff != "" {
				t.Errorf("the second call changed the stream (-before +after):\n%s", diff)
			}
		})
	}
}

func TestUpdateStreamConflictShowsTheDifferenceFromTo(t *testing.T) {
	_, js := connect(t)
	name, subj := streamName(t, js)
	create(t, js, jetstream.StreamConfig{Name: name, Subjects: []string{subj}, MaxAge: 3 * time.Hour, Description: "other"})
	from := jetstream.StreamConfig{Name: name, MaxAge: time.Hour, Description: "orders"}
	to := jetstream.StreamConfig{Name: name, MaxAge: 2 * time.Hour, Description: "orders"}
	_, err := natsjs.UpdateStream(context.Background(), js, from, to)
	want := []string{`description: have "other", want "orders"`, "max_age: have 3h0m0s, want 2h0m0s (from 1h0m0s)"}
	if diff := cmp.Diff(want, conflictDiffs(t, err)); diff != "" {
		t.Errorf("diffs (-want +got):\n%s", diff)
	}
}

func TestUpdateStreamRefusesTwoNames(t *testing.T) {
	_, js := connect(t)
	_, err := natsjs.UpdateStream(context.Background(), js, jetstream.StreamConfig{Name: "A"}, jetstream.StreamConfig{Name: "B"})
	if err == nil {
		t.Error("UpdateStream from A to B: no error")
	}
}

func TestRemoveStream(t *testing.T) {
	ctx := context.Background()
	_, js := connect(t)
	tests := []struct {
		name     string
		absent   bool
		messages int
		differ   bool
		outcome  ensure.Outcome
		err      error
	}{
		{name: "an absent stream is absent", absent: true, outcome: ensure.Absent},
		{name: "an empty matching stream is deleted", outcome: ensure.Deleted},
		{name: "a stream holding messages is refused", messages: 3, err: ensure.ErrNotEmpty},
		{name: "a differing stream is a conflict", differ: true, err: ensure.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, subj := streamName(t, js)
			want := jetstream.StreamConfig{Name: name, Subjects: []string{subj + ".>"}, MaxAge: time.Hour}
			if !tt.absent {
				start := want
				if tt.differ {
					start.MaxAge = 2 * time.Hour
				}
				create(t, js, start)
				for range tt.messages {
					if _, err := js.Publish(ctx, subj+".x", []byte("m")); err != nil {
						t.Fatal(err)
					}
				}
			}

			got, err := natsjs.RemoveStream(ctx, js, want)

			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				if !strings.Contains(err.Error(), "stream "+name) {
					t.Errorf("error %q does not name the stream", err)
				}
				if tt.messages > 0 && !strings.Contains(err.Error(), "3 messages") {
					t.Errorf("error %q does not give the count", err)
				}
				s, rerr := js.Stream(ctx, name)
				if rerr != nil {
					t.Fatalf("the stream is gone after a refusal: %v", rerr)
				}
				if n := s.CachedInfo().State.Msgs; n != uint64(tt.messages) {
					t.Errorf("stream holds %d messages, want %d", n, tt.messages)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.outcome {
				t.Errorf("outcome = %v, want %v", got, tt.outcome)
			}
			if _, err := js.Stream(ctx, name); !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("stream after removal: %v, want not found", err)
			}
			again, err := natsjs.RemoveStream(ctx, js, want)
			if err != nil || again != ensure.Absent {
				t.Errorf("second call = %v, %v; want absent", again, err)
			}
		})
	}
}

// A duplicate window neither from nor to declares stays as it is, even
// though its default would follow max_age.
func TestUpdateStreamLeavesUndeclaredDefaultsAlone(t *testing.T) {
	ctx := context.Background()
	_, js := connect(t)
	name, subj := streamName(t, js)
	create(t, js, jetstream.StreamConfig{Name: name, Subjects: []string{subj}, MaxAge: time.Minute, Duplicates: 30 * time.Second})
	from := jetstream.StreamConfig{Name: name, MaxAge: time.Minute}
	to := jetstream.StreamConfig{Name: name, MaxAge: time.Hour}
	if got, err := natsjs.UpdateStream(ctx, js, from, to); err != nil || got != ensure.Updated {
		t.Fatalf("UpdateStream = %v, %v; want updated", got, err)
	}
	if have := config(t, js, name); have.MaxAge != time.Hour || have.Duplicates != 30*time.Second {
		t.Errorf("after update: max_age %v, duplicate_window %v; want 1h, 30s", have.MaxAge, have.Duplicates)
	}
}

func TestUpdateStreamAMoveTheServerRefusesIsAnError(t *testing.T) {
	_, js := connect(t)
	name, subj := streamName(t, js)
	from := jetstream.StreamConfig{Name: name, Subjects: []string{subj}, DenyPurge: true}
	to := from
	to.DenyPurge = false
	create(t, js, from)
	before := config(t, js, name)
	if _, err := natsjs.UpdateStream(context.Background(), js, from, to); err == nil || errors.Is(err, ensure.ErrConflict) {
		t.Errorf("error = %v, want the server's refusal", err)
	}
	if diff := cmp.Diff(before, config(t, js, name)); diff != "" {
		t.Errorf("a refused update changed the stream (-before +after):\n%s", diff)
	}
}
