package mongo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// fields reads a stored document strictly: every field asked for must be
// present with the BSON type the store writes, and the document must hold
// no field that was not asked for. The first problem sticks; err reports it
// once every field has been read.
type fields struct {
	doc     bson.Raw
	used    map[string]bool
	problem error
}

func newFields(doc bson.Raw) *fields {
	f := &fields{doc: doc, used: map[string]bool{}}
	if err := doc.Validate(); err != nil {
		f.problem = fmt.Errorf("malformed BSON: %w", err)
	}
	return f
}

// value returns field name when it has type t.
func (f *fields) value(name string, t bson.Type) (bson.RawValue, bool) {
	if f.problem != nil {
		return bson.RawValue{}, false
	}
	f.used[name] = true
	v, err := f.doc.LookupErr(name)
	switch {
	case err != nil:
		f.problem = fmt.Errorf("field %s is missing", name)
		return bson.RawValue{}, false
	case v.Type != t:
		f.problem = fmt.Errorf("field %s is a BSON %s, want %s", name, v.Type, t)
		return bson.RawValue{}, false
	}
	return v, true
}

func (f *fields) string(name string) string {
	v, ok := f.value(name, bson.TypeString)
	if !ok {
		return ""
	}
	return v.StringValue()
}

func (f *fields) int64(name string) int64 {
	v, ok := f.value(name, bson.TypeInt64)
	if !ok {
		return 0
	}
	return v.Int64()
}

// orderFields is the stored form of o and the schema version of the
// document that holds it. An order that fits int64 is stored as before
// layout 2, an int64 in field order. A larger one is stored as its decimal
// digits, a string, in order, and their number in order_digits, which a
// document of schema version 1 does not have: so sorting by order_digits,
// then order, sorts every entry by its order as a number (see the package
// documentation). Decimal128 would keep only 34 digits, and FerretDB 1.24
// drops the connection on one.
func orderFields(o audit.Order) (version int64, fields bson.D) {
	if n, ok := o.Int64(); ok {
		return schemaVersion1, bson.D{{Key: "order", Value: n}}
	}
	digits := o.String()
	return schemaVersion, bson.D{{Key: "order", Value: digits}, {Key: "order_digits", Value: int64(len(digits))}}
}

// order reads the order of a document of schema version v, as orderFields
// stores it. Each order has one stored form, so that the sort by order puts
// it in its place: an order of version 2 that fits int64, or that has
// leading zeros, is refused.
func (f *fields) order(v int64) audit.Order {
	if v == schemaVersion1 {
		n := f.int64("order")
		if n < 0 && f.problem == nil {
			f.problem = errors.New("field order is negative")
		}
		return audit.OrderOf(uint64(n))
	}
	digits, n := f.string("order"), f.int64("order_digits")
	if f.problem != nil {
		return audit.Order{}
	}
	o, err := audit.ParseOrder(digits)
	_, fits := o.Int64()
	switch {
	case err != nil:
		f.problem = fmt.Errorf("field order: %w", err)
	case o.String() != digits || fits:
		f.problem = fmt.Errorf("field order %q is not the stored form of an order beyond int64", digits)
	case n != int64(len(digits)):
		f.problem = fmt.Errorf("field order_digits is %d, but order has %d digits", n, len(digits))
	}
	return o
}

func (f *fields) time(name string) time.Time {
	v, ok := f.value(name, bson.TypeDateTime)
	if !ok {
		return time.Time{}
	}
	return time.UnixMilli(v.DateTime()).UTC()
}

// optionalString returns field name, or "" when the document lacks it.
func (f *fields) optionalString(name string) string {
	if f.problem == nil {
		if _, err := f.doc.LookupErr(name); err != nil {
			f.used[name] = true
			return ""
		}
	}
	return f.string(name)
}

// sub reads the subdocument name strictly as well; its problems are
// reported as problems of f.
func (f *fields) sub(name string, read func(*fields)) {
	v, ok := f.value(name, bson.TypeEmbeddedDocument)
	if !ok {
		return
	}
	s := newFields(v.Document())
	read(s)
	if err := s.err(); err != nil {
		f.problem = fmt.Errorf("in %s: %w", name, err)
	}
}

// err returns the first problem met, or an error naming the fields the
// document holds that were not asked for.
func (f *fields) err() error {
	if f.problem != nil {
		return f.problem
	}
	elems, err := f.doc.Elements()
	if err != nil {
		return fmt.Errorf("malformed BSON: %w", err)
	}
	var extra []string
	for _, e := range elems {
		if !f.used[e.Key()] {
			extra = append(extra, e.Key())
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("unexpected fields %s", strings.Join(extra, ", "))
	}
	return nil
}

// errNotStore is the cause of a CorruptError for a document the store
// did not write.
var errNotStore = errors.New("not a document of a flamingock-go audit store")

// describeID names a document by its _id for error messages, whatever its
// type.
func describeID(doc bson.Raw) string {
	id, err := doc.LookupErr("_id")
	if err != nil {
		return "document without _id"
	}
	if seq, ok := id.Int64OK(); ok {
		return fmt.Sprintf("document seq %d", seq)
	}
	return fmt.Sprintf("document _id %s (a BSON %s)", id, id.Type)
}

// docVersion checks a document's _id and schema_version before its
// fields are read, so that a document of a newer release is reported as
// such rather than as a missing field.
func docVersion(f *fields) (seq, version int64, err error) {
	seq = f.int64("_id")
	if f.problem != nil {
		return 0, 0, fmt.Errorf("%w: its _id is not a seq (%v)", errNotStore, f.problem)
	}
	if v, lookupErr := f.doc.LookupErr("schema_version"); lookupErr == nil {
		if n, ok := v.AsInt64OK(); ok && n > schemaVersion {
			return seq, 0, fmt.Errorf("written with schema version %d by a newer flamingock-go (this one reads versions up to %d): upgrade flamingock-go", n, schemaVersion)
		}
	}
	version = f.int64("schema_version")
	if f.problem == nil && version < schemaVersion1 {
		return seq, 0, fmt.Errorf("unknown schema version %d", version)
	}
	return seq, version, f.problem
}
