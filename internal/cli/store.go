package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit/operate"
	"github.com/flamingock/flamingock-go/audit/storeurl"
	"github.com/flamingock/flamingock-go/internal/redact"
)

// globals are the flags that select the audit store. They are accepted
// before and after the command, and default to environment variables.
type globals struct {
	store, tablePrefix, schema, lockKey string
}

// register defines the global flags on fs. The root flag set and the
// command's share the variables, so a flag given before the command
// survives the command's flag set.
func (g *globals) register(fs *flag.FlagSet) {
	fs.Var(textFlag{&g.store}, "store", "the audit store `URL`: sqlite:PATH, postgres://…, mysql://… or mongodb://… (default $FLAMINGOCK_STORE)")
	fs.Var(textFlag{&g.tablePrefix}, "table-prefix", "`prefix` of the store's tables or collection (default $FLAMINGOCK_TABLE_PREFIX, else flamingock)")
	fs.Var(textFlag{&g.schema}, "schema", "PostgreSQL `schema` of the tables (default $FLAMINGOCK_SCHEMA, else public)")
	fs.Var(textFlag{&g.lockKey}, "lock-key", "the pipeline's lock `key` (default $FLAMINGOCK_LOCK_KEY, else flamingock)")
}

// textFlag is a string flag that, unlike flag.StringVar, leaves its
// variable alone when defined, and shows no value in help, so that help
// never prints a connection string.
type textFlag struct{ p *string }

func (f textFlag) String() string { return "" }

func (f textFlag) Set(v string) error {
	*f.p = v
	return nil
}

// access is how a command opens the store.
type access bool

const (
	// readOnly opens an existing store and writes nothing to it, not even
	// its tables (storeurl.Options.ReadOnly): the read commands.
	readOnly access = true
	// readWrite opens an existing store to write to it, creating the
	// tables or indexes it lacks: audit fix and lock release.
	readWrite access = false
)

// open resolves the globals against the environment and opens the store
// (operate.Open): it creates no SQLite file, and read-only it writes
// nothing.
//
// In an application the session is its own store's (App.Store), whatever
// mode says: the read commands write nothing by what they call (proven by
// package migrate's tests), and close leaves the store open.
func (c *cli) open(ctx context.Context, g *globals, mode access) (*operate.Session, error) {
	if c.app != nil {
		return c.configure(c.app.session()), nil
	}
	or := func(flagValue, env, def string) string {
		switch {
		case flagValue != "":
			return flagValue
		case c.getenv(env) != "":
			return c.getenv(env)
		}
		return def
	}
	url := storeURL(g.store, c.getenv("FLAMINGOCK_STORE"))
	if url == "" {
		return nil, usagef("no audit store: pass --store URL or set FLAMINGOCK_STORE (sqlite:PATH, postgres://…, mysql://…, mongodb://…)")
	}
	s, err := operate.Open(ctx, url, operate.Options{
		TablePrefix: or(g.tablePrefix, "FLAMINGOCK_TABLE_PREFIX", ""),
		Schema:      or(g.schema, "FLAMINGOCK_SCHEMA", ""),
		LockKey:     or(g.lockKey, "FLAMINGOCK_LOCK_KEY", ""),
		ReadOnly:    mode == readOnly,
	})
	if errors.Is(err, storeurl.ErrInvalid) {
		return nil, usagef("%v", err)
	}
	if err != nil {
		return nil, err
	}
	return c.configure(s), nil
}

// configure gives s the clock, host and warnings of this invocation.
func (c *cli) configure(s *operate.Session) *operate.Session {
	s.Now = c.now
	if host, err := c.hostname(); err == nil && host != "" {
		s.Host = host
	} else {
		s.Host = "unknown-host"
	}
	s.Warn = func(msg string) { fmt.Fprintf(c.stderr, "%s: warning: %s\n", c.prog, msg) }
	return s
}

// close ends a command's session: it closes the store the standalone CLI
// opened, and leaves an application's open, since it is the
// application's.
func (c *cli) close(s *operate.Session) {
	if c.app == nil {
		s.Close()
	}
}

// storeURL is the store --store names (flagValue), else FLAMINGOCK_STORE
// (env). A command pasted from one flamingock or an application printed
// names the store with its password shown as xxxxx: when that is env
// redacted, env, which holds the password, is the store.
func storeURL(flagValue, env string) string {
	if flagValue == "" || flagValue != env && env != "" && redact.DSN(env) == flagValue {
		return env
	}
	return flagValue
}

// parseTime reads a --since value: RFC 3339, or a date meaning its start in
// UTC.
func parseTime(flagName, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("invalid %s %q: use RFC 3339 (2025-03-01T10:00:00Z) or a date (2025-03-01, midnight UTC)", flagName, v)
}

// operator is --operator, or user@host by default.
func (c *cli) operator(flagValue string, set bool) (string, error) {
	if set {
		if strings.TrimSpace(flagValue) == "" {
			return "", usagef("--operator is empty: say who you are, for example --operator alice@example.com")
		}
		return flagValue, nil
	}
	name, err := c.username()
	if err != nil || name == "" {
		name = c.getenv("USER")
	}
	host, herr := c.hostname()
	if name == "" || herr != nil || host == "" {
		return "", usagef("cannot tell who you are (user %q, host %q): pass --operator NAME", name, host)
	}
	return name + "@" + host, nil
}
