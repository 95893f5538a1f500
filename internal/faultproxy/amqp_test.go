package faultproxy_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/internal/faultproxy"
)

// The RabbitMQ-backed test of the AMQP proxy is in
// examples/platform/crashproof, whose module has an AMQP client; here the
// frames are built by hand and the server is a fake.

var amqpHeader = []byte("AMQP\x00\x00\x09\x01")

// amqpFrame builds a frame of type typ on channel ch.
func amqpFrame(typ byte, ch uint16, payload []byte) []byte {
	f := []byte{typ, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(f[1:], ch)
	binary.BigEndian.PutUint32(f[3:], uint32(len(payload)))
	return append(append(f, payload...), 0xCE)
}

// amqpMethodFrame builds a method frame of class and method ids with
// arguments args.
func amqpMethodFrame(class, method uint16, args string) []byte {
	p := binary.BigEndian.AppendUint16(nil, class)
	p = binary.BigEndian.AppendUint16(p, method)
	return amqpFrame(1, 1, append(p, args...))
}

// amqpBackend is a fake AMQP server: it reads the protocol header, then
// frames, reports the type (and, for methods, the class and method ids)
// of every frame it receives, and answers each method frame with a
// heartbeat frame.
type amqpBackend struct {
	ln net.Listener
	// ended gets a value when a connection ends: what it received is
	// recorded by then.
	ended  chan struct{}
	mu     sync.Mutex
	frames []string
}

func newAMQPBackend(t *testing.T) *amqpBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &amqpBackend{ln: ln, ended: make(chan struct{}, 4)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *amqpBackend) serve(c net.Conn) {
	defer func() { b.ended <- struct{}{} }()
	defer c.Close()
	header := make([]byte, 8)
	if _, err := io.ReadFull(c, header); err != nil {
		return
	}
	b.record("header " + string(header[:4]))
	for {
		var head [7]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		rest := make([]byte, binary.BigEndian.Uint32(head[3:])+1)
		if _, err := io.ReadFull(c, rest); err != nil {
			return
		}
		switch head[0] {
		case 1:
			b.record(fmt.Sprintf("method %d.%d", binary.BigEndian.Uint16(rest), binary.BigEndian.Uint16(rest[2:])))
			if _, err := c.Write(amqpFrame(8, 0, nil)); err != nil {
				return
			}
		case 2:
			b.record("header")
		case 3:
			b.record("body " + string(rest[:len(rest)-1]))
		case 8:
			b.record("heartbeat")
		}
	}
}

func (b *amqpBackend) record(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.frames = append(b.frames, s)
}

// seen returns what the backend received so far.
func (b *amqpBackend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.frames...)
}

var (
	queueDeclare = amqpMethodFrame(50, 10, "\x00\x00\x05jobs1\x00\x00\x00\x00\x00")
	basicPublish = amqpMethodFrame(60, 40, "\x00\x00\x00\x04jobs\x00")
	contentHead  = amqpFrame(2, 1, []byte("\x00\x3c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00"))
	contentBody  = amqpFrame(3, 1, []byte("hello"))
	heartbeat    = amqpFrame(8, 0, nil)
)

// dialAMQP connects to p and sends the protocol header.
func dialAMQP(t *testing.T, p *faultproxy.Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(amqpHeader); err != nil {
		t.Fatal(err)
	}
	return c
}

// exchange sends frames and reads the backend's answer to the method
// among them: one heartbeat frame, or an error when the proxy cut the
// connection.
func exchange(c net.Conn, frames ...[]byte) error {
	for _, f := range frames {
		if _, err := c.Write(f); err != nil {
			return err
		}
	}
	reply := make([]byte, len(heartbeat))
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	_, err := io.ReadFull(c, reply)
	return err
}

func TestAMQPProxy(t *testing.T) {
	var (
		mu      sync.Mutex
		methods []string
	)
	// record is a rule that never fires and notes the Method of every
	// flight it is shown.
	record := faultproxy.Rule{Repeat: true, Match: func(f faultproxy.Flight) bool {
		mu.Lock()
		defer mu.Unlock()
		methods = append(methods, f.Method)
		return false
	}}
	tests := []struct {
		name   string
		rule   *faultproxy.Rule
		cut    bool     // the client's exchange fails
		frames []string // what the server received
	}{
		{name: "without a fault every frame is forwarded and the header is not a flight",
			frames: []string{"header AMQP", "method 50.10", "method 60.40", "header", "body hello", "heartbeat"}},
		{name: "a cut before forwarding keeps the method from the server",
			rule: &faultproxy.Rule{Match: faultproxy.Method("queue.declare"), When: faultproxy.BeforeForward},
			cut:  true, frames: []string{"header AMQP"}},
		{name: "a cut after forwarding lets the method through and keeps the answer from the client",
			rule: &faultproxy.Rule{Match: faultproxy.Method("queue.declare"), When: faultproxy.AfterForward},
			cut:  true, frames: []string{"header AMQP", "method 50.10"}},
		{name: "a rule for another method lets the flight through",
			rule:   &faultproxy.Rule{Match: faultproxy.Method("queue.delete"), When: faultproxy.BeforeForward},
			frames: []string{"header AMQP", "method 50.10", "method 60.40", "header", "body hello", "heartbeat"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			methods = nil
			mu.Unlock()
			b := newAMQPBackend(t)
			p := faultproxy.NewAMQP(t, b.ln.Addr().String())
			p.Arm(record)
			var f *faultproxy.Fault
			if tt.rule != nil {
				f = p.Arm(*tt.rule)
			}
			c := dialAMQP(t, p)
			err := exchange(c, queueDeclare)
			if tt.cut != (err != nil) {
				t.Fatalf("queue.declare: %v, want cut %v", err, tt.cut)
			}
			if !tt.cut {
				// A publish: its header and body are no flights; the fake
				// answers the method at once, then the heartbeat tells that
				// every frame before it arrived.
				if err := exchange(c, basicPublish, contentHead, contentBody); err != nil {
					t.Fatal(err)
				}
				if err := exchange(c, heartbeat, amqpMethodFrame(20, 10, "\x00")); err != nil {
					t.Fatal(err)
				}
			}
			if f != nil && tt.cut && f.Count() != 1 {
				t.Errorf("the fault cut %d connections, want 1", f.Count())
			}
			got := b.seen()
			if !tt.cut {
				got = got[:len(got)-1] // the channel.open that closed the exchange
			}
			if tt.cut {
				// The proxy closed both sides; the backend has noted the
				// forwarded frames when it sees the close.
				waitEnded(t, b)
				got = b.seen()
			}
			if diff := cmp.Diff(tt.frames, got); diff != "" {
				t.Errorf("frames the server received (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			want := []string{"queue.declare"}
			if !tt.cut {
				want = append(want, "basic.publish", "channel.open")
			}
			if diff := cmp.Diff(want, methods); diff != "" {
				t.Errorf("flights shown to the rules (-want +got):\n%s", diff)
			}
		})
	}
}

// waitEnded waits until the backend's connection ended.
func waitEnded(t *testing.T, b *amqpBackend) {
	t.Helper()
	select {
	case <-b.ended:
	case <-t.Context().Done():
		t.Fatal("the proxy kept the server's connection open")
	}
}

func TestAMQPMalformedFrameClosesTheConnection(t *testing.T) {
	b := newAMQPBackend(t)
	p := faultproxy.NewAMQP(t, b.ln.Addr().String())
	c := dialAMQP(t, p)
	bad := amqpMethodFrame(50, 10, "x")
	bad[len(bad)-1] = 0 // not the frame-end octet
	if err := exchange(c, bad); err == nil {
		t.Fatal("a frame without its frame-end octet was answered")
	}
	waitEnded(t, b)
	if diff := cmp.Diff([]string{"header AMQP"}, b.seen()); diff != "" {
		t.Errorf("frames the server received (-want +got):\n%s", diff)
	}
}

func TestAMQPMethodNames(t *testing.T) {
	tests := []struct {
		class, method uint16
		want          string
	}{
		{10, 11, "connection.start-ok"},
		{20, 10, "channel.open"},
		{40, 10, "exchange.declare"},
		{40, 20, "exchange.delete"},
		{50, 10, "queue.declare"},
		{50, 20, "queue.bind"},
		{50, 40, "queue.delete"},
		{50, 50, "queue.unbind"},
		{60, 40, "basic.publish"},
		{85, 10, "confirm.select"},
		{90, 20, "tx.commit"},
		{99, 7, "99-7"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			b := newAMQPBackend(t)
			p := faultproxy.NewAMQP(t, b.ln.Addr().String())
			f := p.Arm(faultproxy.Rule{Match: faultproxy.Method(tt.want), When: faultproxy.BeforeForward})
			c := dialAMQP(t, p)
			if err := exchange(c, amqpMethodFrame(tt.class, tt.method, "")); err == nil {
				t.Fatalf("method %d.%d was not matched as %s", tt.class, tt.method, tt.want)
			}
			if f.Count() != 1 {
				t.Errorf("the fault cut %d connections, want 1", f.Count())
			}
		})
	}
}
