package pgtest

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Counter counts what a pool sends: statements, through pgx's tracer, and
// round trips, as the times the client starts writing after having read (a
// flight of messages, then its answer), through the connection itself. The
// two differ when pgx adds a round trip of its own, such as preparing a
// statement, or sends several statements at once, as in a batch.
type Counter struct {
	mu         sync.Mutex
	statements []string
	roundTrips int
	writing    bool
}

// TraceQueryStart implements pgx.QueryTracer.
func (c *Counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements = append(c.statements, d.SQL)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (c *Counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Reset starts counting from zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements, c.roundTrips = nil, 0
}

// Counts returns the number of statements and round trips since the last
// Reset.
func (c *Counter) Counts() (statements, roundTrips int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.statements), c.roundTrips
}

// Statements returns the SQL of the statements sent since the last Reset.
func (c *Counter) Statements() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.statements...)
}

type countingConn struct {
	net.Conn
	c *Counter
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

// CountedPool returns a pool on the server changed by opts (of one
// connection unless MaxConns says otherwise), all of its connections
// established, whose statements and round trips c counts. It never pings a
// connection on acquiring it (pgxpool does when one was idle for a second),
// so counts do not depend on the machine's speed. Round trips are counted
// for the pool as a whole: count operations that do not overlap.
func (s *Server) CountedPool(t testing.TB, opts ...Option) (*pgxpool.Pool, *Counter) {
	t.Helper()
	c := &Counter{}
	cfg, err := pgxpool.ParseConfig(s.ConnString(t, opts...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	for _, o := range opts {
		var tg target
		if o(&tg); tg.maxConns > 0 {
			cfg.MaxConns = tg.maxConns
		}
	}
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
	pool := NewPool(t, cfg)
	// Connect now, so that no count includes a handshake.
	var conns []*pgxpool.Conn
	for range cfg.MaxConns {
		conn, err := pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.Release()
	}
	return pool, c
}
