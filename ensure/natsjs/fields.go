package natsjs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A field is one setting of a configuration (C is jetstream.StreamConfig
// or jetstream.ConsumerConfig) that the helpers compare, named as NATS
// names it in JSON so that a diff reads like the server's own output.
type field[C any] struct {
	name   string
	isZero func(c *C) bool
	equal  func(a, b *C) bool
	show   func(c *C) string
	copy   func(dst, src *C)
}

// scalar is a field holding one comparable value.
func scalar[C any, T comparable](name string, p func(*C) *T) field[C] {
	return field[C]{
		name:   name,
		isZero: func(c *C) bool { var zero T; return *p(c) == zero },
		equal:  func(a, b *C) bool { return *p(a) == *p(b) },
		show:   func(c *C) string { return showValue(*p(c)) },
		copy:   func(dst, src *C) { *p(dst) = *p(src) },
	}
}

// policy is a field holding an enumeration whose zero value is a choice
// of its own, the one the server makes when the field is unset (limits
// retention, file storage, explicit acks…): it is always compared, so that
// a want of file storage finds a stream kept in memory.
func policy[C any, T comparable](name string, p func(*C) *T) field[C] {
	f := scalar(name, p)
	f.isZero = func(*C) bool { return false }
	return f
}

// stringSet is a field holding a list of strings whose order and
// repetitions mean nothing (the subjects of a stream).
func stringSet[C any](name string, p func(*C) *[]string) field[C] {
	return field[C]{
		name:   name,
		isZero: func(c *C) bool { return len(*p(c)) == 0 },
		equal:  func(a, b *C) bool { return slices.Equal(setOf(*p(a)), setOf(*p(b))) },
		show:   func(c *C) string { return "[" + strings.Join(setOf(*p(c)), " ") + "]" },
		copy:   func(dst, src *C) { *p(dst) = slices.Clone(*p(src)) },
	}
}

// durationList is a field holding durations in order (a backoff).
func durationList[C any](name string, p func(*C) *[]time.Duration) field[C] {
	return field[C]{
		name:   name,
		isZero: func(c *C) bool { return len(*p(c)) == 0 },
		equal:  func(a, b *C) bool { return slices.Equal(*p(a), *p(b)) },
		show:   func(c *C) string { return fmt.Sprint(*p(c)) },
		copy:   func(dst, src *C) { *p(dst) = slices.Clone(*p(src)) },
	}
}

// timePtr is a field holding an optional instant.
func timePtr[C any](name string, p func(*C) **time.Time) field[C] {
	return field[C]{
		name:   name,
		isZero: func(c *C) bool { return *p(c) == nil },
		equal: func(a, b *C) bool {
			ta, tb := *p(a), *p(b)
			return ta == nil && tb == nil || ta != nil && tb != nil && ta.Equal(*tb)
		},
		show: func(c *C) string {
			if t := *p(c); t != nil {
				return t.UTC().Format(time.RFC3339Nano)
			}
			return "unset"
		},
		copy: func(dst, src *C) { *p(dst) = *p(src) },
	}
}

func setOf(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// showValue prints a value as NATS writes it in JSON where the type says
// so (policies: "workqueue", "file"), otherwise as Go prints it (durations:
// "1h0m0s", numbers).
func showValue(v any) string {
	if m, ok := v.(json.Marshaler); ok {
		if b, err := m.MarshalJSON(); err == nil {
			var s string
			if json.Unmarshal(b, &s) == nil {
				return s
			}
			return string(b)
		}
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// diffs lists, one line each, the fields of want that have does not hold.
// A field is compared when it is set in want or listed in force.
func diffs[C any](fields []field[C], have, want *C, force map[string]bool) []string {
	var out []string
	for _, f := range fields {
		if f.isZero(want) && !force[f.name] {
			continue
		}
		if !f.equal(have, want) {
			out = append(out, fmt.Sprintf("%s: have %s, want %s", f.name, f.show(have), f.show(want)))
		}
	}
	return out
}
