package mongosteps

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.yaml.in/yaml/v3"

	"github.com/flamingock/flamingock-go/internal/mongoname"
)

// File is a parsed, valid steps file. Its methods are safe for concurrent
// use: a File is never modified after Parse.
type File struct {
	name             string
	transactional    bool
	author, recovery string
	steps, undo      []Step
}

// Name is the name the file was parsed under, used in every message.
func (f *File) Name() string { return f.name }

// Transactional reports whether the file may run inside a transaction:
// false when it declares "transactional: false". A file that does not
// declare it holds only operations a transaction can run (Parse refuses
// any other).
func (f *File) Transactional() bool { return f.transactional }

// Author is the file's "author:" key, "" without one: the change's
// author in the audit trail.
func (f *File) Author() string { return f.author }

// Recovery is the file's "recovery:" key, "manual" (the default) or
// "retry": what becomes of the change when it fails or is interrupted
// without a transaction, as recovery= of a Go change.
func (f *File) Recovery() string { return f.recovery }

// HasUndo reports whether the file has an undo list.
func (f *File) HasUndo() bool { return len(f.undo) > 0 }

// Steps returns the steps Apply runs, in order.
func (f *File) Steps() []Step { return slices.Clone(f.steps) }

// UndoSteps returns the steps Undo runs, in order (none without an undo
// list).
func (f *File) UndoSteps() []Step { return slices.Clone(f.undo) }

// Step is one operation of a file. Its fields other than Op and the
// position are the operation's arguments, already converted to BSON.
type Step struct {
	Op   Op
	Line int // of the operation's key
	Col  int

	collection, to, view, viewOn, indexName string
	keys, validator, partial, filter        bson.D
	validationLevel, validationAction       string
	unique, sparse, multi, upsert, dropTgt  bool
	ttl                                     *int32
	documents                               []any
	update                                  any // bson.D of operators or a bson.A pipeline
	pipeline                                bson.A
}

// Op is a step's operation, the key that introduces it in the file.
type Op string

// The operations a file can hold.
const (
	CreateCollection Op = "createCollection"
	DropCollection   Op = "dropCollection"
	CreateIndex      Op = "createIndex"
	DropIndex        Op = "dropIndex"
	Insert           Op = "insert"
	Update           Op = "update"
	Delete           Op = "delete"
	RenameCollection Op = "renameCollection"
	CreateView       Op = "createView"
	DropView         Op = "dropView"
	ModifyCollection Op = "modifyCollection"
)

// Ops returns every operation, in the order the package doc lists them.
func Ops() []Op {
	return []Op{CreateCollection, DropCollection, CreateIndex, DropIndex, Insert, Update, Delete,
		RenameCollection, CreateView, DropView, ModifyCollection}
}

// Transactional reports whether MongoDB can run the operation inside a
// multi-document transaction on every server flamingock-go supports: only
// insert, update and delete. The others are refused (dropCollection,
// dropIndex, renameCollection, collMod, views) or allowed only in part
// (createCollection and createIndex from 4.4, an index only on a
// collection the same transaction created), which is not known when the
// file is checked.
func (o Op) Transactional() bool {
	switch o {
	case Insert, Update, Delete:
		return true
	}
	return false
}

// fieldsOf lists each operation's fields; the required ones first, marked
// with a trailing "!".
func fieldsOf(o Op) []string {
	switch o {
	case CreateCollection:
		return []string{"collection!", "validator", "validationLevel", "validationAction"}
	case DropCollection:
		return []string{"collection!"}
	case CreateIndex:
		return []string{"collection!", "keys!", "name", "unique", "sparse", "partialFilterExpression", "expireAfterSeconds"}
	case DropIndex:
		return []string{"collection!", "name!"}
	case Insert:
		return []string{"collection!", "documents!"}
	case Update:
		return []string{"collection!", "filter!", "update!", "multi", "upsert"}
	case Delete:
		return []string{"collection!", "filter!", "multi"}
	case RenameCollection:
		return []string{"collection!", "to!", "dropTarget"}
	case CreateView:
		return []string{"view!", "viewOn!", "pipeline!"}
	case DropView:
		return []string{"view!"}
	case ModifyCollection:
		return []string{"collection!", "validator", "validationLevel", "validationAction"}
	}
	return nil
}

type parser struct {
	name   string
	data   []byte
	starts []int // of each line
	lines  int
	errs   ErrorList
}

func (p *parser) errAt(line, col int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// errf reports a problem at a node. The YAML library counts columns in
// characters; errors count them in bytes, as Go's tools do.
func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	line, col := max(n.Line, 1), max(n.Column, 1)
	if line > len(p.starts) { // an empty node after the last line break
		line, col = len(p.starts), len(p.data)-p.starts[len(p.starts)-1]+1
	}
	if line <= len(p.starts) {
		start, end := p.starts[line-1], len(p.data)
		if line < len(p.starts) {
			end = p.starts[line]
		}
		text := p.data[start:end]
		i := 0
		for c := 1; c < col && i < len(text); c++ {
			_, size := utf8.DecodeRune(text[i:])
			i += size
		}
		col = i + 1
	}
	p.errAt(line, col, format, args...)
}

// lineStarts returns the offset of each line of data, as YAML breaks
// lines (LF, CRLF, CR, NEL, LS, PS), after a byte order mark.
func lineStarts(data []byte) []int {
	starts := []int{0}
	if bytes.HasPrefix(data, []byte("\uFEFF")) {
		starts[0] = 3
	}
	for i := starts[0]; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == '\r' && i+1 < len(data) && data[i+1] == '\n':
			size = 2
			fallthrough
		case r == '\r' || r == '\n' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			starts = append(starts, i+size)
		}
		i += size
	}
	return starts
}

// Parse reads a steps file (see the package doc for its form) and checks
// everything that can be checked without a server: its YAML, its keys,
// each operation's fields, index specifications, documents, and that a
// file with an operation a transaction cannot run declares
// "transactional: false". name is the file's name in messages. The error
// is an ErrorList holding every problem found, each positioned.
func Parse(name string, data []byte) (*File, error) {
	p := &parser{name: name, data: data}
	if !utf8.Valid(data) {
		line, col := invalidUTF8(data)
		p.errAt(line, col, "invalid UTF-8")
		return nil, p.errs
	}
	p.starts = lineStarts(data)
	p.lines = len(p.starts)
	root, ok := p.decode(data)
	if !ok {
		return nil, p.errs
	}
	f := p.file(root)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		return nil, p.errs
	}
	return f, nil
}

// decode parses the one YAML document of data, reporting syntax errors at
// their line (the YAML library gives no column for them: column 1).
func (p *parser) decode(data []byte) (root *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil { // the YAML library's bug, not the caller's
			p.errAt(1, 1, "invalid YAML: %v", r)
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errAt(1, 1, "empty file: want a mapping with a steps list")
		} else {
			p.syntax(err)
		}
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.errf(&next, "a second YAML document: a steps file holds one")
		return nil, false
	case !errors.Is(err, io.EOF):
		p.syntax(err)
		return nil, false
	}
	if len(doc.Content) != 1 {
		p.errf(&doc, "empty file: want a mapping with a steps list")
		return nil, false
	}
	return doc.Content[0], true
}

func (p *parser) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, found := strings.CutPrefix(msg, "line "); found {
		if num, after, found := strings.Cut(rest, ": "); found {
			if n, convErr := strconv.Atoi(num); convErr == nil {
				if parserErrors[after] {
					n++ // the library prints a parser error's line counting from 0
				}
				line, msg = min(max(n, 1), p.lines), after
			}
		}
	}
	col := 1
	if anchor, found := strings.CutPrefix(msg, "unknown anchor '"); found && line == 1 {
		// The library gives no line for an alias to no anchor: find it.
		if i := bytes.Index(p.data, []byte("*"+strings.TrimSuffix(anchor, "' referenced"))); i >= 0 {
			line, _ = slices.BinarySearch(p.starts, i+1)
			col = i - p.starts[line-1] + 1
		}
	}
	p.errAt(line, col, "invalid YAML: %s", msg)
}

// parserErrors are the messages of the YAML library's parser (as opposed
// to its scanner), whose line it prints counting from 0: the line where
// the construct it could not finish starts.
var parserErrors = map[string]bool{
	"did not find expected ',' or ']'": true, "did not find expected ',' or '}'": true,
	"did not find expected '-' indicator": true, "did not find expected <document start>": true,
	"did not find expected <stream-start>": true, "did not find expected key": true,
	"did not find expected node content": true, "found duplicate %TAG directive": true,
	"found duplicate %YAML directive": true, "found incompatible YAML document": true,
	"found undefined tag handle": true,
}

// invalidUTF8 returns the position of data's first byte that is not UTF-8.
func invalidUTF8(data []byte) (line, col int) {
	bad := 0
	for bad < len(data) {
		r, size := utf8.DecodeRune(data[bad:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		bad += size
	}
	starts := lineStarts(data[:bad])
	return len(starts), bad - starts[len(starts)-1] + 1
}

// mapping reports the keys of a mapping node not among known (a trailing
// "!" marks a required one) or written twice, and the missing required
// ones, at the mapping's owner (the node whose value it is); it returns
// the value of each known key present.
func (p *parser) mapping(n, owner *yaml.Node, what string, known []string) map[string]*yaml.Node {
	got := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = strings.TrimSuffix(k, "!")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errf(k, "a key of %s must be a name, not %s", what, describe(k))
			continue
		}
		if first, dup := keys[k.Value]; dup {
			p.errf(k, "%s written twice in %s (first at %d:%d)", k.Value, what, first.Line, first.Column)
			continue
		}
		keys[k.Value] = k
		if !slices.Contains(names, k.Value) {
			p.errf(k, "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(names, ", "))
			continue
		}
		got[k.Value] = v
	}
	for _, k := range known {
		if name, required := strings.CutSuffix(k, "!"); required && got[name] == nil && keys[name] == nil {
			p.errf(owner, "%s lacks its %s field", what, name)
		}
	}
	return got
}

func (p *parser) file(root *yaml.Node) *File {
	if root.Kind != yaml.MappingNode {
		p.errf(root, "a steps file is a mapping with a steps list, not %s", describe(root))
		return nil
	}
	top := p.mapping(root, root, "the file", []string{"steps!", "undo", "transactional", "author", "recovery"})
	f := &File{name: p.name, transactional: true, recovery: "manual"}
	if n := top["author"]; n != nil {
		f.author = p.str(n, "author")
	}
	if n := top["recovery"]; n != nil {
		switch r := p.str(n, "recovery"); r {
		case "manual", "retry":
			f.recovery = r
		case "":
		default:
			p.errf(n, "recovery must be manual or retry, not %q", r)
		}
	}
	if n := top["transactional"]; n != nil {
		if b, ok := p.boolean(n, "transactional"); ok {
			f.transactional = b
		}
	}
	if n := top["steps"]; n != nil {
		f.steps = p.list(n, "steps")
	}
	if n := top["undo"]; n != nil {
		f.undo = p.list(n, "undo")
	}
	if !f.transactional {
		return f
	}
	for _, s := range slices.Concat(f.steps, f.undo) {
		if !s.Op.Transactional() {
			p.errAt(s.Line, s.Col, "%s cannot run inside a MongoDB transaction: add \"transactional: false\" at the top of the file", s.Op)
		}
	}
	return f
}

func (p *parser) list(n *yaml.Node, what string) []Step {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "%s must be a list of steps, not %s", what, describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errf(n, "%s is empty", what)
		return nil
	}
	var steps []Step
	for _, c := range n.Content {
		if s, ok := p.step(c); ok {
			steps = append(steps, s)
		}
	}
	return steps
}

func (p *parser) step(n *yaml.Node) (Step, bool) {
	if n.Kind == yaml.MappingNode && len(n.Content) > 2 {
		p.errf(n, "a step holds one operation, this one has %d keys: indent the fields under the operation", len(n.Content)/2)
		return Step{}, false
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		p.errf(n, "a step is a mapping of one operation to its fields, such as \"- insert: {collection: users, documents: [...]}\", not %s", describe(n))
		return Step{}, false
	}
	k, v := n.Content[0], n.Content[1]
	op := Op(k.Value)
	known := fieldsOf(op)
	if k.Kind != yaml.ScalarNode || known == nil {
		names := make([]string, 0, 11)
		for _, o := range Ops() {
			names = append(names, string(o))
		}
		p.errf(k, "unknown operation %s (known: %s)", describe(k), strings.Join(names, ", "))
		return Step{}, false
	}
	s := Step{Op: op, Line: k.Line, Col: k.Column}
	if v.Kind != yaml.MappingNode {
		p.errf(v, "%s takes a mapping of its fields, not %s", op, describe(v))
		return s, false
	}
	before := len(p.errs)
	fs := p.mapping(v, k, string(op), known)
	s.collection = p.collectionName(fs["collection"], "collection")
	s.to = p.collectionName(fs["to"], "to")
	s.view = p.collectionName(fs["view"], "view")
	s.viewOn = p.collectionName(fs["viewOn"], "viewOn")
	if n := fs["name"]; n != nil {
		s.indexName = p.str(n, "name")
		if s.indexName == "*" {
			p.errf(n, "index name \"*\" means every index: drop them one by one, by name")
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"unique", &s.unique}, {"sparse", &s.sparse}, {"multi", &s.multi}, {"upsert", &s.upsert}, {"dropTarget", &s.dropTgt}} {
		if n := fs[b.name]; n != nil {
			*b.dst, _ = p.boolean(n, b.name)
		}
	}
	for _, d := range []struct {
		name string
		dst  *bson.D
	}{{"validator", &s.validator}, {"partialFilterExpression", &s.partial}, {"filter", &s.filter}} {
		if n := fs[d.name]; n != nil {
			*d.dst, _ = p.document(n, d.name)
		}
	}
	if n := fs["validationLevel"]; n != nil {
		s.validationLevel = p.oneOf(n, "validationLevel", "off", "strict", "moderate")
	}
	if n := fs["validationAction"]; n != nil {
		s.validationAction = p.oneOf(n, "validationAction", "error", "warn")
	}
	if n := fs["keys"]; n != nil {
		s.keys = p.indexKeys(n)
	}
	if n := fs["expireAfterSeconds"]; n != nil {
		s.ttl = p.ttl(n, fs["keys"])
	}
	if n := fs["documents"]; n != nil {
		s.documents = p.documents(n)
	}
	if n := fs["update"]; n != nil {
		s.update = p.updateSpec(n)
	}
	if n := fs["pipeline"]; n != nil {
		s.pipeline = p.pipeline(n, "pipeline")
	}
	if op == ModifyCollection && fs["validator"] == nil && fs["validationLevel"] == nil && fs["validationAction"] == nil {
		p.errf(k, "modifyCollection changes nothing: give validator, validationLevel or validationAction")
	}
	return s, len(p.errs) == before
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.errf(n, "%s must be a string, not %s", what, describe(n))
		return ""
	}
	if n.Value == "" {
		p.errf(n, "%s is empty", what)
	}
	return n.Value
}

func (p *parser) collectionName(n *yaml.Node, what string) string {
	if n == nil {
		return ""
	}
	s := p.str(n, what)
	if s == "" {
		return ""
	}
	if err := mongoname.Collection(what, s); err != nil {
		p.errf(n, "%v", err)
	}
	return s
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.errf(n, "%s must be true or false, not %s", what, describe(n))
		return false, false
	}
	return b, true
}

func (p *parser) oneOf(n *yaml.Node, what string, values ...string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || !slices.Contains(values, n.Value) {
		p.errf(n, "%s must be one of %s, not %s", what, strings.Join(values, ", "), describe(n))
		return ""
	}
	return n.Value
}

// indexKeys checks an index specification: a non-empty mapping of fields,
// in order, to 1, -1, "text", "2d", "2dsphere" or "hashed".
func (p *parser) indexKeys(n *yaml.Node) bson.D {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.errf(n, "keys must be a non-empty mapping of fields to 1, -1, \"text\", \"2d\", \"2dsphere\" or \"hashed\", not %s", describe(n))
		return nil
	}
	var d bson.D
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, ok := p.key(k, seen)
		if !ok {
			continue
		}
		if key == "" {
			p.errf(k, "empty field name in keys")
			continue
		}
		switch {
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" && (v.Value == "1" || v.Value == "-1"):
			d = append(d, bson.E{Key: key, Value: int32(map[string]int{"1": 1, "-1": -1}[v.Value])})
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && slices.Contains([]string{"text", "2d", "2dsphere", "hashed"}, v.Value):
			d = append(d, bson.E{Key: key, Value: v.Value})
		default:
			p.errf(v, "bad index key %s: %s: want 1 (ascending), -1 (descending), \"text\", \"2d\", \"2dsphere\" or \"hashed\"", key, describe(v))
		}
	}
	return d
}

func (p *parser) ttl(n, keys *yaml.Node) *int32 {
	var v int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil || v < 0 || v > 2147483647 {
		p.errf(n, "expireAfterSeconds must be a whole number of seconds from 0 to 2147483647, not %s", describe(n))
		return nil
	}
	if keys != nil && keys.Kind == yaml.MappingNode && len(keys.Content) > 2 {
		p.errf(n, "expireAfterSeconds needs an index on one field: MongoDB refuses a TTL on a compound index")
	}
	t := int32(v)
	return &t
}

func (p *parser) documents(n *yaml.Node) []any {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errf(n, "documents must be a non-empty list of mappings, not %s", describe(n))
		return nil
	}
	docs := make([]any, 0, len(n.Content))
	for i, c := range n.Content {
		d, _ := p.document(c, fmt.Sprintf("documents[%d]", i))
		docs = append(docs, d)
	}
	return docs
}

// updateSpec checks an update: a mapping of update operators ($set,
// $unset, $inc, …; a replacement document is refused, since it silently
// drops every field it does not name) or an aggregation pipeline.
func (p *parser) updateSpec(n *yaml.Node) any {
	if n.Kind == yaml.SequenceNode {
		return p.pipeline(n, "update")
	}
	d, ok := p.document(n, "update")
	if !ok {
		return nil
	}
	if len(d) == 0 {
		p.errf(n, "update is empty: give operators such as {$set: {field: value}}")
	}
	for i, e := range d {
		if !strings.HasPrefix(e.Key, "$") {
			p.errf(n.Content[2*i], "update field %q is not an operator: write {$set: {%s: …}} (a replacement document is not supported)", e.Key, e.Key)
		}
	}
	return d
}

// pipeline checks an aggregation pipeline: a non-empty list of stages,
// each a mapping of one $-operator.
func (p *parser) pipeline(n *yaml.Node, what string) bson.A {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errf(n, "%s must be a non-empty list of stages such as {$match: {…}}, not %s", what, describe(n))
		return nil
	}
	a := bson.A{}
	for i, c := range n.Content {
		d, ok := p.document(c, fmt.Sprintf("%s[%d]", what, i))
		if !ok {
			continue
		}
		if len(d) != 1 || !strings.HasPrefix(d[0].Key, "$") {
			p.errf(c, "%s[%d] must be one stage, a mapping of one $-operator such as {$match: {…}}", what, i)
			continue
		}
		a = append(a, d)
	}
	return a
}
