package mongo

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/flamingock/flamingock-go/internal/mongoname"
)

// The names used without options.
const (
	// DefaultDatabase is the database Open uses when neither WithDatabase
	// nor the URI's path names one.
	DefaultDatabase = "flamingock"
	// DefaultCollectionPrefix makes the collection flamingock_audit.
	DefaultCollectionPrefix = "flamingock"
)

// The suffixes that follow the prefix in the names of the store's
// collections: the trail, the checkpoints and the version record.
const (
	auditSuffix      = "_audit"
	checkpointSuffix = "_checkpoint"
	versionSuffix    = "_version"
)

// MongoDB's limits: database names are shorter than 64 bytes, and a
// namespace (database "." collection) is at most 255 bytes.
const (
	maxDatabaseLen = 63
)

// Option configures Open or New. Options validate their input: an invalid
// one makes Open or New fail before anything is sent to the server.
type Option interface {
	apply(*config) error
}

type config struct {
	database string  // empty unless WithDatabase
	url      *server // nil unless WithURL
	prefix   string
	readOnly bool
}

// WithReadOnly opens an existing store to read it, creating nothing: Open
// and New create no index (and so no collection), and fail with an error
// matching ErrNotStore when the database has no trail collection, as a
// wrong database has none. It does not stop the store's own writes (Append,
// Acquire, …), which would create the collection: for a guarantee, connect
// as a user with the read role only. The flamingock CLI's read commands
// open stores this way.
func WithReadOnly() Option {
	return optionFunc(func(c *config) error {
		c.readOnly = true
		return nil
	})
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithURL tells New the URI the caller's client connected with, which the
// driver does not expose: the store's Locator then names it (its password
// hidden, its path the store's database), so that the resolution commands
// the runtime prints for an issue reach this store. Without it they show
// STORE_URL for the operator to replace. It applies to New only: Open has
// the URI.
func WithURL(uri string) Option {
	return optionFunc(func(c *config) error {
		srv, err := parseURI(uri)
		if err != nil {
			return fmt.Errorf("WithURL: %w", err)
		}
		c.url = &srv
		return nil
	})
}

// WithDatabase keeps the store in database name instead of the one the
// URI's path names (or DefaultDatabase when it names none). It applies to
// Open only: New rejects it, since the caller's *mongo.Database is the
// database.
func WithDatabase(name string) Option {
	return optionFunc(func(c *config) error {
		if err := validateDatabase(name); err != nil {
			return err
		}
		c.database = name
		return nil
	})
}

// WithCollectionPrefix names the store's collection prefix_audit instead of
// flamingock_audit, for example to keep the trails of two applications in
// one database. The prefix follows MongoDB's rules for collection names: not
// empty, valid UTF-8, no "$" and no NUL, not starting with "." or "system.".
func WithCollectionPrefix(p string) Option {
	return optionFunc(func(c *config) error {
		if err := mongoname.Collection("collection prefix", p); err != nil {
			return err
		}
		c.prefix = p
		return nil
	})
}

func newConfig(opts []Option) (config, error) {
	c := config{prefix: DefaultCollectionPrefix}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// validateDatabase applies MongoDB's rules for database names (those of
// Windows hosts, which are the strictest). Servers may restrict further:
// FerretDB accepts only ASCII letters, digits, "_" and "-", and says so.
func validateDatabase(name string) error {
	switch {
	case name == "":
		return errors.New("invalid database name: empty")
	case len(name) > maxDatabaseLen:
		return fmt.Errorf("invalid database name %q: longer than %d bytes", name, maxDatabaseLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("invalid database name %q: not valid UTF-8", name)
	}
	if i := strings.IndexAny(name, "/\\. \"$*<>:|?\x00"); i >= 0 {
		return fmt.Errorf("invalid database name %q: it must not contain %q", name, name[i:i+1])
	}
	return nil
}

// validateNamespace checks the length of the full name of the collection,
// which depends on both the database name and the prefix.
func validateNamespace(database, collection string) error {
	if err := mongoname.Namespace(database, collection); err != nil {
		return fmt.Errorf("invalid names: the %w: use a shorter database name or collection prefix", err)
	}
	return nil
}
