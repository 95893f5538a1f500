package mongosteps

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.yaml.in/yaml/v3"
)

// extJSONKeys are the keys that make a mapping an Extended JSON value
// ({$oid: …}, {$date: …}) rather than a document. $regex is not among
// them: it is also the query operator, and stays a key.
var extJSONKeys = map[string]bool{
	"$oid": true, "$date": true, "$numberInt": true, "$numberLong": true,
	"$numberDouble": true, "$numberDecimal": true, "$binary": true,
	"$uuid": true, "$timestamp": true, "$regularExpression": true,
	"$minKey": true, "$maxKey": true, "$symbol": true, "$code": true,
	"$undefined": true, "$dbPointer": true,
}

// document converts a mapping to a BSON document, keys in the order
// written. what names the value in messages ("filter", "documents[2]").
func (p *parser) document(n *yaml.Node, what string) (bson.D, bool) {
	if n.Kind == yaml.AliasNode {
		p.value(n) // reports it
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s must be a mapping, not %s", what, describe(n))
		return nil, false
	}
	v, ok := p.value(n)
	if !ok {
		return nil, false
	}
	d, isDoc := v.(bson.D)
	if !isDoc {
		p.errf(n, "%s must be a document, not an Extended JSON value", what)
		return nil, false
	}
	return d, true
}

// value converts any YAML node to a BSON value: a mapping to bson.D (or,
// when it has an Extended JSON key, to the value it denotes), a sequence
// to bson.A, a scalar by its YAML type. Problems are reported; ok is false
// if there were any.
func (p *parser) value(n *yaml.Node) (any, bool) {
	switch n.Kind {
	case yaml.AliasNode:
		p.errf(n, "aliases (*%s) are not supported: write the value out", n.Value)
		return nil, false
	case yaml.SequenceNode:
		a := bson.A{}
		ok := true
		for _, c := range n.Content {
			v, cok := p.value(c)
			ok = ok && cok
			a = append(a, v)
		}
		return a, ok
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && extJSONKeys[k.Value] {
				return p.extJSON(n)
			}
		}
		d := bson.D{}
		ok := true
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key, kok := p.key(k, seen)
			val, vok := p.value(v)
			ok = ok && kok && vok
			d = append(d, bson.E{Key: key, Value: val})
		}
		return d, ok
	case yaml.ScalarNode:
		return p.scalar(n)
	}
	p.errf(n, "unexpected YAML node")
	return nil, false
}

// key checks a document key: a scalar, not the merge key, no NUL (BSON
// keys are C strings), not written twice in one mapping.
func (p *parser) key(k *yaml.Node, seen map[string]*yaml.Node) (string, bool) {
	switch {
	case k.Kind != yaml.ScalarNode:
		p.errf(k, "a key must be a plain value, not %s", describe(k))
		return "", false
	case k.ShortTag() == "!!merge":
		p.errf(k, "merge keys (<<) are not supported: write the fields out")
		return "", false
	case k.ShortTag() == "!!null" && k.Value != "null":
		p.errf(k, "empty key")
		return "", false
	case strings.IndexByte(k.Value, 0) >= 0:
		p.errf(k, "key %q contains NUL, which BSON keys cannot", k.Value)
		return "", false
	}
	if first, dup := seen[k.Value]; dup {
		p.errf(k, "key %q written twice in one mapping (first at %d:%d)", k.Value, first.Line, first.Column)
		return "", false
	}
	seen[k.Value] = k
	return k.Value, true
}

func (p *parser) scalar(n *yaml.Node) (any, bool) {
	switch n.ShortTag() {
	case "!!null":
		return nil, true
	case "!!str":
		return n.Value, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			p.errf(n, "invalid boolean %q", n.Value)
			return nil, false
		}
		return b, true
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			p.errf(n, "integer %s out of range of a 64-bit integer: write {$numberDecimal: \"%s\"} or a string", n.Value, n.Value)
			return nil, false
		}
		if i >= math.MinInt32 && i <= math.MaxInt32 {
			return int32(i), true
		}
		return i, true
	case "!!float":
		if isInteger(n.Value) { // too large for int64: YAML would make it an inexact double
			p.errf(n, "integer %s out of range of a 64-bit integer: write {$numberDecimal: \"%s\"} or a string", n.Value, n.Value)
			return nil, false
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			p.errf(n, "invalid number %q", n.Value)
			return nil, false
		}
		return f, true
	case "!!timestamp":
		date := n.Value
		if len(date) == len("2006-01-02") {
			date += "T00:00:00Z"
		}
		p.errf(n, "%s looks like a date: write {$date: \"%s\"} for a date (RFC 3339), or quote it for a string", n.Value, date)
		return nil, false
	}
	p.errf(n, "unsupported YAML tag %s: use Extended JSON ({$binary: …}, {$date: …}) for BSON types YAML lacks", n.Tag)
	return nil, false
}

// extJSON converts a mapping holding an Extended JSON key ({$oid: "…"},
// {$date: "…"}, {$numberLong: "…"}) through the driver's own parser.
func (p *parser) extJSON(n *yaml.Node) (any, bool) {
	var b strings.Builder
	b.WriteString(`{"v":`)
	if !p.toJSON(&b, n) {
		return nil, false
	}
	b.WriteString("}")
	var d bson.D
	if err := bson.UnmarshalExtJSON([]byte(b.String()), false, &d); err != nil || len(d) != 1 {
		msg := "invalid Extended JSON value"
		if err != nil {
			msg += ": " + err.Error()
		}
		p.errf(n, "%s", msg)
		return nil, false
	}
	return d[0].Value, true
}

// toJSON writes n as JSON text. Inside an Extended JSON value a date-like
// scalar is the string it is written as.
func (p *parser) toJSON(b *strings.Builder, n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, ok := p.key(n.Content[i], seen)
			if !ok {
				return false
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			if !p.toJSON(b, n.Content[i+1]) {
				return false
			}
		}
		b.WriteByte('}')
		return true
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if !p.toJSON(b, c) {
				return false
			}
		}
		b.WriteByte(']')
		return true
	case yaml.ScalarNode:
		if n.ShortTag() == "!!timestamp" {
			writeJSONString(b, n.Value)
			return true
		}
		v, ok := p.scalar(n)
		if !ok {
			return false
		}
		switch v := v.(type) {
		case nil:
			b.WriteString("null")
		case string:
			writeJSONString(b, v)
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case int32:
			b.WriteString(strconv.FormatInt(int64(v), 10))
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				p.errf(n, "%s cannot be written in Extended JSON as a number: write {$numberDouble: \"%s\"}", n.Value, jsonSpecial(v))
				return false
			}
			s := strconv.FormatFloat(v, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eE") {
				s += ".0" // stays a double
			}
			b.WriteString(s)
		}
		return true
	}
	p.errf(n, "aliases (*%s) are not supported: write the value out", n.Value)
	return false
}

func jsonSpecial(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f > 0:
		return "Infinity"
	}
	return "-Infinity"
}

func writeJSONString(b *strings.Builder, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// describe names the kind of a node for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

// isInteger reports whether a scalar is written as a decimal integer.
func isInteger(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.Trim(s, "0123456789_") == ""
}
