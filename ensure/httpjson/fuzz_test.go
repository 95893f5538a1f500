package httpjson

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// FuzzCanonicalNumber checks canonicalNumber against exact arithmetic: two
// JSON numbers get the same text exactly when big.Rat finds them equal.
// A wrong answer either way is a bug a user would meet: a document taken
// for changed (a needless write) or, worse, for unchanged (a write skipped).
func FuzzCanonicalNumber(f *testing.F) {
	for _, s := range [][2]string{
		{"1", "1.0"}, {"10e-1", "1"}, {"1.5e2", "150"}, {"0.1", "0.10000000000000001"},
		{"-0", "0"}, {"0e5", "0.000"}, {"-12.3400E+5", "-1234000"}, {"1e400", "1E+400"},
		{"100", "1e2"}, {"0.001", "1e-3"}, {"-1", "1"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ra, ok := exact(a)
		if !ok {
			return
		}
		rb, ok := exact(b)
		if !ok {
			return
		}
		same := canonicalNumber(json.Number(a)) == canonicalNumber(json.Number(b))
		if want := ra.Cmp(rb) == 0; same != want {
			t.Fatalf("canonicalNumber(%q) = %q, canonicalNumber(%q) = %q: equal %v, but the values are equal: %v",
				a, canonicalNumber(json.Number(a)), b, canonicalNumber(json.Number(b)), same, want)
		}
	})
}

// exact returns the value of s when s is one JSON number whose exponent is
// small enough for big.Rat to expand quickly.
func exact(s string) (*big.Rat, bool) {
	v, err := decode([]byte(s))
	if err != nil {
		return nil, false
	}
	n, ok := v.(json.Number)
	if !ok || string(n) != s {
		return nil, false
	}
	if _, e, found := strings.Cut(strings.ToLower(s), "e"); found {
		if x, err := strconv.Atoi(e); err != nil || x > 400 || x < -400 {
			return nil, false
		}
	}
	return new(big.Rat).SetString(s)
}
