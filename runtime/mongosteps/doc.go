// Package mongosteps reads and runs MongoDB changes written as YAML steps
// files (<order>_<name>.yaml beside a package's changes, on a mongotarget
// target). The generator calls Parse when it runs, so a file that is not
// valid fails go generate with every problem positioned
// ("0003_users.yaml:12:7: unknown field \"uniqe\" in createIndex …"), and
// embeds the file; the generated change parses it again and calls Apply
// (or Undo) with the *mongo.Database and the context the target gives it.
//
// # The file
//
// A file is one YAML mapping: a steps list, an optional undo list (what
// RollbackTo runs), and "transactional: false" when it holds an operation
// MongoDB cannot run in a transaction, and optionally "author: NAME" and
// "recovery: retry" (or manual, the default), the change's author and
// recovery as a Go change declares them. Each step is a mapping of one
// operation to its fields:
//
//	transactional: false          # createCollection and createIndex need it
//	steps:
//	  - createCollection:
//	      collection: users
//	      validator:
//	        $jsonSchema:
//	          bsonType: object
//	          required: [email]
//	      validationLevel: moderate # off, strict or moderate
//	      validationAction: error   # error or warn
//	  - createIndex:
//	      collection: users
//	      keys: {email: 1}          # in order; 1, -1, text, 2d, 2dsphere, hashed
//	      name: email_1
//	      unique: true
//	      partialFilterExpression: {email: {$exists: true}}
//	  - insert:
//	      collection: users
//	      documents:
//	        - _id: {$oid: "65b9f0c2a1b2c3d4e5f60718"}
//	          email: ada@example.com
//	          born: {$date: "1815-12-10T00:00:00Z"}
//	          visits: 3
//	          tags: [admin, founder]
//	        - {email: bob@example.com, visits: 0}
//	  - update:
//	      collection: users
//	      filter: {visits: 0}
//	      update: {$set: {dormant: true}}
//	      multi: true               # every match; one without it
//	  - delete:
//	      collection: users
//	      filter: {email: bob@example.com}
//	undo:
//	  - dropIndex: {collection: users, name: email_1}
//	  - dropCollection: {collection: users}
//
// The operations and their fields (* required):
//
//	createCollection  collection*, validator, validationLevel, validationAction
//	dropCollection    collection*                        (a missing one is no error)
//	createIndex       collection*, keys*, name, unique, sparse,
//	                  partialFilterExpression, expireAfterSeconds (one key only)
//	dropIndex         collection*, name*
//	insert            collection*, documents* (a list of mappings, inserted in order)
//	update            collection*, filter*, update* (update operators such as $set,
//	                  or an aggregation pipeline), multi, upsert
//	delete            collection*, filter* ({} for all), multi
//	renameCollection  collection*, to*, dropTarget       (within the database)
//	createView        view*, viewOn*, pipeline* (a list of stages)
//	dropView          view*                              (refuses to drop a collection)
//	modifyCollection  collection*, and at least one of validator,
//	                  validationLevel, validationAction  (the collMod command)
//
// Parse is strict: an unknown key, a field of the wrong type, a key
// written twice, a missing field, an index key other than 1, -1 or one of
// the index types, an update without operators (a replacement document
// would silently drop every field it does not name), a pipeline stage
// that is not one $-operator, a collection name MongoDB refuses: each is an
// error, and Parse reports them all, sorted, as an ErrorList of *Error
// (File, Line, Col, Msg). So are what is not a steps file at all: invalid
// UTF-8 (at its first bad byte), a YAML syntax error (at its line; the YAML
// library gives no column, so column 1), an empty file, a second YAML
// document.
//
// # Transactions
//
// Only insert, update and delete run inside a MongoDB transaction on every
// supported server (Op.Transactional). A file that holds any other
// operation, in steps or undo, must say "transactional: false", and Parse
// refuses it otherwise, at the operation, saying what to add: dropping a
// collection or an index, renameCollection, collMod and views are refused
// in a transaction, and creating a collection or an index is allowed from
// MongoDB 4.4 only, and for an index only on a collection the same
// transaction created, which the file cannot show. File.Transactional
// reports the declaration; the change must be declared with the same
// strategy, and runs with the target's strategy as any change does.
//
// Whatever the strategy, Apply and Undo run every operation with the
// context they are given: in a transaction it carries the session (see
// package mongotarget), so the steps commit or abort with it. A
// non-transactional file that fails stops at the failing step, the
// earlier ones done: write it so that it can run again (createIndex of an
// index that exists, dropCollection of one that does not, and update are
// no-ops the second time; createCollection of one that exists and insert
// of an _id that exists are errors), or give it an undo list.
//
// # Values
//
// Documents, filters, updates, validators and pipelines are YAML
// converted to BSON, keys in the order written: a mapping is a document,
// a list an array, a string a string, true/false a boolean, null null, an
// integer an int32 when it fits and an int64 otherwise (beyond int64 is an
// error), a number with a fraction or exponent (or .inf, .nan) a double.
// Types YAML lacks are written in MongoDB Extended JSON, read by the
// driver (bson.UnmarshalExtJSON, relaxed form): a mapping with one of the
// keys $oid, $date, $numberInt, $numberLong, $numberDouble, $numberDecimal,
// $binary, $uuid, $timestamp, $regularExpression, $minKey, $maxKey,
// $symbol, $code, $undefined or $dbPointer is that value:
//
//	_id: {$oid: "65b9f0c2a1b2c3d4e5f60718"}
//	at: {$date: "2024-01-31T10:00:00Z"}     # RFC 3339
//	count: {$numberLong: "7"}                # an int64 even when small
//	price: {$numberDecimal: "19.99"}
//	raw: {$binary: {base64: "aGk=", subType: "00"}}
//
// Other $-keys ($set, $gt, $in, $regex, $jsonSchema) are ordinary keys, so
// query and update operators are written as they are in the shell. An
// unquoted date (born: 1815-12-10) is refused rather than guessed: write
// {$date: "1815-12-10T00:00:00Z"} or quote it as a string. YAML aliases
// and merge keys (*a, <<) are refused, as are other tags (!!binary): write
// the value out.
//
// # Errors at run time
//
// Apply and Undo stop at the first step that fails and return a
// *StepError naming the file, the list, the step (from 1), its operation
// and its position; it wraps the driver's error, so mongo.IsDuplicateKeyError
// and errors.Is(err, context.Canceled) see through it.
//
// # In a generated registry
//
// flamingock-gen (under the //flamingock:yaml package directive) embeds
// each file and registers it with ApplyFunc and, when it has an undo list,
// UndoFunc, which parse the embedded text once, when first run:
//
//	pipeline.NewChange(pipeline.Meta{ID: "0001_users", …}, t.Appdb,
//		mongosteps.ApplyFunc("0001_users.yaml", yaml0001Users),
//		mongosteps.UndoFunc("0001_users.yaml", yaml0001Users))
//
// # What the tests prove, and what they do not
//
// Parse is tested without a server: the example above, the conversion of
// every kind of value, every kind of error at its exact position, and a
// fuzz test (FuzzParse: no panic; a file or errors, each positioned on a
// line of the input, no further than one past its end).
//
// Against FerretDB 1.24 (the test server, FLAMINGOCK_TEST_MONGO) the tests
// run, reading the server back: createCollection, createIndex (unique,
// named; the server then refuses a duplicate, reported as the step's
// error), insert with Extended JSON values (types checked as stored),
// update (one, multi, upsert), delete (one, multi), an undo list of
// dropIndex and renameCollection, dropCollection (a missing one too);
// dropView refusing a collection; every command of Apply carrying the
// session bound to its context; a done context stopping before the first
// step. FerretDB 1.24 has no views, collMod, validators, partial or TTL
// indexes, update pipelines or transactions: the tests of createView and
// dropView of a view, modifyCollection, a validator enforced, partial and
// TTL indexes and an update by pipeline skip on it, printing its answer,
// and run only on a server that has them; that the steps of a
// transactional file commit or abort with their transaction is not tested
// here (package mongotarget tests its transactions on a replica set).
package mongosteps
