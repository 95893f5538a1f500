package netfault

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/flamingock/flamingock-go/internal/faultproxy"
)

// mysqlProxy is internal/faultproxy for the MySQL client protocol, which
// that package does not read: a TCP proxy between go-sql-driver/mysql and
// the server that cuts the connection carrying a chosen statement, before
// the server sees it or after the server received it but before its
// answer reaches the client, or every connection at once (DropAll).
//
// The client's stream is read as MySQL packets (a 3-byte length, a
// sequence number, the payload). A command starts a new exchange at
// sequence number 0; its first byte says which: COM_QUERY (the store's
// statements, its arguments interpolated by the driver with
// interpolateParams=true, which mysql.Open sets) and COM_STMT_PREPARE
// carry the statement's text, which rules match. The handshake (sequence
// numbers from 1) and server bytes are forwarded untouched. Rules are
// faultproxy's: a Matcher sees a Flight whose SQL holds the statement.
type mysqlProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[*mysqlLink]struct{}
	faults []*mysqlFault
	wg     sync.WaitGroup
}

// mysqlFault is an armed rule of a mysqlProxy.
type mysqlFault struct {
	rule  faultproxy.Rule
	fired chan struct{}

	mu       sync.Mutex
	count    int
	disarmed bool
}

// Fired is closed when the fault first cut a connection.
func (f *mysqlFault) Fired() <-chan struct{} { return f.fired }

// Count returns how many connections the fault cut.
func (f *mysqlFault) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Disarm stops the fault from firing again.
func (f *mysqlFault) Disarm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disarmed = true
}

func (f *mysqlFault) take(fl faultproxy.Flight) bool {
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

// newMySQLProxy starts a proxy on 127.0.0.1 forwarding to target
// (host:port), closed with every connection when t ends.
func newMySQLProxy(t *testing.T, target string) *mysqlProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &mysqlProxy{ln: ln, target: target, conns: map[*mysqlLink]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// Addr is the address clients connect to.
func (p *mysqlProxy) Addr() string { return p.ln.Addr().String() }

// Arm installs r; the first armed fault that matches a statement fires.
func (p *mysqlProxy) Arm(r faultproxy.Rule) *mysqlFault {
	f := &mysqlFault{rule: r, fired: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
	return f
}

// DropAll closes every current connection, both sides, and returns how
// many there were.
func (p *mysqlProxy) DropAll() int {
	p.mu.Lock()
	links := make([]*mysqlLink, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.cut()
	}
	return len(links)
}

func (p *mysqlProxy) close() {
	p.ln.Close()
	p.DropAll()
	p.wg.Wait()
}

func (p *mysqlProxy) serve() {
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

func (p *mysqlProxy) fault(fl faultproxy.Flight) *mysqlFault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if f.take(fl) {
			return f
		}
	}
	return nil
}

// mysqlLink is one proxied connection.
type mysqlLink struct {
	client, server net.Conn
	once           sync.Once

	mu         sync.Mutex
	cutOnReply bool // the server's next bytes must not reach the client
}

func (l *mysqlLink) cut() {
	l.once.Do(func() {
		l.client.Close()
		l.server.Close()
	})
}

func (p *mysqlProxy) handle(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	l := &mysqlLink{client: client, server: server}
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
func (p *mysqlProxy) toClient(l *mysqlLink) {
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

// MySQL commands whose payload, after the command byte, is SQL text.
const (
	comQuery       = 0x03
	comStmtPrepare = 0x16
)

// maxPayload is the payload of a packet continued by the next one.
const maxPayload = 1<<24 - 1

// toServer forwards the client's packets, cutting the connection at a
// command a fault matches.
func (p *mysqlProxy) toServer(l *mysqlLink) {
	defer l.cut()
	continued := false // the previous packet was full: this one continues it
	for {
		var header [4]byte
		if _, err := io.ReadFull(l.client, header[:]); err != nil {
			return
		}
		size := int(header[0]) | int(header[1])<<8 | int(header[2])<<16
		packet := make([]byte, 4+size)
		copy(packet, header[:])
		if _, err := io.ReadFull(l.client, packet[4:]); err != nil {
			return
		}
		command := header[3] == 0 && !continued && size > 0
		continued = size == maxPayload
		if command && (packet[4] == comQuery || packet[4] == comStmtPrepare) {
			fl := faultproxy.Flight{Raw: packet, SQL: []string{string(packet[5:])}}
			f := p.fault(fl)
			switch {
			case f == nil:
			case f.rule.When == faultproxy.BeforeForward:
				return
			default:
				l.mu.Lock()
				l.cutOnReply = true
				l.mu.Unlock()
			}
		}
		if _, err := l.server.Write(packet); err != nil {
			return
		}
	}
}

// sqlHas matches a statement holding every one of parts.
func sqlHas(parts ...string) faultproxy.Matcher {
	return func(f faultproxy.Flight) bool {
		for _, q := range f.SQL {
			all := true
			for _, s := range parts {
				all = all && strings.Contains(q, s)
			}
			if all {
				return true
			}
		}
		return false
	}
}
