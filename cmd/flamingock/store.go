package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/storeurl"
	"github.com/flamingock/flamingock-go/internal/redact"
)

// defaultLockKey is the runtime's default lock key (pipeline.WithLockKey).
const defaultLockKey = "flamingock"

// globals are the flags that select the audit store. They are accepted
// before and after the command, and default to environment variables.
type globals struct {
	store, tablePrefix, schema, lockKey string
}

// register defines the global flags on fs. The root flag set and the
// command's share the variables, so a flag given before the command
// survives the command's flag set.
func (g *globals) register(fs *flag.FlagSet) {
	fs.Var(textFlag{&g.store}, "store", "the audit store `URL`: sqlite:PATH, postgres://… or mongodb://… (default $FLAMINGOCK_STORE)")
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

// session is an open audit store and how to name it.
type session struct {
	store audit.Store
	// name is the store URL without its password.
	name    string
	lockKey string
	// args are the global flags that select this store again, for the
	// commands printed as guidance.
	args []string
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

// open resolves the globals against the environment and opens the store.
// It creates no SQLite file: a store is created by its application's first
// run. Read-only, it writes nothing, and a database without an audit trail
// is an error (storeurl.ErrNotStore).
func (c *cli) open(ctx context.Context, g *globals, mode access) (*session, error) {
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
		return nil, usagef("no audit store: pass --store URL or set FLAMINGOCK_STORE (sqlite:PATH, postgres://…, mongodb://…)")
	}
	opts := storeurl.Options{
		TablePrefix: or(g.tablePrefix, "FLAMINGOCK_TABLE_PREFIX", ""),
		Schema:      or(g.schema, "FLAMINGOCK_SCHEMA", ""),
		Existing:    true,
		ReadOnly:    mode == readOnly,
	}
	s := &session{name: storeurl.Redact(url), lockKey: or(g.lockKey, "FLAMINGOCK_LOCK_KEY", defaultLockKey)}
	s.args = []string{"--store", s.name}
	if opts.TablePrefix != "" {
		s.args = append(s.args, "--table-prefix", opts.TablePrefix)
	}
	if opts.Schema != "" {
		s.args = append(s.args, "--schema", opts.Schema)
	}
	if s.lockKey != defaultLockKey {
		s.args = append(s.args, "--lock-key", s.lockKey)
	}
	store, err := storeurl.Open(ctx, url, opts)
	switch {
	case errors.Is(err, storeurl.ErrInvalid):
		return nil, usagef("%v", err)
	case errors.Is(err, storeurl.ErrNotStore):
		return nil, err // "STORE is not an audit store: why"
	case err != nil:
		return nil, fmt.Errorf("open audit store %w", err)
	}
	s.store = store
	return s, nil
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

func (s *session) Close() error { return s.store.Close() }

// snapshot returns the assessment of every change's latest entry under the
// pipeline's lock (audit.Assessment.UnderLock: a change its runner is
// applying now is running, not an issue), sorted by stage, then order, then
// id, and the lock.
func (s *session) snapshot(ctx context.Context) ([]audit.Assessment, audit.LockInfo, error) {
	latest, err := s.store.Snapshot(ctx)
	if err != nil {
		return nil, audit.LockInfo{}, fmt.Errorf("read the audit trail of %s: %w", s.name, err)
	}
	// Read after the trail: a change that ended meanwhile is seen with a
	// lock its runner may have released, so it is not shown running.
	lock, err := s.lock(ctx)
	if err != nil {
		return nil, audit.LockInfo{}, err
	}
	out := make([]audit.Assessment, len(latest))
	for i, e := range latest {
		out[i] = audit.Assess(e).UnderLock(lock)
	}
	slices.SortFunc(out, func(a, b audit.Assessment) int {
		x, y := a.Latest, b.Latest
		return cmp.Or(strings.Compare(x.Stage, y.Stage), cmp.Compare(x.Order, y.Order), strings.Compare(x.ChangeID, y.ChangeID))
	})
	return out, lock, nil
}

// find returns the assessment of change id, in stage when it is not empty,
// and the lock it was assessed under. An id that is not in the trail is an
// error; an id in several stages needs --stage.
func (s *session) find(ctx context.Context, id, stage string) (audit.Assessment, audit.LockInfo, error) {
	all, lock, err := s.snapshot(ctx)
	if err != nil {
		return audit.Assessment{}, audit.LockInfo{}, err
	}
	var found []audit.Assessment
	for _, a := range all {
		if a.Latest.ChangeID == id && (stage == "" || a.Latest.Stage == stage) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		where := ""
		if stage != "" {
			where = fmt.Sprintf(" in stage %q", stage)
		}
		return audit.Assessment{}, lock, fmt.Errorf("no change %q%s in the audit trail of %s: check the id (flamingock audit list shows every change)", id, where, s.name)
	case 1:
		return found[0], lock, nil
	}
	var stages []string
	for _, a := range found {
		stages = append(stages, fmt.Sprintf("%q", a.Latest.Stage))
	}
	return audit.Assessment{}, lock, usagef("change id %q is in stages %s: add --stage NAME", id, strings.Join(stages, ", "))
}

// lock reads the pipeline's lock.
func (s *session) lock(ctx context.Context) (audit.LockInfo, error) {
	info, err := s.store.Lock(ctx, s.lockKey)
	if err != nil {
		return audit.LockInfo{}, fmt.Errorf("read lock %q of %s: %w", s.lockKey, s.name, err)
	}
	return info, nil
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
