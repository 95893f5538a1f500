package postgres

import (
	"fmt"
	"strings"

	"github.com/flamingock/flamingock-go/internal/pgident"
)

// Option configures a Store. Options validate their input: an invalid one
// makes Open or New fail before anything is sent to the database.
type Option interface {
	apply(*options) error
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

type options struct {
	schema   string
	prefix   string
	readOnly bool
}

// WithReadOnly opens an existing store to read it, creating nothing: Open
// and New check the store's tables at once (one round trip, no DDL, unlike
// the lazy check of a read-write store) and fail with an error matching
// ErrNotStore when the schema or the audit table is missing, as in a wrong
// database; the store never creates a schema, a table or an index. It does
// not stop the store's own writes (Append, Acquire, …), which fail only
// where the tables are missing: for a guarantee, connect as a role with
// SELECT only, or add default_transaction_read_only=on to the DSN (pgx
// passes it to the server). The flamingock CLI's read commands open stores
// this way.
func WithReadOnly() Option {
	return optionFunc(func(o *options) error {
		o.readOnly = true
		return nil
	})
}

// WithSchema stores the tables in schema (default "public"), which is
// created when missing. The name is a plain identifier (ASCII letters,
// digits, underscores, not starting with a digit or pg_, at most 63 bytes),
// case-sensitive since the store always quotes it.
func WithSchema(name string) Option {
	return optionFunc(func(o *options) error {
		if err := pgident.Check("schema", name, pgident.MaxLen); err != nil {
			return err
		}
		if strings.HasPrefix(strings.ToLower(name), "pg_") {
			return fmt.Errorf("invalid schema %q: the prefix pg_ is reserved for PostgreSQL's system schemas", name)
		}
		o.schema = name
		return nil
	})
}

// WithTablePrefix names the store's tables prefix_audit and prefix_lock
// (default "flamingock"), for example to keep several independent trails in
// one schema. The prefix is a plain identifier like a schema name, of at
// most 46 bytes so that no derived name exceeds PostgreSQL's 63.
func WithTablePrefix(prefix string) Option {
	return optionFunc(func(o *options) error {
		// The longest name derived from the prefix is the index's.
		if err := pgident.Check("table prefix", prefix, pgident.MaxLen-len(indexSuffix)); err != nil {
			return err
		}
		o.prefix = prefix
		return nil
	})
}
