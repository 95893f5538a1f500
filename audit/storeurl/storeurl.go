// Package storeurl opens an audit store named by a URL, the form the
// flamingock CLI's --store flag and FLAMINGOCK_STORE take:
//
//	sqlite:PATH                          a SQLite file (audit/sqlite); sqlite:///abs/path works too
//	postgres://user:pass@host:5432/db    PostgreSQL (audit/postgres), any DSN URL pgx accepts;
//	postgresql://…                       the same
//	mysql://user:pass@host:3306/db       MySQL or MariaDB (audit/mysql), the database in the path;
//	                                     the query takes go-sql-driver's parameters (tls=true, timeout=5s)
//	mongodb://user:pass@host:27017/db    MongoDB (audit/mongo), the database in the path
//	mongodb+srv://…                      the same
//
// Table (or collection) prefixes and the PostgreSQL schema are not part of
// the URL: pass them in Options.
//
// Every store names itself in these terms (audit.Locator): for a store s
// of this module,
//
//	l := audit.Extend(s).Locator()
//	again, err := storeurl.Open(ctx, l.URL, storeurl.Options{Schema: l.Schema, TablePrefix: l.TablePrefix})
//
// opens the same trail and lock, once the password redacted in l.URL is
// given back (the flamingock CLI takes it from FLAMINGOCK_STORE). The
// resolution commands that issues print are built from it (l.Args).
//
//	store, err := storeurl.Open(ctx, os.Getenv("FLAMINGOCK_STORE"), storeurl.Options{ReadOnly: true})
//	if err != nil {
//		return err // names the store without its password
//	}
//	defer store.Close()
//
// Passwords never appear in what this package returns: Redact hides them in
// a URL, and every error names the store by its redacted URL, with anything
// of a password a driver might have quoted scrubbed from the message.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/redact"
)

// ErrInvalid matches errors about the URL or the options themselves: an
// empty URL, no scheme or an unknown one, a malformed path, an option the
// store does not take. Nothing was opened.
var ErrInvalid = errors.New("invalid store URL")

// Options are the settings of a store that its URL does not carry.
type Options struct {
	// TablePrefix names the store's tables (SQLite, PostgreSQL:
	// PREFIX_audit and PREFIX_lock) or collection (MongoDB: PREFIX_audit).
	// Empty keeps the store's default, "flamingock".
	TablePrefix string
	// Schema is the PostgreSQL schema of the tables (default "public").
	// Other stores reject it.
	Schema string
	// Existing refuses to create a SQLite file where there is none: a path
	// that does not exist is an error (matching fs.ErrNotExist) instead of
	// a new, empty store. Operators' tools set it, so that a mistyped path
	// does not look like an empty audit trail. (Server stores create their
	// tables or indexes when they are missing, unless ReadOnly.)
	Existing bool
	// ReadOnly opens an existing store to read it, creating and writing
	// nothing: the stores' WithReadOnly (SQLite's mode=ro without a journal
	// mode change; no DDL on PostgreSQL and MongoDB). A database that holds
	// no audit trail (an empty file, another application's database, a
	// wrong PostgreSQL database or schema, a MongoDB database without the
	// collection) is an error matching ErrNotStore, and a SQLite path that
	// does not exist one matching fs.ErrNotExist. The flamingock CLI's read
	// commands set it.
	ReadOnly bool
}

// ErrNotStore matches the error of opening with ReadOnly a database that
// holds no audit trail; it also matches the store's own ErrNotStore.
var ErrNotStore = errors.New("not an audit store")

// Open opens the audit store that rawURL names. Close the store when done.
func Open(ctx context.Context, rawURL string, o Options) (audit.Store, error) {
	name := Redact(rawURL)
	scheme, ok := schemeOf(rawURL)
	if !ok {
		if rawURL == "" {
			return nil, fmt.Errorf("%w: empty: name the audit store as sqlite:PATH, postgres://…, mysql://… or mongodb://…", ErrInvalid)
		}
		return nil, fmt.Errorf("%w %q: it has no scheme: use sqlite:%s for a SQLite file, or postgres://…, mysql://… or mongodb://…", ErrInvalid, name, name)
	}
	var (
		store audit.Store
		err   error
	)
	switch scheme {
	case "sqlite":
		store, err = openSQLite(ctx, rawURL, o)
	case "postgres", "postgresql":
		store, err = openPostgres(ctx, rawURL, o)
	case "mysql":
		store, err = openMySQL(ctx, rawURL, o)
	case "mongodb", "mongodb+srv":
		store, err = openMongo(ctx, rawURL, o)
	default:
		return nil, fmt.Errorf("%w %s: unknown scheme %q: use sqlite:PATH, postgres://…, mysql://… or mongodb://…", ErrInvalid, name, scheme)
	}
	switch {
	case errors.Is(err, sqlite.ErrNotStore), errors.Is(err, postgres.ErrNotStore), errors.Is(err, mongo.ErrNotStore),
		errors.Is(err, mysql.ErrNotStore):
		return nil, redact.Error(newNotStoreError(name, err), rawURL)
	case err != nil:
		return nil, redact.Error(fmt.Errorf("%s: %w", name, err), rawURL)
	}
	return store, nil
}

// notStoreError is a store's ErrNotStore, matching this package's too, and
// saying "NAME is not an audit store: why" without the store's own prefix.
type notStoreError struct {
	msg string
	err error
}

func newNotStoreError(name string, err error) error {
	why := err.Error()
	if _, after, ok := strings.Cut(why, ErrNotStore.Error()+": "); ok {
		why = after
	}
	return &notStoreError{msg: name + " is " + ErrNotStore.Error() + ": " + why, err: err}
}

func (e *notStoreError) Error() string   { return e.msg }
func (e *notStoreError) Unwrap() []error { return []error{ErrNotStore, e.err} }

func openSQLite(ctx context.Context, rawURL string, o Options) (audit.Store, error) {
	path := strings.TrimPrefix(rawURL, "sqlite:")
	if strings.HasPrefix(path, "//") {
		// sqlite:///abs/path is the URL form of an absolute path; in
		// sqlite://x, x would be a host.
		if !strings.HasPrefix(path, "///") {
			return nil, fmt.Errorf("%w: write sqlite:PATH (sqlite:app.db, sqlite:/var/lib/app.db), not sqlite://", ErrInvalid)
		}
		path = path[2:]
	}
	if path == "" {
		return nil, fmt.Errorf("%w: no path: write sqlite:PATH", ErrInvalid)
	}
	if o.Schema != "" {
		return nil, fmt.Errorf("%w: a schema applies to PostgreSQL stores only", ErrInvalid)
	}
	if o.Existing || o.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: check the path (an audit store is created by its application's first run)", fs.ErrNotExist)
		}
	}
	var opts []sqlite.Option
	if o.TablePrefix != "" {
		opts = append(opts, sqlite.WithTablePrefix(o.TablePrefix))
	}
	if o.ReadOnly {
		opts = append(opts, sqlite.WithReadOnly())
	}
	return sqlite.Open(ctx, path, opts...)
}

func openPostgres(ctx context.Context, rawURL string, o Options) (audit.Store, error) {
	var opts []postgres.Option
	if o.TablePrefix != "" {
		opts = append(opts, postgres.WithTablePrefix(o.TablePrefix))
	}
	if o.Schema != "" {
		opts = append(opts, postgres.WithSchema(o.Schema))
	}
	if o.ReadOnly {
		opts = append(opts, postgres.WithReadOnly())
	}
	return postgres.Open(ctx, rawURL, opts...)
}

func openMySQL(ctx context.Context, rawURL string, o Options) (audit.Store, error) {
	if o.Schema != "" {
		return nil, fmt.Errorf("%w: a schema applies to PostgreSQL stores only; a MySQL store's database is the path of its URL", ErrInvalid)
	}
	var opts []mysql.Option
	if o.TablePrefix != "" {
		opts = append(opts, mysql.WithTablePrefix(o.TablePrefix))
	}
	if o.ReadOnly {
		opts = append(opts, mysql.WithReadOnly())
	}
	return mysql.Open(ctx, rawURL, opts...)
}

func openMongo(ctx context.Context, rawURL string, o Options) (audit.Store, error) {
	if o.Schema != "" {
		return nil, fmt.Errorf("%w: a schema applies to PostgreSQL stores only; a MongoDB store's database is the path of its URI", ErrInvalid)
	}
	var opts []mongo.Option
	if o.TablePrefix != "" {
		opts = append(opts, mongo.WithCollectionPrefix(o.TablePrefix))
	}
	if o.ReadOnly {
		opts = append(opts, mongo.WithReadOnly())
	}
	return mongo.Open(ctx, rawURL, opts...)
}

// schemeOf returns the scheme of rawURL: what precedes the first colon, when
// that is a URL scheme (so that a Windows path such as C:\x or a file name
// has none).
func schemeOf(rawURL string) (string, bool) {
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok || len(scheme) < 2 {
		return "", false
	}
	for i, r := range scheme {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && ('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return "", false
		}
	}
	return strings.ToLower(scheme), true
}

// Redact returns rawURL with its secrets shown as "xxxxx": the password of
// its user information, with any characters, percent-encoded or not, and
// the values of its secret query parameters (password, sslpassword,
// tlsCertificateKeyFilePassword, proxyPassword, authMechanismProperties…).
// Everything else, including the order of the parameters, is kept, so the
// result still names the store. It is internal/redact's DSN, the one
// redaction every part of flamingock-go uses.
func Redact(rawURL string) string { return redact.DSN(rawURL) }
