package faultproxy_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flamingock/flamingock-go/internal/faultproxy"
	"github.com/flamingock/flamingock-go/internal/pgtest"
)

// backend is a fake server: it reads a startup message, then answers every
// Sync or Query with one 'Z' byte, and reports each flight's messages.
type backend struct {
	ln      net.Listener
	flights chan []byte // the types of the messages of each flight answered
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln, flights: make(chan []byte, 16)}
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

func (b *backend) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return
	}
	if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(n[:])-4)); err != nil {
		return
	}
	var types []byte
	for {
		typ, err := r.ReadByte()
		if err != nil {
			return
		}
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(n[:])-4)); err != nil {
			return
		}
		types = append(types, typ)
		if typ == 'S' || typ == 'Q' {
			b.flights <- types
			types = nil
			if _, err := c.Write([]byte{'Z'}); err != nil {
				return
			}
		}
	}
}

func msg(typ byte, body ...string) []byte {
	var payload []byte
	for _, s := range body {
		payload = append(payload, s...)
		payload = append(payload, 0)
	}
	out := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(4+len(payload)))
	return append(out, payload...)
}

func startup() []byte {
	body := []byte{0, 3, 0, 0}
	body = append(body, "user\x00u\x00\x00"...)
	out := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(out, uint32(4+len(body)))
	return append(out, body...)
}

// client connects through p and sends the startup message.
func client(t *testing.T, p *faultproxy.Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(startup()); err != nil {
		t.Fatal(err)
	}
	return c
}

// ask sends a flight and returns the first byte of the answer, or the
// error that replaced it.
func ask(c net.Conn, flight ...[]byte) (byte, error) {
	var all []byte
	for _, m := range flight {
		all = append(all, m...)
	}
	if _, err := c.Write(all); err != nil {
		return 0, err
	}
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	return b[0], err
}

func query(sql string) []byte { return msg('Q', sql) }

// extended is an INSERT in the extended protocol with a parameter (the
// Bind body is simplified: the fake server does not decode it).
func extended(param string) [][]byte {
	return [][]byte{msg('P', "", "INSERT INTO t VALUES ($1)"), msg('B', "", "", param), msg('E', ""), msg('S')}
}

func TestProxy(t *testing.T) {
	t.Run("forwards flights and answers untouched", func(t *testing.T) {
		b := newBackend(t)
		p := faultproxy.New(t, b.ln.Addr().String())
		c := client(t, p)
		if z, err := ask(c, query("SELECT 1")); err != nil || z != 'Z' {
			t.Fatalf("answer %q, %v", z, err)
		}
		if got := string(<-b.flights); got != "Q" {
			t.Errorf("server got %q, want Q", got)
		}
		if z, err := ask(c, extended("x")...); err != nil || z != 'Z' {
			t.Fatalf("answer %q, %v", z, err)
		}
		if got := string(<-b.flights); got != "PBES" {
			t.Errorf("server got %q, want one flight PBES", got)
		}
	})

	t.Run("cuts before forwarding: the server never sees the flight", func(t *testing.T) {
		b := newBackend(t)
		p := faultproxy.New(t, b.ln.Addr().String())
		f := p.Arm(faultproxy.Rule{Match: faultproxy.SQLIs("commit"), When: faultproxy.BeforeForward})
		c := client(t, p)
		if _, err := ask(c, query("commitment")); err != nil {
			t.Fatalf("a flight the rule does not match was cut: %v", err)
		}
		<-b.flights
		if _, err := ask(c, query("commit")); err == nil {
			t.Fatal("the matching flight was answered")
		}
		<-f.Fired()
		select {
		case got := <-b.flights:
			t.Errorf("the server answered a flight %q after the cut", got)
		default:
		}
		if f.Count() != 1 {
			t.Errorf("fired %d times, want 1", f.Count())
		}
		// One-shot: the next connection goes through.
		if _, err := ask(client(t, p), query("commit")); err != nil {
			t.Errorf("after the fault fired: %v", err)
		}
	})

	t.Run("cuts after forwarding: the server answers, the client hears nothing", func(t *testing.T) {
		b := newBackend(t)
		p := faultproxy.New(t, b.ln.Addr().String())
		p.Arm(faultproxy.Rule{Match: faultproxy.All(faultproxy.SQLContains("INSERT INTO t"), faultproxy.BytesContain("APPLIED")),
			When: faultproxy.AfterForward})
		c := client(t, p)
		if _, err := ask(c, extended("STARTED")...); err != nil {
			t.Fatalf("a flight with another parameter was cut: %v", err)
		}
		<-b.flights
		if _, err := ask(c, extended("APPLIED")...); err == nil {
			t.Fatal("the client heard the answer")
		}
		if got := string(<-b.flights); got != "PBES" {
			t.Errorf("server got %q, want the flight PBES", got)
		}
	})

	t.Run("repeats until disarmed", func(t *testing.T) {
		b := newBackend(t)
		p := faultproxy.New(t, b.ln.Addr().String())
		f := p.Arm(faultproxy.Rule{Match: faultproxy.SQLIs("x"), Repeat: true})
		for range 2 {
			if _, err := ask(client(t, p), query("x")); err == nil {
				t.Fatal("a repeating fault let a flight through")
			}
		}
		f.Disarm()
		if _, err := ask(client(t, p), query("x")); err != nil {
			t.Fatalf("after Disarm: %v", err)
		}
		if f.Count() != 2 {
			t.Errorf("fired %d times, want 2", f.Count())
		}
	})

	t.Run("DropAll closes every connection and accepts new ones", func(t *testing.T) {
		b := newBackend(t)
		p := faultproxy.New(t, b.ln.Addr().String())
		c1, c2 := client(t, p), client(t, p)
		for _, c := range []net.Conn{c1, c2} {
			if _, err := ask(c, query("SELECT 1")); err != nil {
				t.Fatal(err)
			}
		}
		if n := p.DropAll(); n != 2 {
			t.Errorf("DropAll cut %d connections, want 2", n)
		}
		for _, c := range []net.Conn{c1, c2} {
			if _, err := io.ReadFull(c, make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Errorf("read after DropAll: %v, want EOF", err)
			}
		}
		if _, err := ask(client(t, p), query("SELECT 1")); err != nil {
			t.Errorf("new connection after DropAll: %v", err)
		}
	})
}

// TestAmbiguousCommitOnPostgres checks the two COMMIT cuts against the real
// server: cut before, the transaction is rolled back; cut after, it
// committed though the client got an error.
func TestAmbiguousCommitOnPostgres(t *testing.T) {
	srv := pgtest.New(t)
	cfg, err := pgconn.ParseConfig(srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	schema := srv.Schema(t)
	table := pgx.Identifier{schema, "t"}.Sanitize()
	srv.Exec(t, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	srv.Exec(t, "CREATE TABLE "+table+" (v text)")
	p := faultproxy.New(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	for _, tc := range []struct {
		when faultproxy.When
		rows int
	}{{faultproxy.BeforeForward, 0}, {faultproxy.AfterForward, 1}} {
		ctx := context.Background()
		cc, err := pgx.ParseConfig(srv.DSN)
		if err != nil {
			t.Fatal(err)
		}
		host, port, err := net.SplitHostPort(p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		pn, err := strconv.Atoi(port)
		if err != nil {
			t.Fatal(err)
		}
		cc.Host, cc.Port = host, uint16(pn)
		conn, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		v := strconv.Itoa(int(tc.when))
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", v); err != nil {
			t.Fatal(err)
		}
		p.Arm(faultproxy.Rule{Match: faultproxy.SQLIs("commit"), When: tc.when})
		if err := tx.Commit(ctx); err == nil {
			t.Errorf("when %d: commit succeeded through a cut connection", tc.when)
		}
		conn.Close(ctx)
		var n int
		if err := srv.Admin.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE v = $1", v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != tc.rows {
			t.Errorf("when %d: %d rows committed, want %d", tc.when, n, tc.rows)
		}
	}
}
