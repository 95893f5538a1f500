package redisflag

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/flamingock/flamingock-go/ensure"
)

// Value is the state of a flag: a string, or Absent (no key). The zero Value
// is Absent; Of("") is a present empty string, a different state.
type Value struct {
	s   string
	set bool
}

// Absent is the state of a flag whose key does not exist.
var Absent Value

// Of returns the Value of a flag holding s.
func Of(s string) Value { return Value{s: s, set: true} }

// Get returns the string the flag holds and true, or "" and false if the
// Value is Absent.
func (v Value) Get() (string, bool) { return v.s, v.set }

// String returns "absent" for Absent and the quoted string otherwise, as
// conflict messages show it.
func (v Value) String() string {
	if !v.set {
		return "absent"
	}
	return strconv.Quote(v.s)
}

// ErrWrongType is matched (errors.Is) by the error of a helper that found
// the key holding another type than a string (a hash, a list): it is not a
// flag, and is left untouched.
var ErrWrongType = errors.New("WRONGTYPE: not a string key")

// casScript compares the key with ARGV's `to` then `from` and writes `to`
// when it found `from`, in one step on the server. A Value travels as two
// arguments: "1" and the string if present, "0" and "" if absent. The reply
// says what it found, so that the Go side builds the outcome or the
// conflict:
//
//	{"wrongtype", <type>} | {"unchanged"} | {"written"} | {"conflict", "0"} | {"conflict", "1", <value>}
//
// TYPE before GET, rather than a GET that fails, lets the reply name the
// type the key holds.
const casScript = `
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'none' and t ~= 'string' then
	return {'wrongtype', t}
end
local cur = false
if t == 'string' then
	cur = redis.call('GET', KEYS[1])
end
local function holds(set, s)
	if set == '1' then
		return cur ~= false and cur == s
	end
	return cur == false
end
if holds(ARGV[3], ARGV[4]) then
	return {'unchanged'}
end
if not holds(ARGV[1], ARGV[2]) then
	if cur == false then
		return {'conflict', '0'}
	end
	return {'conflict', '1', cur}
end
if ARGV[3] == '1' then
	redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
else
	redis.call('DEL', KEYS[1])
end
return {'written'}
`

// cas is immutable once built: it holds the source and its SHA1, which Run
// tries first (EVALSHA) before sending the source.
var cas = redis.NewScript(casScript)

// Set moves the flag at key from one Value to the other: found `to`, it
// writes nothing and returns ensure.Unchanged; found `from`, it writes `to`
// (DEL for Absent) and returns ensure.Created (from Absent), ensure.Deleted
// (to Absent) or ensure.Updated; found anything else, it writes nothing and
// returns a *ensure.ConflictError. A key holding another type than a string
// gives an error matching ErrWrongType.
func Set(ctx context.Context, rdb redis.Scripter, key string, from, to Value) (ensure.Outcome, error) {
	written, err := run(ctx, rdb, key, from, to, fmt.Sprintf("want %v (from %v)", to, from))
	if err != nil || !written {
		return ensure.Unchanged, err
	}
	switch {
	case !from.set:
		return ensure.Created, nil
	case !to.set:
		return ensure.Deleted, nil
	default:
		return ensure.Updated, nil
	}
}

// Ensure creates the flag at key holding want if the key is absent
// (ensure.Created), and verifies it otherwise: holding want gives
// ensure.Unchanged, holding anything else a *ensure.ConflictError, with
// nothing written.
func Ensure(ctx context.Context, rdb redis.Scripter, key string, want string) (ensure.Outcome, error) {
	written, err := run(ctx, rdb, key, Absent, Of(want), fmt.Sprintf("want %v", Of(want)))
	if err != nil || !written {
		return ensure.Unchanged, err
	}
	return ensure.Created, nil
}

// run executes casScript and reports whether it wrote; wantText ends the
// conflict message ("want "on" (from "off")").
func run(ctx context.Context, rdb redis.Scripter, key string, from, to Value, wantText string) (bool, error) {
	if key == "" {
		return false, errors.New("redisflag: empty key")
	}
	reply, err := cas.Run(ctx, rdb, []string{key}, args(from, to)...).StringSlice()
	if err != nil {
		return false, fmt.Errorf("flag %s: %w", key, err)
	}
	if len(reply) == 0 {
		return false, fmt.Errorf("flag %s: empty reply from the compare-and-set script", key)
	}
	switch {
	case reply[0] == "unchanged":
		return false, nil
	case reply[0] == "written":
		return true, nil
	case reply[0] == "wrongtype" && len(reply) == 2:
		return false, fmt.Errorf("flag %s: the key holds a %s: %w", key, reply[1], ErrWrongType)
	case reply[0] == "conflict" && len(reply) == 2:
		return false, conflict(key, Absent, wantText)
	case reply[0] == "conflict" && len(reply) == 3:
		return false, conflict(key, Of(reply[2]), wantText)
	}
	return false, fmt.Errorf("flag %s: unexpected reply %q from the compare-and-set script", key, reply)
}

func args(from, to Value) []any {
	return []any{flagArg(from.set), from.s, flagArg(to.set), to.s}
}

func flagArg(set bool) string {
	if set {
		return "1"
	}
	return "0"
}

func conflict(key string, have Value, wantText string) error {
	return &ensure.ConflictError{
		Resource: "flag " + key,
		Diffs:    []string{fmt.Sprintf("have %v, %s", have, wantText)},
	}
}
