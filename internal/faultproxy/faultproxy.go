// Package faultproxy is a TCP proxy for tests that stands between a
// PostgreSQL client and its server and cuts connections at chosen moments:
// all of them at once (DropAll), or the one carrying a chosen request, either
// before the server sees it or after the server received it but before its
// reply reaches the client (the ambiguous case: the server may have
// committed, the client cannot know).
//
// The proxy reads the client's stream as PostgreSQL frontend messages and
// groups them into flights: the messages of one request, up to the message
// that makes the server answer (Sync, Query, Flush…). A Rule matches a whole
// flight, so a request sent in the extended protocol (Parse, Bind, Execute,
// Sync) is matched on its SQL text and its parameters together. Server bytes
// are forwarded untouched.
//
// NewMySQL reads the MySQL client protocol instead (mysql.go): a flight is
// one COM_QUERY or COM_STMT_PREPARE command and its SQL the statement.
//
// NewAMQP reads AMQP 0-9-1 (RabbitMQ) instead (amqp.go): a flight is one
// method frame, matched by its name with Method ("queue.declare").
//
// Rules are one-shot unless Repeat is set: after a Fault fired the proxy
// forwards again, and the client reconnects through it as it would after a
// network blip.
package faultproxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// When says at which moment a matching flight's connection is cut.
type When int

const (
	// BeforeForward cuts the connection instead of forwarding the flight:
	// the server never sees the request.
	BeforeForward When = iota
	// AfterForward forwards the flight, then cuts the connection as soon as
	// the server answers, before the answer reaches the client: the server
	// did the work (a COMMIT committed), the client hears only an error.
	AfterForward
)

// Flight is one request of a client: the frontend messages it sent up to
// the one that makes the server answer.
type Flight struct {
	// Raw is the bytes of the messages, framing included.
	Raw []byte
	// SQL holds the text of the statements the flight runs: its Query
	// messages, and the statements its Bind messages bind, whether parsed
	// in the flight or prepared earlier on the connection under a name. A
	// flight that only prepares a statement (Parse without Bind) runs
	// nothing.
	SQL []string
	// Method is the name of an AMQP method, class and method as the AMQP
	// 0-9-1 specification spells them ("queue.declare", "basic.publish"),
	// for a proxy made by NewAMQP; empty otherwise.
	Method string
}

// Matcher selects flights.
type Matcher func(Flight) bool

// SQLContains matches a flight whose SQL text (of a Query or Parse message)
// contains s.
func SQLContains(s string) Matcher {
	return func(f Flight) bool {
		for _, q := range f.SQL {
			if bytes.Contains([]byte(q), []byte(s)) {
				return true
			}
		}
		return false
	}
}

// SQLIs matches a flight whose SQL text is exactly s, like "commit", the
// statement pgx sends to commit a transaction.
func SQLIs(s string) Matcher {
	return func(f Flight) bool {
		for _, q := range f.SQL {
			if q == s {
				return true
			}
		}
		return false
	}
}

// BytesContain matches a flight whose raw bytes contain every one of
// parts, such as a parameter value carried by a Bind message.
func BytesContain(parts ...string) Matcher {
	return func(f Flight) bool {
		for _, p := range parts {
			if !bytes.Contains(f.Raw, []byte(p)) {
				return false
			}
		}
		return true
	}
}

// Method matches an AMQP flight of the method named name, as
// "exchange.declare" or "basic.publish" (see Flight.Method).
func Method(name string) Matcher {
	return func(f Flight) bool { return f.Method == name }
}

// All matches a flight that every one of ms matches.
func All(ms ...Matcher) Matcher {
	return func(f Flight) bool {
		for _, m := range ms {
			if !m(f) {
				return false
			}
		}
		return true
	}
}

// Rule says which flight to cut the connection at, and when.
type Rule struct {
	Match Matcher
	When  When
	// Repeat keeps the rule armed after it fired, until Disarm: every
	// matching flight has its connection cut.
	Repeat bool
}

// Fault is an armed Rule.
type Fault struct {
	rule  Rule
	fired chan struct{}

	mu       sync.Mutex
	count    int
	disarmed bool
}

// Fired is closed when the fault first cut a connection.
func (f *Fault) Fired() <-chan struct{} { return f.fired }

// Count returns how many connections the fault cut.
func (f *Fault) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Disarm stops the fault from firing again.
func (f *Fault) Disarm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disarmed = true
}

// take reports whether the fault fires at fl, and records it.
func (f *Fault) take(fl Flight) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.disarmed || !f.rule.Match(fl) {
		return false
	}
	f.count++
	if f.count == 1 {
		close(f.fired)
	}
	if !f.rule.Repeat {
		f.disarmed = true
	}
	return true
}

// Proxy forwards connections from its address to a server. It is safe for
// concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	protocol func(io.Reader) protocol

	mu     sync.Mutex
	conns  map[*link]struct{}
	faults []*Fault
	wg     sync.WaitGroup
}

// New starts a proxy for PostgreSQL clients on 127.0.0.1 forwarding to
// target (host:port); it is closed, with every connection, when the test
// ends.
func New(t testing.TB, target string) *Proxy { return start(t, target, postgres) }

// NewMySQL is New for MySQL and MariaDB clients (see mysql.go).
func NewMySQL(t testing.TB, target string) *Proxy { return start(t, target, mysql) }

// NewAMQP is New for AMQP 0-9-1 clients, such as RabbitMQ's (see amqp.go).
func NewAMQP(t testing.TB, target string) *Proxy { return start(t, target, amqp) }

func start(t testing.TB, target string, proto func(io.Reader) protocol) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, protocol: proto, conns: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Arm installs r. Flights are checked against the armed faults in the
// order they were armed; the first that matches fires, so two identical
// one-shot rules cut two successive matching flights.
func (p *Proxy) Arm(r Rule) *Fault {
	f := &Fault{rule: r, fired: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
	return f
}

// DropAll closes every current connection, both sides, and returns how
// many there were. New connections are accepted as before.
func (p *Proxy) DropAll() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.cut()
	}
	return len(links)
}

// Conns returns the number of open connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Proxy) close() {
	p.ln.Close()
	p.DropAll()
	p.wg.Wait()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

// fault returns the armed fault that fires at fl, if any.
func (p *Proxy) fault(fl Flight) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if f.take(fl) {
			return f
		}
	}
	return nil
}

// link is one proxied connection.
type link struct {
	client, server net.Conn
	once           sync.Once

	mu sync.Mutex
	// cutOnReply is set when the server's next bytes must not reach the
	// client (AfterForward).
	cutOnReply bool
}

func (l *link) cut() {
	l.once.Do(func() {
		l.client.Close()
		l.server.Close()
	})
}

func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	l := &link{client: client, server: server}
	p.mu.Lock()
	p.conns[l] = struct{}{}
	p.mu.Unlock()
	defer func() {
		l.cut()
		p.mu.Lock()
		delete(p.conns, l)
		p.mu.Unlock()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.toClient(l)
	}()
	p.toServer(l)
	l.cut()
	<-done
}

// toClient forwards the server's bytes, unless a fault asked to cut the
// connection at the server's answer.
func (p *Proxy) toClient(l *link) {
	defer l.cut()
	buf := make([]byte, 32<<10)
	for {
		n, err := l.server.Read(buf)
		if n > 0 {
			l.mu.Lock()
			cut := l.cutOnReply
			l.mu.Unlock()
			if cut {
				return
			}
			if _, werr := l.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// toServer forwards the client's stream unit by unit, as its protocol
// reads it, cutting the connection at a flight a fault matches.
func (p *Proxy) toServer(l *link) {
	defer l.cut()
	next := p.protocol(l.client)
	for {
		raw, fl, err := next()
		if err != nil {
			return
		}
		if fl != nil {
			f := p.fault(*fl)
			switch {
			case f == nil:
			case f.rule.When == BeforeForward:
				return
			default:
				l.mu.Lock()
				l.cutOnReply = true
				l.mu.Unlock()
			}
		}
		if _, err := l.server.Write(raw); err != nil {
			return
		}
	}
}

// A protocol reads a client's stream: each call returns the next bytes to
// forward and, when they are a request that rules match, its flight.
type protocol func() (raw []byte, fl *Flight, err error)

// postgres reads PostgreSQL frontend messages from c.
func postgres(c io.Reader) protocol {
	r := &reader{r: c}
	started := false
	// parsed is the SQL of the connection's statements by name, "" being
	// the unnamed one.
	parsed := map[string]string{}
	return func() ([]byte, *Flight, error) {
		if !started {
			// The startup message (and an SSL or GSS request before it)
			// has no type byte: forward it as it is. The server answers an
			// SSL/GSS request with one byte; the proxied client is
			// expected to use sslmode=disable, where pgx sends none.
			msg, err := r.untyped()
			started = err == nil && !isNegotiation(msg)
			return msg, nil, err
		}
		var fl Flight
		for {
			typ, msg, err := r.typed()
			if err != nil {
				return nil, nil, err
			}
			fl.Raw = append(fl.Raw, msg...)
			switch typ {
			case 'Q':
				fl.SQL = append(fl.SQL, sqlText(typ, msg[5:]))
			case 'P':
				parsed[cString(msg[5:])] = sqlText(typ, msg[5:])
			case 'B': // portal\0 statement\0 …
				body := msg[5:]
				body = body[min(len(body), len(cString(body))+1):]
				fl.SQL = append(fl.SQL, parsed[cString(body)])
			}
			switch typ {
			case 'P', 'B', 'D', 'E', 'C':
				continue // part of a flight the server answers at its Sync
			}
			return fl.Raw, &fl, nil
		}
	}
}

// isNegotiation reports whether an untyped message is an SSLRequest or a
// GSSENCRequest rather than the startup message.
func isNegotiation(msg []byte) bool {
	if len(msg) != 8 {
		return false
	}
	code := binary.BigEndian.Uint32(msg[4:])
	return code == 80877103 || code == 80877104
}

// cString returns the text of b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// sqlText returns the SQL of a Query (query\0) or Parse (name\0 query\0 …)
// message body.
func sqlText(typ byte, body []byte) string {
	if typ == 'P' {
		i := bytes.IndexByte(body, 0)
		if i < 0 {
			return ""
		}
		body = body[i+1:]
	}
	if i := bytes.IndexByte(body, 0); i >= 0 {
		body = body[:i]
	}
	return string(body)
}

// reader reads frontend messages.
type reader struct{ r io.Reader }

var errFrame = errors.New("faultproxy: malformed message length")

// untyped reads a message without a type byte: length, then body.
func (r *reader) untyped() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 4 || n > 1<<30 {
		return nil, errFrame
	}
	msg := make([]byte, n)
	copy(msg, hdr[:])
	_, err := io.ReadFull(r.r, msg[4:])
	return msg, err
}

// typed reads a message with a type byte: type, length, body.
func (r *reader) typed() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > 1<<30 {
		return 0, nil, errFrame
	}
	msg := make([]byte, 1+n)
	copy(msg, hdr[:])
	_, err := io.ReadFull(r.r, msg[5:])
	return hdr[0], msg, err
}
