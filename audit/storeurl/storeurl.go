// Package storeurl opens an audit store named by a URL, the form the
// flamingock CLI's --store flag and FLAMINGOCK_STORE take:
//
//	sqlite:PATH                          a SQLite file (audit/sqlite); sqlite:///abs/path works too
//	postgres://user:pass@host:5432/db    PostgreSQL (audit/postgres), any DSN URL pgx accepts;
//	postgresql://…                       the same
//	mongodb://user:pass@host:27017/db    MongoDB (audit/mongo), the database in the path
//	mongodb+srv://…                      the same
//
// Table (or collection) prefixes and the PostgreSQL schema are not part of
// the URL: pass them in Options.
//
//	store, err := storeurl.Open(ctx, os.Getenv("FLAMINGOCK_STORE"), storeurl.Options{Existing: true})
//	if err != nil {
//		return err // names the store without its password
//	}
//	defer store.Close()
//
// Passwords never appear in what this package returns: Redact removes them
// from a URL, and every error names the store by its redacted URL, with any
// password a driver might have quoted scrubbed from the message.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
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
	// tables or indexes when they are missing whatever it says.)
	Existing bool
}

// Open opens the audit store that rawURL names. Close the store when done.
func Open(ctx context.Context, rawURL string, o Options) (audit.Store, error) {
	name := Redact(rawURL)
	scheme, ok := schemeOf(rawURL)
	if !ok {
		if rawURL == "" {
			return nil, fmt.Errorf("%w: empty: name the audit store as sqlite:PATH, postgres://… or mongodb://…", ErrInvalid)
		}
		return nil, fmt.Errorf("%w %q: it has no scheme: use sqlite:%s for a SQLite file, or postgres://… or mongodb://…", ErrInvalid, name, name)
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
	case "mongodb", "mongodb+srv":
		store, err = openMongo(ctx, rawURL, o)
	default:
		return nil, fmt.Errorf("%w %s: unknown scheme %q: use sqlite:PATH, postgres://… or mongodb://…", ErrInvalid, name, scheme)
	}
	if err != nil {
		return nil, scrub(fmt.Errorf("%s: %w", name, err), secrets(rawURL))
	}
	return store, nil
}

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
	if o.Existing {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: check the path (an audit store is created by its application's first run)", fs.ErrNotExist)
		}
	}
	var opts []sqlite.Option
	if o.TablePrefix != "" {
		opts = append(opts, sqlite.WithTablePrefix(o.TablePrefix))
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
	return postgres.Open(ctx, rawURL, opts...)
}

func openMongo(ctx context.Context, rawURL string, o Options) (audit.Store, error) {
	if o.Schema != "" {
		return nil, fmt.Errorf("%w: a schema applies to PostgreSQL stores only; a MongoDB store's database is the path of its URI", ErrInvalid)
	}
	var opts []mongo.Option
	if o.TablePrefix != "" {
		opts = append(opts, mongo.WithCollectionPrefix(o.TablePrefix))
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

// redacted replaces a secret in a redacted URL.
const redacted = "xxxxx"

// Redact returns rawURL with the password of its user information and the
// values of its secret query parameters (password, sslpassword,
// tlsCertificateKeyFilePassword, authMechanismProperties…) replaced by
// "xxxxx". Everything else, including the order of the parameters, is kept,
// so the result still names the store. A URL without secrets is returned as
// it is.
func Redact(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL // sqlite:PATH carries no secrets
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	// The user information ends at the last @ of the authority: a password
	// may contain an unescaped @, a host never does.
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
			rest = user + ":" + redacted + rest[at:]
		}
	}
	base, query, hasQuery := strings.Cut(rest, "?")
	if !hasQuery {
		return scheme + "://" + rest
	}
	query, fragment, hasFragment := strings.Cut(query, "#")
	params := strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' })
	for i, p := range params {
		if key, _, hasValue := strings.Cut(p, "="); hasValue && secretParam(key) {
			params[i] = key + "=" + redacted
		}
	}
	out := scheme + "://" + base + "?" + strings.Join(params, "&")
	if hasFragment {
		out += "#" + fragment
	}
	return out
}

// secretParam reports whether a query parameter carries a secret.
func secretParam(key string) bool {
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	key = strings.ToLower(key)
	return strings.Contains(key, "password") || strings.Contains(key, "secret") ||
		strings.Contains(key, "token") || key == "authmechanismproperties"
}

// secrets returns what Redact hides in rawURL, as written and decoded, so
// that scrub can remove it from driver messages too.
func secrets(rawURL string) []string {
	_, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil
	}
	var out []string
	add := func(s string) {
		if len(s) < 3 { // too short to scrub without mangling the message
			return
		}
		out = append(out, s)
		if d, err := url.QueryUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		if _, password, ok := strings.Cut(rest[:at], ":"); ok {
			add(password)
		}
	}
	if _, query, ok := strings.Cut(rest, "?"); ok {
		query, _, _ = strings.Cut(query, "#")
		for _, p := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
			if key, value, ok := strings.Cut(p, "="); ok && secretParam(key) {
				add(value)
			}
		}
	}
	return out
}

// scrub returns err with every secret replaced in its message, keeping its
// chain for errors.Is and errors.As.
func scrub(err error, secrets []string) error {
	msg := err.Error()
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
