package mongosteps_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/flamingock/flamingock-go/runtime/mongosteps"
)

// example is the file of the package doc.
const example = `transactional: false          # createCollection and createIndex need it
steps:
  - createCollection:
      collection: users
      validator:
        $jsonSchema:
          bsonType: object
          required: [email]
      validationLevel: moderate # off, strict or moderate
      validationAction: error   # error or warn
  - createIndex:
      collection: users
      keys: {email: 1}          # in order; 1, -1, text, 2d, 2dsphere, hashed
      name: email_1
      unique: true
      partialFilterExpression: {email: {$exists: true}}
  - insert:
      collection: users
      documents:
        - _id: {$oid: "65b9f0c2a1b2c3d4e5f60718"}
          email: ada@example.com
          born: {$date: "1815-12-10T00:00:00Z"}
          visits: 3
          tags: [admin, founder]
        - {email: bob@example.com, visits: 0}
  - update:
      collection: users
      filter: {visits: 0}
      update: {$set: {dormant: true}}
      multi: true               # every match; one without it
  - delete:
      collection: users
      filter: {email: bob@example.com}
undo:
  - dropIndex: {collection: users, name: email_1}
  - dropCollection: {collection: users}
`

func TestParseReadsTheExampleOfThePackageDoc(t *testing.T) {
	f, err := mongosteps.Parse("0001_users.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != "0001_users.yaml" || f.Transactional() || !f.HasUndo() {
		t.Errorf("Name, Transactional, HasUndo = %q, %v, %v; want 0001_users.yaml, false, true", f.Name(), f.Transactional(), f.HasUndo())
	}
	type step struct {
		Op        mongosteps.Op
		Line, Col int
		Args      map[string]any
	}
	steps := func(ss []mongosteps.Step) []step {
		var out []step
		for _, s := range ss {
			out = append(out, step{s.Op, s.Line, s.Col, s.Args()})
		}
		return out
	}
	oid, _ := bson.ObjectIDFromHex("65b9f0c2a1b2c3d4e5f60718")
	born := bson.NewDateTimeFromTime(time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC))
	want := []step{
		{mongosteps.CreateCollection, 3, 5, map[string]any{
			"collection":       "users",
			"validator":        bson.D{{Key: "$jsonSchema", Value: bson.D{{Key: "bsonType", Value: "object"}, {Key: "required", Value: bson.A{"email"}}}}},
			"validationLevel":  "moderate",
			"validationAction": "error",
		}},
		{mongosteps.CreateIndex, 11, 5, map[string]any{
			"collection":              "users",
			"keys":                    bson.D{{Key: "email", Value: int32(1)}},
			"name":                    "email_1",
			"unique":                  true,
			"partialFilterExpression": bson.D{{Key: "email", Value: bson.D{{Key: "$exists", Value: true}}}},
		}},
		{mongosteps.Insert, 17, 5, map[string]any{
			"collection": "users",
			"documents": []any{
				bson.D{{Key: "_id", Value: oid}, {Key: "email", Value: "ada@example.com"}, {Key: "born", Value: born},
					{Key: "visits", Value: int32(3)}, {Key: "tags", Value: bson.A{"admin", "founder"}}},
				bson.D{{Key: "email", Value: "bob@example.com"}, {Key: "visits", Value: int32(0)}},
			},
		}},
		{mongosteps.Update, 26, 5, map[string]any{
			"collection": "users",
			"filter":     bson.D{{Key: "visits", Value: int32(0)}},
			"update":     bson.D{{Key: "$set", Value: bson.D{{Key: "dormant", Value: true}}}},
			"multi":      true,
		}},
		{mongosteps.Delete, 31, 5, map[string]any{
			"collection": "users",
			"filter":     bson.D{{Key: "email", Value: "bob@example.com"}},
		}},
	}
	if diff := cmp.Diff(want, steps(f.Steps())); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	wantUndo := []step{
		{mongosteps.DropIndex, 35, 5, map[string]any{"collection": "users", "name": "email_1"}},
		{mongosteps.DropCollection, 36, 5, map[string]any{"collection": "users"}},
	}
	if diff := cmp.Diff(wantUndo, steps(f.UndoSteps())); diff != "" {
		t.Errorf("undo (-want +got):\n%s", diff)
	}
}

func TestParseConvertsValuesToBSON(t *testing.T) {
	src := `steps:
  - insert:
      collection: c
      documents:
        - small: 7
          large: 3000000000
          negative: -2147483649
          hex: 0x1F
          double: 2.0
          exp: 1e3
          inf: .inf
          str: "2024-01-31"
          plain: hello
          yes: yes
          bool: true
          nil: null
          tilde: ~
          list: [1, "1", [true]]
          nested: {b: 1, a: 2}
          long: {$numberLong: "7"}
          dec: {$numberDecimal: "19.99"}
          bin: {$binary: {base64: "aGk=", subType: "00"}}
          date: {$date: 2024-01-31T10:00:00Z}
          regex: {$regex: "^a", $options: i}
          emptyDoc: {}
          emptyList: []
`
	f, err := mongosteps.Parse("v.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := bson.ParseDecimal128("19.99")
	want := bson.D{
		{Key: "small", Value: int32(7)},
		{Key: "large", Value: int64(3000000000)},
		{Key: "negative", Value: int64(-2147483649)},
		{Key: "hex", Value: int32(31)},
		{Key: "double", Value: 2.0},
		{Key: "exp", Value: 1000.0},
		{Key: "inf", Value: math.Inf(1)},
		{Key: "str", Value: "2024-01-31"},
		{Key: "plain", Value: "hello"},
		{Key: "yes", Value: "yes"}, // YAML 1.2: yes is a string
		{Key: "bool", Value: true},
		{Key: "nil", Value: nil},
		{Key: "tilde", Value: nil},
		{Key: "list", Value: bson.A{int32(1), "1", bson.A{true}}},
		{Key: "nested", Value: bson.D{{Key: "b", Value: int32(1)}, {Key: "a", Value: int32(2)}}},
		{Key: "long", Value: int64(7)},
		{Key: "dec", Value: dec},
		{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte("hi")}},
		{Key: "date", Value: bson.NewDateTimeFromTime(time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC))},
		{Key: "regex", Value: bson.D{{Key: "$regex", Value: "^a"}, {Key: "$options", Value: "i"}}},
		{Key: "emptyDoc", Value: bson.D{}},
		{Key: "emptyList", Value: bson.A{}},
	}
	got := f.Steps()[0].Args()["documents"].([]any)[0]
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b bson.Decimal128) bool { return a.String() == b.String() })); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
}

func TestParseOfATransactionalFile(t *testing.T) {
	f, err := mongosteps.Parse("t.yaml", []byte(`steps:
  - update: {collection: c, filter: {}, update: [{$set: {a: 1}}], upsert: true}
  - delete: {collection: c, filter: {a: {$gt: 1}}, multi: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Author() != "" || f.Recovery() != "manual" {
		t.Errorf("Author, Recovery = %q, %q; want none, manual", f.Author(), f.Recovery())
	}
	if !f.Transactional() || f.HasUndo() || len(f.UndoSteps()) != 0 {
		t.Errorf("Transactional, HasUndo, UndoSteps = %v, %v, %v; want true, false, none", f.Transactional(), f.HasUndo(), f.UndoSteps())
	}
	for _, op := range mongosteps.Ops() {
		if want := op == mongosteps.Insert || op == mongosteps.Update || op == mongosteps.Delete; op.Transactional() != want {
			t.Errorf("%s.Transactional() = %v, want %v", op, op.Transactional(), want)
		}
	}
}

func TestParseReportsEveryProblemAtItsPosition(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"invalid UTF-8 at its byte", "steps:\n  - ins\xffert: {}\n", []string{
			"f.yaml:2:8: invalid UTF-8"}},
		{"a YAML syntax error at its line", "steps:\n  - insert: {collection: a\n  - delete: {}\n", []string{
			"f.yaml:2:1: invalid YAML: did not find expected ',' or '}'"}},
		{"a tab indentation", "steps:\n\t- insert: {}\n", []string{
			"f.yaml:2:1: invalid YAML: found character that cannot start any token"}},
		{"an alias to no anchor", "steps:\n  - insert: *nothing\n", []string{
			"f.yaml:2:13: invalid YAML: unknown anchor 'nothing' referenced"}},
		{"CRLF line ends after a byte order mark", "\uFEFFsteps:\r\n  - insrt: {}\r\n", []string{
			`f.yaml:2:5: unknown operation "insrt" (known: createCollection, dropCollection, createIndex, dropIndex, insert, update, delete, renameCollection, createView, dropView, modifyCollection)`}},
		{"columns in bytes after multi-byte characters", "steps:\n  - insert: {collection: \"café\", documents: 3}\n", []string{
			`f.yaml:2:46: documents must be a non-empty list of mappings, not "3"`}},
		{"an empty file", "", []string{
			"f.yaml:1:1: empty file: want a mapping with a steps list"}},
		{"a file of comments", "# nothing\n", []string{
			"f.yaml:1:1: empty file: want a mapping with a steps list"}},
		{"a second document", "steps:\n  - delete: {collection: a, filter: {}}\n---\nsteps: []\n", []string{
			"f.yaml:3:1: a second YAML document: a steps file holds one"}},
		{"a list at the top", "- insert: {}\n", []string{
			"f.yaml:1:1: a steps file is a mapping with a steps list, not a list"}},
		{"no steps", "undo: []\nextra: 1\n", []string{
			"f.yaml:1:1: the file lacks its steps field",
			"f.yaml:1:7: undo is empty",
			`f.yaml:2:1: unknown field "extra" in the file (known: steps, undo, transactional, author, recovery)`}},
		{"steps not a list, transactional not a boolean", "transactional: no\nsteps: {insert: {}}\n", []string{
			`f.yaml:1:16: transactional must be true or false, not "no"`,
			"f.yaml:2:8: steps must be a list of steps, not a mapping"}},
		{"a bad author and recovery", "author: [a]\nrecovery: later\nsteps:\n  - delete: {collection: a, filter: {}}\n", []string{
			"f.yaml:1:9: author must be a string, not a list",
			`f.yaml:2:11: recovery must be manual or retry, not "later"`}},
		{"an unknown operation", "steps:\n  - insrt: {collection: a}\n", []string{
			`f.yaml:2:5: unknown operation "insrt" (known: createCollection, dropCollection, createIndex, dropIndex, insert, update, delete, renameCollection, createView, dropView, modifyCollection)`}},
		{"fields not indented under their operation", "steps:\n  - insert:\n    collection: a\n", []string{
			"f.yaml:2:5: a step holds one operation, this one has 2 keys: indent the fields under the operation"}},
		{"a step that is a string", "steps:\n  - insert\n", []string{
			`f.yaml:2:5: a step is a mapping of one operation to its fields, such as "- insert: {collection: users, documents: [...]}", not "insert"`}},
		{"an operation without fields", "steps:\n  - delete:\n", []string{
			"f.yaml:2:12: delete takes a mapping of its fields, not null"}},
		{"missing, unknown and repeated fields", "steps:\n  - update:\n      collection: a\n      collection: b\n      filtr: {}\n", []string{
			"f.yaml:2:5: update lacks its filter field",
			"f.yaml:2:5: update lacks its update field",
			"f.yaml:4:7: collection written twice in update (first at 3:7)",
			`f.yaml:5:7: unknown field "filtr" in update (known: collection, filter, update, multi, upsert)`}},
		{"bad index specs", "transactional: false\nsteps:\n  - createIndex: {collection: a, keys: {a: 1, b: 2, c: hash, a: -1}, expireAfterSeconds: 60}\n  - createIndex: {collection: a, keys: {}}\n  - createIndex: {collection: a, keys: [a]}\n  - createIndex: {collection: a, keys: {t: 1}, expireAfterSeconds: 1.5, unique: 1}\n", []string{
			`f.yaml:3:50: bad index key b: "2": want 1 (ascending), -1 (descending), "text", "2d", "2dsphere" or "hashed"`,
			`f.yaml:3:56: bad index key c: "hash": want 1 (ascending), -1 (descending), "text", "2d", "2dsphere" or "hashed"`,
			`f.yaml:3:62: key "a" written twice in one mapping (first at 3:41)`,
			"f.yaml:3:90: expireAfterSeconds needs an index on one field: MongoDB refuses a TTL on a compound index",
			`f.yaml:4:40: keys must be a non-empty mapping of fields to 1, -1, "text", "2d", "2dsphere" or "hashed", not a mapping`,
			`f.yaml:5:40: keys must be a non-empty mapping of fields to 1, -1, "text", "2d", "2dsphere" or "hashed", not a list`,
			`f.yaml:6:68: expireAfterSeconds must be a whole number of seconds from 0 to 2147483647, not "1.5"`,
			`f.yaml:6:81: unique must be true or false, not "1"`}},
		{"bad names", "transactional: false\nsteps:\n  - dropIndex: {collection: system.users, name: \"*\"}\n  - renameCollection: {collection: a$b, to: 7}\n  - dropCollection: {collection: \"\"}\n", []string{
			`f.yaml:3:29: invalid collection "system.users": the prefix "system." is reserved for MongoDB's own collections`,
			`f.yaml:3:49: index name "*" means every index: drop them one by one, by name`,
			`f.yaml:4:36: invalid collection "a$b": it must not contain "$" or NUL`,
			`f.yaml:4:45: to must be a string, not "7"`,
			"f.yaml:5:34: collection is empty"}},
		{"bad documents", "steps:\n  - insert: {collection: a, documents: [{a: 1, a: 2}, 3, {b: 2024-01-31, c: {$oid: zz}, d: !!binary aGk=, e: 99999999999999999999, <<: {f: 1}}]}\n", []string{
			`f.yaml:2:48: key "a" written twice in one mapping (first at 2:42)`,
			`f.yaml:2:55: documents[1] must be a mapping, not "3"`,
			`f.yaml:2:62: 2024-01-31 looks like a date: write {$date: "2024-01-31T00:00:00Z"} for a date (RFC 3339), or quote it for a string`,
			"f.yaml:2:77: invalid Extended JSON value: the provided hex string is not a valid ObjectID",
			"f.yaml:2:92: unsupported YAML tag !!binary: use Extended JSON ({$binary: …}, {$date: …}) for BSON types YAML lacks",
			`f.yaml:2:110: integer 99999999999999999999 out of range of a 64-bit integer: write {$numberDecimal: "99999999999999999999"} or a string`,
			"f.yaml:2:132: merge keys (<<) are not supported: write the fields out"}},
		{"an alias", "steps:\n  - insert: {collection: a, documents: [&d {a: 1}, *d]}\n", []string{
			"f.yaml:2:52: aliases (*d) are not supported: write the value out"}},
		{"bad updates, filters and pipelines", "transactional: false\nsteps:\n  - update: {collection: a, filter: [], update: {name: x}}\n  - update: {collection: a, filter: {}, update: {}}\n  - update: {collection: a, filter: {}, update: [{$set: {}, $unset: a}]}\n  - delete: {collection: a, filter: x, multi: all}\n  - createView: {view: v, viewOn: a, pipeline: []}\n", []string{
			"f.yaml:3:37: filter must be a mapping, not a list",
			`f.yaml:3:50: update field "name" is not an operator: write {$set: {name: …}} (a replacement document is not supported)`,
			"f.yaml:4:49: update is empty: give operators such as {$set: {field: value}}",
			"f.yaml:5:50: update[0] must be one stage, a mapping of one $-operator such as {$match: {…}}",
			`f.yaml:6:37: filter must be a mapping, not "x"`,
			`f.yaml:6:47: multi must be true or false, not "all"`,
			"f.yaml:7:48: pipeline must be a non-empty list of stages such as {$match: {…}}, not a list"}},
		{"bad collection options", "transactional: false\nsteps:\n  - createCollection: {collection: a, validationLevel: strictest, validationAction: warn, validator: 1}\n  - modifyCollection: {collection: a}\n", []string{
			`f.yaml:3:56: validationLevel must be one of off, strict, moderate, not "strictest"`,
			`f.yaml:3:102: validator must be a mapping, not "1"`,
			"f.yaml:4:5: modifyCollection changes nothing: give validator, validationLevel or validationAction"}},
		{"an empty undo list", "steps:\n  - delete: {collection: a, filter: {}}\nundo: []\n", []string{
			"f.yaml:3:7: undo is empty"}},
		{"operations a transaction cannot run, in steps and undo", "steps:\n  - createCollection: {collection: a}\n  - insert: {collection: a, documents: [{}]}\nundo:\n  - dropCollection: {collection: a}\n", []string{
			`f.yaml:2:5: createCollection cannot run inside a MongoDB transaction: add "transactional: false" at the top of the file`,
			`f.yaml:5:5: dropCollection cannot run inside a MongoDB transaction: add "transactional: false" at the top of the file`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := mongosteps.Parse("f.yaml", []byte(c.src))
			if f != nil {
				t.Errorf("Parse returned a file with its error")
			}
			var list mongosteps.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v (%T), want an ErrorList", err, err)
			}
			if diff := cmp.Diff(c.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			for _, e := range list {
				if e.File != "f.yaml" || e.Line < 1 || e.Col < 1 {
					t.Errorf("error %q positioned at %s:%d:%d", e.Msg, e.File, e.Line, e.Col)
				}
			}
		})
	}
}

func TestParseReadsTheAuthorAndRecovery(t *testing.T) {
	f, err := mongosteps.Parse("a.yaml", []byte("author: Ada Lovelace\nrecovery: retry\nsteps:\n  - delete: {collection: a, filter: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Author() != "Ada Lovelace" || f.Recovery() != "retry" {
		t.Errorf("Author, Recovery = %q, %q; want Ada Lovelace, retry", f.Author(), f.Recovery())
	}
}
