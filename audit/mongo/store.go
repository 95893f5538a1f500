package mongo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/redact"
)

// Store is the MongoDB audit store. It implements audit.Store and is safe
// for concurrent use.
type Store struct {
	client      *mongodriver.Client
	ownsClient  bool
	db          *mongodriver.Database
	coll        *mongodriver.Collection // the trail
	checkpoints *mongodriver.Collection // see checkpoint.go
	versions    *mongodriver.Collection // the version record: see layout.go
	name        string                  // String: the URI without secrets, or the database
	url         string                  // Locator: the URI of the database without secrets; empty from New
	prefix      string                  // the collection prefix
	serverHosts string                  // where the server is, for connection errors
	// secrets are the URI's, scrubbed from every error (see explain).
	secrets redact.Secrets
}

var _ audit.Store = (*Store)(nil)

// Open connects to the MongoDB deployment at uri (a mongodb:// or
// mongodb+srv:// connection string, with any options the driver reads from
// it, such as serverSelectionTimeoutMS) with a client of its own, which
// Close disconnects, and brings the store's collections to this release's
// layout (see the package documentation): on a store not yet recorded at
// it, it creates the indexes that are missing and records the layout. With
// WithReadOnly it writes nothing, and only checks that the trail's
// collection exists. A store of a newer layout is refused: it was written
// by a newer flamingock-go. An empty uri is refused.
//
// The database is the one WithDatabase names, else the one in the URI's
// path, else DefaultDatabase. A malformed URI, an invalid name, a server
// that cannot be reached or that refuses the indexes is an error naming
// the server without its password.
func Open(ctx context.Context, uri string, opts ...Option) (*Store, error) {
	s, err := open(ctx, uri, opts)
	// The driver's errors may quote parts of the URI.
	return s, redact.Error(err, uri)
}

func open(ctx context.Context, uri string, opts []Option) (*Store, error) {
	if strings.TrimSpace(uri) == "" {
		return nil, errors.New("mongo: open: empty URI: name the server, as mongodb://host:27017/db (is the environment variable holding it set?)")
	}
	srv, err := parseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("mongo: open: %w", err)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: open %s: %w", srv.redacted, err)
	}
	if cfg.url != nil {
		return nil, fmt.Errorf("mongo: open %s: WithURL applies to New only: Open has the URI", srv.redacted)
	}
	database := cfg.database
	if database == "" {
		database = srv.database
		if database == "" {
			database = DefaultDatabase
		} else if err := validateDatabase(database); err != nil {
			return nil, fmt.Errorf("mongo: open %s: the URI's path: %w", srv.redacted, err)
		}
	}
	client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("mongo: open %s: %w", srv.redacted, err)
	}
	s, err := newStore(ctx, client.Database(database), cfg, srv.redacted, srv.hosts, redact.SecretsOf(uri))
	if err != nil {
		client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("mongo: open %s: %w", srv.redacted, err)
	}
	s.client, s.ownsClient = client, true
	s.url = locatorURL(srv, database)
	return s, nil
}

// New returns a store in db, on the caller's client, bringing its layout
// up to date as Open does. Close leaves the client connected. WithDatabase is
// rejected: db is the database.
func New(ctx context.Context, db *mongodriver.Database, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("mongo: new: nil database")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: new: %w", err)
	}
	if cfg.database != "" {
		return nil, errors.New("mongo: new: WithDatabase applies to Open only; pass the database you want to New")
	}
	if err := validateDatabase(db.Name()); err != nil {
		return nil, fmt.Errorf("mongo: new: %w", err)
	}
	name := fmt.Sprintf("mongodb database %q", db.Name())
	s, err := newStore(ctx, db, cfg, name, "the server of the client given to New", redact.Secrets{})
	if err != nil {
		return nil, fmt.Errorf("mongo: new: %s: %w", name, err)
	}
	if cfg.url != nil {
		s.url = locatorURL(*cfg.url, db.Name())
	}
	return s, nil
}

func newStore(ctx context.Context, db *mongodriver.Database, cfg config, name, hosts string, secrets redact.Secrets) (*Store, error) {
	trail, checkpoints, versions := cfg.prefix+auditSuffix, cfg.prefix+checkpointSuffix, cfg.prefix+versionSuffix
	for _, c := range []string{trail, checkpoints, versions} {
		if err := validateNamespace(db.Name(), c); err != nil {
			return nil, err
		}
	}
	// Writes acknowledged by a majority, so that no acknowledged document
	// is lost to a failover. Reads from the primary at level local, so that
	// a writer whose insert collided on a seq sees, when it reads again,
	// the document it collided with (a majority read could lag behind it).
	// Checkpoints are read and written the same way: a checkpoint read
	// from a lagging secondary would only be older, but the trail's highest
	// entry seq it is compared with must be the primary's.
	opts := options.Collection().
		SetWriteConcern(writeconcern.Majority()).
		SetReadConcern(readconcern.Local()).
		SetReadPreference(readpref.Primary())
	s := &Store{db: db, coll: db.Collection(trail, opts), checkpoints: db.Collection(checkpoints, opts), versions: db.Collection(versions, opts),
		name: name, prefix: cfg.prefix, serverHosts: hosts, secrets: secrets}
	check := s.ensureLayout
	if cfg.readOnly {
		check = s.checkReadOnly
	}
	if err := check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// ErrNotStore matches the error of opening with WithReadOnly a database
// that holds no audit trail.
var ErrNotStore = errors.New("not an audit store")

// checkReadOnly checks, creating nothing, that the trail's collection
// exists (MongoDB reads of a missing collection find nothing, which would
// look like an empty trail), and that its layout is not newer than this
// release's. Layout 1 is read as it is.
func (s *Store) checkReadOnly(ctx context.Context) error {
	names, err := s.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: s.coll.Name()}})
	if err != nil {
		return fmt.Errorf("list the collections of database %q: %w", s.db.Name(), s.explain(err))
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: database %q has no collection %q: check the database (the URI's path) and the collection prefix (an audit store is created by its application's first run)",
			ErrNotStore, s.db.Name(), s.coll.Name())
	}
	_, err = s.readLayout(ctx)
	return err
}

// indexModels returns the store's secondary indexes, new on every call:
// the driver writes into the options it is given. The unique index the
// store's correctness rests on is the one every collection has, on _id.
func indexModels() []mongodriver.IndexModel {
	return []mongodriver.IndexModel{
		// The latest lease event of a key at or below a seq.
		{Keys: bson.D{{Key: "kind", Value: 1}, {Key: "key", Value: 1}, {Key: "_id", Value: 1}},
			Options: options.Index().SetName("lease_by_key")},
		// The trail's highest entry seq, which a checkpoint is compared
		// with (lock events, which take seqs too, do not count).
		{Keys: bson.D{{Key: "kind", Value: 1}, {Key: "_id", Value: 1}},
			Options: options.Index().SetName("entry_by_seq")},
		// History of one change.
		{Keys: bson.D{{Key: "stage", Value: 1}, {Key: "change_id", Value: 1}, {Key: "_id", Value: 1}},
			Options: options.Index().SetName("entry_by_change")},
		// At most one acquire event per key and epoch. Sparse: only acquire
		// events have the field. (FerretDB ignores sparse, and its SQLite
		// backend lets any number of documents lack a unique field.)
		{Keys: bson.D{{Key: "acquisition", Value: 1}},
			Options: options.Index().SetName("acquisition_unique").SetUnique(true).SetSparse(true)},
	}
}

// ensureIndexes creates the indexes that are missing. They are created one
// by one: FerretDB 1.24 drops the connection on a createIndexes of several
// indexes that all exist. Creating an index that exists with the same
// definition does nothing, so any number of stores may open at once.
func (s *Store) ensureIndexes(ctx context.Context) error {
	for _, ix := range indexModels() {
		if _, err := s.coll.Indexes().CreateOne(ctx, ix); err != nil {
			var ce mongodriver.CommandError
			if errors.As(err, &ce) && (ce.Code == 85 || ce.Code == 86) { // IndexOptionsConflict, IndexKeySpecsConflict
				return fmt.Errorf("collection %s has an index of the store's names with another definition: "+
					"it was made by another program or an incompatible version; choose another collection prefix (WithCollectionPrefix) or database (%w)",
					s.coll.Name(), err)
			}
			return fmt.Errorf("create indexes of %s: %w", s.coll.Name(), s.explain(err))
		}
	}
	return nil
}

// explain says where the server is when a driver error is about reaching
// it, and scrubs the URI's secrets from the message: the driver's errors
// name the hosts, which hold pieces of a password whose '@' was not
// percent-encoded.
func (s *Store) explain(err error) error {
	var sel topology.ServerSelectionError
	switch {
	case errors.As(err, &sel):
		err = fmt.Errorf("cannot reach MongoDB at %s: is it running, and reachable from here? (%w)", s.serverHosts, err)
	case mongodriver.IsNetworkError(err):
		err = fmt.Errorf("lost the connection to MongoDB at %s (%w)", s.serverHosts, err)
	}
	return s.secrets.Error(err)
}

// corrupt reports a stored document the store cannot trust.
func (s *Store) corrupt(where string, err error) error {
	return &audit.CorruptError{Where: fmt.Sprintf("%s in %s.%s", where, s.db.Name(), s.coll.Name()), Err: err}
}

// Database returns the database the store writes to.
func (s *Store) Database() *mongodriver.Database { return s.db }

var _ audit.Locatable = (*Store)(nil)

// Locator names the store for the flamingock CLI: the URI given to Open
// without its password and secret options, its path the store's database
// (see locatorURL), and the collection prefix when it is not the default.
// A store made by New has no URL: the driver does not say which URI its
// client was connected with.
func (s *Store) Locator() audit.Locator {
	l := audit.Locator{URL: s.url}
	if s.prefix != DefaultCollectionPrefix {
		l.TablePrefix = s.prefix
	}
	return l
}

// locatorURL is srv's redacted URI naming database in its path, so that
// the CLI, which takes the database from the path, finds the store opened
// WithDatabase. A user who authenticated against the path's database (no
// authSource, no external mechanism) keeps doing so through authSource.
func locatorURL(srv server, database string) string {
	if database == srv.database || srv.database == "" && database == DefaultDatabase {
		return srv.redacted
	}
	scheme, rest, _ := strings.Cut(srv.redacted, "://")
	userinfo := ""
	if at := strings.Index(rest, "@"); at >= 0 {
		userinfo, rest = rest[:at+1], rest[at+1:]
	}
	hosts, query := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hosts = rest[:i]
		_, query, _ = strings.Cut(rest[i:], "?")
	}
	if userinfo != "" {
		params, _ := url.ParseQuery(query)
		switch params.Get("authMechanism") {
		case "", "SCRAM-SHA-1", "SCRAM-SHA-256":
			if !params.Has("authSource") {
				source := cmp.Or(srv.database, "admin")
				if query != "" {
					query += "&"
				}
				query += "authSource=" + url.QueryEscape(source)
			}
		}
	}
	out := scheme + "://" + userinfo + hosts + "/" + url.PathEscape(database)
	if query != "" {
		out += "?" + query
	}
	return out
}

// String names the store: the URI given to Open without its password and
// secret options, or the database given to New.
func (s *Store) String() string { return s.name }

// Close disconnects the client if Open connected it; a store made by New
// leaves the caller's client connected. It is safe to call more than once.
func (s *Store) Close() error {
	if !s.ownsClient {
		return nil
	}
	err := s.client.Disconnect(context.Background())
	if err != nil && !errors.Is(err, mongodriver.ErrClientDisconnected) {
		return fmt.Errorf("mongo: close %s: %w", s.name, err)
	}
	return nil
}
