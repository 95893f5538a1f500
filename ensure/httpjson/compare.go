package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
)

// decode parses one JSON value, numbers kept as json.Number so that none is
// rounded through a float64.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func equalDocs(a, b *doc) bool {
	if a == nil || b == nil {
		return a == b
	}
	return equal(a.v, b.v)
}

// equal compares decoded JSON values: objects as sets of keys, numbers by
// their decimal value.
func equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, equal)
	case json.Number:
		b, ok := b.(json.Number)
		return ok && canonicalNumber(a) == canonicalNumber(b)
	default: // string, bool, nil
		return a == b
	}
}

// canonicalNumber writes a JSON number so that equal values give equal
// text: sign, significant digits without leading or trailing zeros, and the
// exponent of the first digit ("1.50e2" and "150" give "15e3" read as
// 0.15×10³). Done on the text rather than through big.Rat, whose exponent a
// document could make huge.
func canonicalNumber(n json.Number) string {
	s := string(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	// The value is 0.digits × 10^point.
	point := big.NewInt(int64(len(intPart)))
	if exp != "" {
		e, ok := new(big.Int).SetString(strings.TrimPrefix(exp, "+"), 10)
		if !ok {
			return string(n) // not from a decoder: compared as written
		}
		point.Add(point, e)
	}
	lead := len(digits) - len(strings.TrimLeft(digits, "0"))
	digits = strings.TrimRight(digits[lead:], "0")
	if digits == "" {
		return "0"
	}
	point.Sub(point, big.NewInt(int64(lead)))
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + digits + "e" + point.String()
}

// maxDiffs bounds the lines of a conflict: a document replaced wholesale
// would otherwise give one per field.
const maxDiffs = 10

// diffs says how the document found differs from the one the change leads
// to (or, for a removal, from the one it expects to remove), one line per
// JSON Pointer path.
func diffs(have, from, to *doc) []string {
	ref, startsFrom := to, from != nil
	if to == nil {
		ref, startsFrom = from, false
	}
	var out []string
	switch {
	case have == nil || ref == nil:
		out = []string{fmt.Sprintf("have %s, want %s", render(have), render(ref))}
	default:
		walk(&out, "", have.v, ref.v)
	}
	if len(out) > maxDiffs {
		out = append(out[:maxDiffs], fmt.Sprintf("and %d more differences", len(out)-maxDiffs))
	}
	if startsFrom {
		out = append(out, "nor the state the change starts from: "+render(from))
	}
	return out
}

func walk(out *[]string, path string, have, want any) {
	if equal(have, want) {
		return
	}
	switch h := have.(type) {
	case map[string]any:
		if w, ok := want.(map[string]any); ok {
			keys := make([]string, 0, len(h)+len(w))
			for k := range h {
				keys = append(keys, k)
			}
			for k := range w {
				if _, ok := h[k]; !ok {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				p := path + "/" + escapePointer(k)
				hv, hok := h[k]
				wv, wok := w[k]
				switch {
				case !hok:
					*out = append(*out, fmt.Sprintf("%s: have absent, want %s", p, renderValue(wv)))
				case !wok:
					*out = append(*out, fmt.Sprintf("%s: have %s, want absent", p, renderValue(hv)))
				default:
					walk(out, p, hv, wv)
				}
			}
			return
		}
	case []any:
		if w, ok := want.([]any); ok && len(h) == len(w) {
			for i := range h {
				walk(out, fmt.Sprintf("%s/%d", path, i), h[i], w[i])
			}
			return
		}
	}
	p := path
	if p == "" {
		p = "document"
	}
	*out = append(*out, fmt.Sprintf("%s: have %s, want %s", p, renderValue(have), renderValue(want)))
}

// escapePointer escapes a key for a JSON Pointer (RFC 6901).
func escapePointer(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}

func render(d *doc) string {
	if d == nil {
		return "absent"
	}
	return renderValue(d.v)
}

// renderSize bounds a value quoted in a conflict.
const renderSize = 80

func renderValue(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if len(b) > renderSize {
		return strings.ToValidUTF8(string(b[:renderSize]), "\uFFFD") + "…"
	}
	return string(b)
}
