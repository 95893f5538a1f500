package httpjson

import "testing"

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		equal bool
	}{
		{`1`, `1.0`, true},
		{`1`, `1e0`, true},
		{`1`, `10e-1`, true},
		{`1`, `0.1E+1`, true},
		{`150`, `1.50e2`, true},
		{`0.015`, `15e-3`, true},
		{`0`, `-0`, true},
		{`0`, `0.000e5`, true},
		{`-1.5`, `-15e-1`, true},
		{`1e400`, `10e399`, true},
		{`1e400`, `1e401`, false},
		{`1e99999999999999999999`, `1e99999999999999999999`, true},
		{`1e99999999999999999999`, `1e99999999999999999998`, false},
		{`0.1`, `0.10000000000000001`, false},
		{`12345678901234567890`, `12345678901234567891`, false},
		{`1`, `-1`, false},
		{`1`, `"1"`, false},
		{`100`, `1`, false},
		{`{"a":1,"b":[1,2]}`, ` { "b" : [ 1 , 2.0 ] , "a" : 1 } `, true},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
		{`[1,2]`, `[2,1]`, false},
		{`[]`, `{}`, false},
		{`null`, `false`, false},
		{`"é"`, `"\u00e9"`, true},
	} {
		a, err := decode([]byte(tc.a))
		if err != nil {
			t.Fatalf("decode %s: %v", tc.a, err)
		}
		b, err := decode([]byte(tc.b))
		if err != nil {
			t.Fatalf("decode %s: %v", tc.b, err)
		}
		if got := equal(a, b); got != tc.equal {
			t.Errorf("equal(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.equal)
		}
		if got := equal(b, a); got != tc.equal {
			t.Errorf("equal(%s, %s) = %v, want %v", tc.b, tc.a, got, tc.equal)
		}
	}
}

func TestDiffsAreBounded(t *testing.T) {
	have, want := map[string]any{}, map[string]any{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		have[k] = k
	}
	got := diffs(&doc{have}, nil, &doc{want})
	if len(got) != maxDiffs+1 || got[maxDiffs] != "and 2 more differences" {
		t.Errorf("diffs = %q; want %d lines and a count of the rest", got, maxDiffs)
	}
}
