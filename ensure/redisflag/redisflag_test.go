package redisflag_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/flamingock/flamingock-go/ensure"
	"github.com/flamingock/flamingock-go/ensure/internal/testsvc"
	"github.com/flamingock/flamingock-go/ensure/redisflag"
)

func client(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testsvc.Redis(t))
	if err != nil {
		t.Fatalf("parse the Redis URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// key returns a key of this test's own, removed when it ends.
func key(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	k := "flamingock-test:" + t.Name() + ":" + rand.Text()[:8]
	t.Cleanup(func() { rdb.Del(context.Background(), k) })
	return k
}

// state sets the key to v (Absent: leaves it absent).
func state(t *testing.T, rdb *redis.Client, k string, v redisflag.Value) {
	t.Helper()
	if s, ok := v.Get(); ok {
		if err := rdb.Set(t.Context(), k, s, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
}

// read returns the flag's Value as Redis holds it.
func read(t *testing.T, rdb *redis.Client, k string) redisflag.Value {
	t.Helper()
	s, err := rdb.Get(t.Context(), k).Result()
	if errors.Is(err, redis.Nil) {
		return redisflag.Absent
	}
	if err != nil {
		t.Fatalf("GET %s: %v", k, err)
	}
	return redisflag.Of(s)
}

func TestSet(t *testing.T) {
	rdb := client(t)
	on, off, x, empty, absent := redisflag.Of("on"), redisflag.Of("off"), redisflag.Of("x"), redisflag.Of(""), redisflag.Absent
	for _, tc := range []struct {
		name              string
		current, from, to redisflag.Value
		want              ensure.Outcome
		conflict          bool
	}{
		{name: "absent to on creates", current: absent, from: absent, to: on, want: ensure.Created},
		{name: "off to on updates", current: off, from: off, to: on, want: ensure.Updated},
		{name: "on to absent deletes", current: on, from: on, to: absent, want: ensure.Deleted},
		{name: "empty to on updates", current: empty, from: empty, to: on, want: ensure.Updated},
		{name: "on to empty updates", current: on, from: on, to: empty, want: ensure.Updated},
		{name: "absent to empty creates", current: absent, from: absent, to: empty, want: ensure.Created},
		{name: "found at to is unchanged", current: on, from: off, to: on, want: ensure.Unchanged},
		{name: "found absent at to is unchanged", current: absent, from: on, to: absent, want: ensure.Unchanged},
		{name: "from equal to is unchanged", current: on, from: on, to: on, want: ensure.Unchanged},
		{name: "absent and absent is unchanged", current: absent, from: absent, to: absent, want: ensure.Unchanged},
		{name: "another value is a conflict", current: x, from: off, to: on, conflict: true},
		{name: "absent when off expected is a conflict", current: absent, from: off, to: on, conflict: true},
		{name: "a value when absent expected is a conflict", current: x, from: absent, to: on, conflict: true},
		{name: "another value on delete is a conflict", current: x, from: on, to: absent, conflict: true},
		{name: "empty is not absent", current: empty, from: absent, to: on, conflict: true},
		{name: "absent is not empty", current: absent, from: empty, to: on, conflict: true},
		{name: "a value when absent and absent is a conflict", current: x, from: absent, to: absent, conflict: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := key(t, rdb)
			state(t, rdb, k, tc.current)
			got, err := redisflag.Set(t.Context(), rdb, k, tc.from, tc.to)
			if tc.conflict {
				var ce *ensure.ConflictError
				if !errors.As(err, &ce) || ce.Resource != "flag "+k {
					t.Fatalf("Set = %v, %v; want a *ConflictError on flag %s", got, err, k)
				}
				if v := read(t, rdb, k); v != tc.current {
					t.Fatalf("after a conflict the flag holds %v, want it untouched at %v", v, tc.current)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Set = %v, %v; want %v", got, err, tc.want)
			}
			if v := read(t, rdb, k); v != tc.to {
				t.Fatalf("the flag holds %v, want %v", v, tc.to)
			}
			// A retry, after a crash that came after the write, writes nothing.
			again, err := redisflag.Set(t.Context(), rdb, k, tc.from, tc.to)
			if err != nil || again != ensure.Unchanged {
				t.Fatalf("Set again = %v, %v; want unchanged", again, err)
			}
			if v := read(t, rdb, k); v != tc.to {
				t.Fatalf("after the retry the flag holds %v, want %v", v, tc.to)
			}
		})
	}
}

func TestSetConflictMessage(t *testing.T) {
	rdb := client(t)
	for _, tc := range []struct {
		name          string
		current, from redisflag.Value
		want          string
	}{
		{name: "another value", current: redisflag.Of("x"), from: redisflag.Of("off"), want: `have "x", want "on" (from "off")`},
		{name: "absent", current: redisflag.Absent, from: redisflag.Of("off"), want: `have absent, want "on" (from "off")`},
		{name: "empty", current: redisflag.Of(""), from: redisflag.Absent, want: `have "", want "on" (from absent)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := key(t, rdb)
			state(t, rdb, k, tc.current)
			_, err := redisflag.Set(t.Context(), rdb, k, tc.from, redisflag.Of("on"))
			want := &ensure.ConflictError{Resource: "flag " + k, Diffs: []string{tc.want}}
			var got *ensure.ConflictError
			if !errors.As(err, &got) {
				t.Fatalf("Set: %v; want a *ConflictError", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("conflict (-want +got):\n%s", diff)
			}
			if !errors.Is(err, ensure.ErrConflict) {
				t.Errorf("errors.Is(%v, ErrConflict) = false", err)
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	rdb := client(t)
	for _, tc := range []struct {
		name     string
		current  redisflag.Value
		want     string
		outcome  ensure.Outcome
		conflict bool
	}{
		{name: "absent is created", current: redisflag.Absent, want: "on", outcome: ensure.Created},
		{name: "absent is created empty", current: redisflag.Absent, want: "", outcome: ensure.Created},
		{name: "the wanted value is unchanged", current: redisflag.Of("on"), want: "on", outcome: ensure.Unchanged},
		{name: "another value is a conflict", current: redisflag.Of("off"), want: "on", conflict: true},
		{name: "empty is another value", current: redisflag.Of(""), want: "on", conflict: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := key(t, rdb)
			state(t, rdb, k, tc.current)
			got, err := redisflag.Ensure(t.Context(), rdb, k, tc.want)
			if tc.conflict {
				var ce *ensure.ConflictError
				if !errors.As(err, &ce) {
					t.Fatalf("Ensure = %v, %v; want a *ConflictError", got, err)
				}
				wantDiffs := []string{`have ` + tc.current.String() + `, want "` + tc.want + `"`}
				if diff := cmp.Diff(wantDiffs, ce.Diffs); diff != "" {
					t.Errorf("conflict diffs (-want +got):\n%s", diff)
				}
				if v := read(t, rdb, k); v != tc.current {
					t.Fatalf("after a conflict the flag holds %v, want it untouched at %v", v, tc.current)
				}
				return
			}
			if err != nil || got != tc.outcome {
				t.Fatalf("Ensure = %v, %v; want %v", got, err, tc.outcome)
			}
			again, err := redisflag.Ensure(t.Context(), rdb, k, tc.want)
			if err != nil || again != ensure.Unchanged {
				t.Fatalf("Ensure again = %v, %v; want unchanged", again, err)
			}
			if v := read(t, rdb, k); v != redisflag.Of(tc.want) {
				t.Fatalf("the flag holds %v, want %q", v, tc.want)
			}
		})
	}
}

func TestWrongType(t *testing.T) {
	rdb := client(t)
	for _, tc := range []struct {
		typ  string
		make func(ctx context.Context, k string) error
	}{
		{"hash", func(ctx context.Context, k string) error { return rdb.HSet(ctx, k, "f", "on").Err() }},
		{"list", func(ctx context.Context, k string) error { return rdb.RPush(ctx, k, "on").Err() }},
	} {
		t.Run("a "+tc.typ+" is not a flag", func(t *testing.T) {
			k := key(t, rdb)
			if err := tc.make(t.Context(), k); err != nil {
				t.Fatal(err)
			}
			calls := map[string]func() (ensure.Outcome, error){
				"Set": func() (ensure.Outcome, error) {
					return redisflag.Set(t.Context(), rdb, k, redisflag.Of("on"), redisflag.Absent)
				},
				"Ensure": func() (ensure.Outcome, error) { return redisflag.Ensure(t.Context(), rdb, k, "on") },
			}
			for name, call := range calls {
				_, err := call()
				if !errors.Is(err, redisflag.ErrWrongType) || !strings.Contains(err.Error(), k) || !strings.Contains(err.Error(), tc.typ) {
					t.Errorf("%s: %v; want an error matching ErrWrongType naming %s and %s", name, err, k, tc.typ)
				}
			}
			if typ, err := rdb.Type(t.Context(), k).Result(); err != nil || typ != tc.typ {
				t.Errorf("the key is now a %q (%v), want it left a %s", typ, err, tc.typ)
			}
		})
	}
}

// Writers racing from the same state: the compare and the write are one
// step on the server, so exactly one of them writes.
func TestConcurrentSetsWriteOnce(t *testing.T) {
	rdb := client(t)
	k := key(t, rdb)
	state(t, rdb, k, redisflag.Of("off"))
	targets := []redisflag.Value{redisflag.Of("on"), redisflag.Of("beta")}
	type result struct {
		to      redisflag.Value
		outcome ensure.Outcome
		err     error
	}
	results := make(chan result, 20)
	var wg sync.WaitGroup
	for i := range cap(results) {
		to := targets[i%len(targets)]
		wg.Go(func() {
			o, err := redisflag.Set(t.Context(), rdb, k, redisflag.Of("off"), to)
			results <- result{to, o, err}
		})
	}
	wg.Wait()
	close(results)
	var winners []redisflag.Value
	for r := range results {
		switch {
		case r.err == nil && r.outcome == ensure.Updated:
			winners = append(winners, r.to)
		case r.err == nil && r.outcome == ensure.Unchanged, errors.Is(r.err, ensure.ErrConflict):
		default:
			t.Errorf("Set to %v = %v, %v", r.to, r.outcome, r.err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d writers wrote (%v), want exactly one", len(winners), winners)
	}
	if v := read(t, rdb, k); v != winners[0] {
		t.Errorf("the flag holds %v, want the winner's %v", v, winners[0])
	}
}

func TestSetKeepsTheTimeToLive(t *testing.T) {
	rdb := client(t)
	k := key(t, rdb)
	if err := rdb.Set(t.Context(), k, "off", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := redisflag.Set(t.Context(), rdb, k, redisflag.Of("off"), redisflag.Of("on")); err != nil {
		t.Fatal(err)
	}
	if ttl, err := rdb.TTL(t.Context(), k).Result(); err != nil || ttl <= 0 {
		t.Errorf("TTL after Set = %v, %v; want the expiry kept", ttl, err)
	}
}

func TestCancelledContext(t *testing.T) {
	rdb := client(t)
	k := key(t, rdb)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := redisflag.Set(ctx, rdb, k, redisflag.Absent, redisflag.Of("on")); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with a cancelled context: %v; want context.Canceled", err)
	}
	if v := read(t, rdb, k); v != redisflag.Absent {
		t.Errorf("the flag holds %v, want it absent still", v)
	}
}

func TestEmptyKey(t *testing.T) {
	rdb := client(t)
	if _, err := redisflag.Ensure(t.Context(), rdb, "", "on"); err == nil {
		t.Error("Ensure with an empty key succeeded")
	}
}

func TestValue(t *testing.T) {
	var zero redisflag.Value
	if zero != redisflag.Absent || zero.String() != "absent" {
		t.Errorf("the zero Value is %v, want absent", zero)
	}
	if redisflag.Of("") == redisflag.Absent {
		t.Error(`Of("") equals Absent`)
	}
	for _, tc := range []struct {
		v    redisflag.Value
		s    string
		ok   bool
		text string
	}{
		{redisflag.Absent, "", false, "absent"},
		{redisflag.Of(""), "", true, `""`},
		{redisflag.Of("on"), "on", true, `"on"`},
		{redisflag.Of("a\"b"), "a\"b", true, `"a\"b"`},
	} {
		if s, ok := tc.v.Get(); s != tc.s || ok != tc.ok {
			t.Errorf("%v.Get() = %q, %v; want %q, %v", tc.v, s, ok, tc.s, tc.ok)
		}
		if got := tc.v.String(); got != tc.text {
			t.Errorf("String() = %s, want %s", got, tc.text)
		}
	}
}
