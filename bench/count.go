package main

import (
	"context"
	"net"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// traffic is what a run exchanged with the server: counts, which unlike
// times do not depend on the machine.
type traffic struct {
	conns      int // connections opened
	roundTrips int // client writes that follow a read (or open the connection)
	bytesIn    int // bytes received from the server
}

// counter counts the traffic of every connection dialled through it. A
// round trip is the client starting to write after it has read: a flight
// of messages and its answer, however many statements it carries.
type counter struct {
	mu sync.Mutex
	t  traffic
}

// traffic returns the traffic so far; a nil counter counted nothing.
func (c *counter) traffic() traffic {
	if c == nil {
		return traffic{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// reset forgets the traffic so far: a connection already open is not
// counted again.
func (c *counter) reset() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = traffic{}
}

// dial is a pgconn.DialFunc.
func (c *counter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.t.conns++
	c.mu.Unlock()
	return &countingConn{Conn: conn, c: c}, nil
}

type countingConn struct {
	net.Conn
	c       *counter
	writing bool // guarded by c.mu
}

func (cc *countingConn) Write(b []byte) (int, error) {
	cc.c.mu.Lock()
	if !cc.writing {
		cc.c.t.roundTrips++
		cc.writing = true
	}
	cc.c.mu.Unlock()
	return cc.Conn.Write(b)
}

func (cc *countingConn) Read(b []byte) (int, error) {
	n, err := cc.Conn.Read(b)
	if n > 0 {
		cc.c.mu.Lock()
		cc.writing = false
		cc.c.t.bytesIn += n
		cc.c.mu.Unlock()
	}
	return n, err
}

// endpoint is where a tool connects: a DSN, and optionally a counter that
// every connection is dialled through.
type endpoint struct {
	dsn     string
	counter *counter // nil: plain connections
}

// configure applies the endpoint's dialer to a parsed connection config.
func (e endpoint) configure(cfg *pgconn.Config) {
	if e.counter != nil {
		cfg.DialFunc = e.counter.dial
	}
}
