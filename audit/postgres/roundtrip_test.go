package postgres_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
)

// counter counts what a pool sends: statements, through pgx's tracer, and
// round trips, as the times the client starts writing after having read (a
// flight of messages then its answer), through the connection itself. The
// two differ when pgx adds a round trip of its own, such as preparing a
// statement.
type counter struct {
	mu         sync.Mutex
	statements int
	roundTrips int
	writing    bool
}

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements++
	return ctx
}

func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements, c.roundTrips = 0, 0
}

func (c *counter) counts() (statements, roundTrips int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statements, c.roundTrips
}

type countingConn struct {
	net.Conn
	c *counter
}

func (cc countingConn) Write(b []byte) (int, error) {
	cc.c.mu.Lock()
	if !cc.c.writing {
		cc.c.roundTrips++
		cc.c.writing = true
	}
	cc.c.mu.Unlock()
	return cc.Conn.Write(b)
}

func (cc countingConn) Read(b []byte) (int, error) {
	n, err := cc.Conn.Read(b)
	if n > 0 {
		cc.c.mu.Lock()
		cc.c.writing = false
		cc.c.mu.Unlock()
	}
	return n, err
}

// countedPool is a pool of one connection that counts what it sends. It
// never pings a connection on acquiring it (pgxpool does when one was idle
// for a second), so counts do not depend on the machine's speed.
func countedPool(t *testing.T, dsn string) (*pgxpool.Pool, *counter) {
	t.Helper()
	c := &counter{}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	cfg.ConnConfig.Tracer = c
	var d net.Dialer
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: conn, c: c}, nil
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// Connect now, so no test below counts the handshake.
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	return pool, c
}

// TestRoundTrips pins how many statements and round trips each operation
// costs on a connected pool (DESIGN §7 fast path, issue 3 item 4). Counts,
// not times: they do not depend on the machine.
func TestRoundTrips(t *testing.T) {
	srv := newServer(t)
	schema := srv.schema(t)
	pool, c := countedPool(t, srv.dsn)
	ctx := t.Context()

	var s *postgres.Store
	var lease audit.Lease
	var tx pgx.Tx
	steps := []struct {
		name       string
		statements int
		roundTrips int
		run        func() error
	}{
		// Inspect, create (one multi-statement transaction), inspect again.
		{"New on a fresh schema", 3, 3, func() (err error) {
			s, err = postgres.New(ctx, pool, postgres.WithSchema(schema))
			return err
		}},
		{"New on existing tables", 1, 1, func() error {
			_, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
			return err
		}},
		{"Snapshot", 1, 1, func() error { _, err := s.Snapshot(ctx); return err }},
		{"History", 1, 1, func() error { _, err := s.History(ctx, audit.Filter{Stage: "s1"}); return err }},
		{"Lock", 1, 1, func() error { _, err := s.Lock(ctx, "k"); return err }},
		{"Acquire on a free key", 1, 1, func() (err error) {
			lease, err = s.Acquire(ctx, "k", "runner-a", time.Minute)
			return err
		}},
		// The refused statement, then the read of who holds the key.
		{"Acquire on a held key", 2, 2, func() error {
			if _, err := s.Acquire(ctx, "k", "runner-b", time.Minute); err == nil {
				t.Error("Acquire on a held key succeeded")
			}
			return nil
		}},
		{"Refresh", 1, 1, func() (err error) {
			lease, err = s.Refresh(ctx, lease)
			return err
		}},
		// The first Append on the connection costs what the hundredth does:
		// no statement is prepared.
		{"Append", 1, 1, func() error { _, err := s.Append(ctx, lease, validEntry("a")); return err }},
		{"Append again", 1, 1, func() error { _, err := s.Append(ctx, lease, validEntry("b")); return err }},
		// The refused insert, then the read that says why.
		{"Append with a fenced lease", 2, 2, func() error {
			stale := lease
			stale.Epoch--
			if _, err := s.Append(ctx, stale, validEntry("c")); err == nil {
				t.Error("Append with a stale epoch succeeded")
			}
			return nil
		}},
		{"Begin", 1, 1, func() (err error) { tx, err = pool.Begin(ctx); return err }},
		{"AppendTx", 1, 1, func() error { _, err := s.AppendTx(ctx, tx, lease, validEntry("d")); return err }},
		{"Commit", 1, 1, func() error { return tx.Commit(ctx) }},
		{"Release", 1, 1, func() error { return s.Release(ctx, lease) }},
		{"Acquire on a released key", 1, 1, func() error {
			_, err := s.Acquire(ctx, "k", "runner-b", time.Minute)
			return err
		}},
		{"Snapshot of a trail", 1, 1, func() error {
			got, err := s.Snapshot(ctx)
			if len(got) != 3 {
				t.Errorf("Snapshot holds %d entries, want 3", len(got))
			}
			return err
		}},
	}
	for _, step := range steps {
		c.reset()
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		statements, roundTrips := c.counts()
		if statements != step.statements || roundTrips != step.roundTrips {
			t.Errorf("%s: %d statements in %d round trips, want %d in %d",
				step.name, statements, roundTrips, step.statements, step.roundTrips)
		}
	}
}
