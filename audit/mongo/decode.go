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

// order reads an order stored by orderValue.
func (f *fields) order(name string) audit.Order {
	n := f.int64(name)
	if n < 0 && f.problem == nil {
		f.problem = fmt.Errorf("field %s is negative", name)
	}
	return audit.OrderOf(uint64(n))
}

// orderValue is the stored form of o.
func orderValue(o audit.Order) any {
	if n, ok := o.Int64(); ok {
		return n
	}
	return o.String()
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
func docVersion(f *fields) (seq int64, err error) {
	seq = f.int64("_id")
	if f.problem != nil {
		return 0, fmt.Errorf("%w: its _id is not a seq (%v)", errNotStore, f.problem)
	}
	if v, lookupErr := f.doc.LookupErr("schema_version"); lookupErr == nil {
		if n, ok := v.AsInt64OK(); ok && n > schemaVersion {
			return seq, fmt.Errorf("written with schema version %d by a newer flamingock-go (this one reads version %d): upgrade flamingock-go", n, schemaVersion)
		}
	}
	if n := f.int64("schema_version"); f.problem == nil && n < 1 {
		return seq, fmt.Errorf("unknown schema version %d", n)
	}
	return seq, f.problem
}
