package mongo_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit/mongo"
)

// nowhere is a URI whose server is never contacted: the cases using it fail
// before the store sends anything.
const nowhere = "mongodb://alice:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=200"

func TestOpenRejectsBadInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 250)
	tests := []struct {
		name string
		uri  string
		opts []mongo.Option
		want string
	}{
		{"a URI of another scheme", "postgres://alice:s3cret@127.0.0.1/", nil, `must start with "mongodb://"`},
		{"a password that is not percent-encoded", "mongodb://alice:s3%zzcret@127.0.0.1/", nil, "password is not percent-encoded"},
		{"a port that is not a number", "mongodb://alice:s3cret@127.0.0.1:port/", nil, "port must be an integer"},
		{"an unknown option value", "mongodb://alice:s3cret@127.0.0.1/?authMechanism=NONE", nil, "invalid auth mechanism"},
		{"a database in the path with a dot", "mongodb://alice:s3cret@127.0.0.1/app.db", nil, `the URI's path: invalid database name "app.db"`},
		{"an empty database option", nowhere, []mongo.Option{mongo.WithDatabase("")}, "invalid database name: empty"},
		{"a database option with a space", nowhere, []mongo.Option{mongo.WithDatabase("my app")}, `must not contain " "`},
		{"a database option with a slash", nowhere, []mongo.Option{mongo.WithDatabase("a/b")}, `must not contain "/"`},
		{"a database option of 64 bytes", nowhere, []mongo.Option{mongo.WithDatabase(strings.Repeat("d", 64))}, "longer than 63 bytes"},
		{"an empty collection prefix", nowhere, []mongo.Option{mongo.WithCollectionPrefix("")}, "invalid collection prefix: empty"},
		{"a collection prefix with a dollar", nowhere, []mongo.Option{mongo.WithCollectionPrefix("app$")}, `must not contain "$" or NUL`},
		{"a collection prefix with a NUL", nowhere, []mongo.Option{mongo.WithCollectionPrefix("app\x00")}, `must not contain "$" or NUL`},
		{"a collection prefix starting with a dot", nowhere, []mongo.Option{mongo.WithCollectionPrefix(".app")}, `must not start with "."`},
		{"a collection prefix in the system namespace", nowhere, []mongo.Option{mongo.WithCollectionPrefix("system.app")}, `"system." is reserved`},
		{"a collection prefix that is not UTF-8", nowhere, []mongo.Option{mongo.WithCollectionPrefix("app\xff")}, "not valid UTF-8"},
		{"names longer than a namespace allows", nowhere, []mongo.Option{mongo.WithCollectionPrefix(long)}, "more than MongoDB's 255"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := mongo.Open(t.Context(), tc.uri, tc.opts...)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v\nwant it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3") {
				t.Errorf("Open: %v\nshows (part of) the password", err)
			}
		})
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	t.Parallel()
	client, err := mongodriver.Connect(options.Client().ApplyURI(nowhere))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	tests := []struct {
		name string
		db   *mongodriver.Database
		opts []mongo.Option
		want string
	}{
		{"no database", nil, nil, "nil database"},
		{"a database option", client.Database("app"), []mongo.Option{mongo.WithDatabase("other")}, "WithDatabase applies to Open only"},
		{"a database of an invalid name", client.Database("app.db"), nil, `invalid database name "app.db"`},
		{"an invalid collection prefix", client.Database("app"), []mongo.Option{mongo.WithCollectionPrefix("a$b")}, `must not contain "$"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mongo.New(t.Context(), tc.db, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestOpenNamesTheUnreachableServer(t *testing.T) {
	t.Parallel()
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = mongo.Open(t.Context(), "mongodb://alice:s3cret@"+addr+"/?serverSelectionTimeoutMS=300")
	if err == nil {
		t.Fatalf("Open of a server that is not there succeeded")
	}
	for _, want := range []string{"cannot reach MongoDB at " + addr, "mongodb://alice:xxxxx@" + addr + "/?serverSelectionTimeoutMS=300"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open: %v\nwant it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open: %v\nshows the password", err)
	}
}

func TestOperationsNameTheServerThatWentAway(t *testing.T) {
	srv := newServer(t)
	db := srv.database(t)
	// The store talks to the server through a proxy, which the test stops
	// as a crashing server would vanish.
	p := startProxy(t, serverAddr(t, srv.uri))
	uri := "mongodb://" + p.addr() + "/?directConnection=true&serverSelectionTimeoutMS=300"
	s, err := mongo.Open(t.Context(), uri, mongo.WithDatabase(db))
	if err != nil {
		t.Fatalf("Open through the proxy: %v", err)
	}
	defer s.Close()
	if _, err := s.Acquire(t.Context(), "pipeline", "runner-a", time.Minute); err != nil {
		t.Fatalf("Acquire while the server is there: %v", err)
	}
	p.stop()
	// The first operation may find its pooled connection cut, the next
	// ones find no server: both say where the server was.
	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"Snapshot", func() error { _, err := s.Snapshot(t.Context()); return err }},
		{"Lock", func() error { _, err := s.Lock(t.Context(), "pipeline"); return err }},
		{"Acquire", func() error { _, err := s.Acquire(t.Context(), "other", "runner-a", time.Minute); return err }},
	} {
		err := op.run()
		if err == nil || !strings.Contains(err.Error(), "MongoDB at "+p.addr()) {
			t.Errorf("%s after the server went away: %v, want an error naming MongoDB at %s", op.name, err, p.addr())
		}
	}
}

// serverAddr is the host:port of a single-host URI.
func serverAddr(t *testing.T, uri string) string {
	t.Helper()
	_, rest, _ := strings.Cut(uri, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	host, _, _ := strings.Cut(rest, "/")
	if strings.Contains(host, ",") {
		t.Skipf("the proxy forwards to one server; %s names several", host)
	}
	return host
}

// proxy forwards loopback TCP connections to a server until stopped.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(p.stop)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// stop refuses new connections and cuts the open ones.
func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestStringHidesThePassword(t *testing.T) {
	srv := newServer(t)
	t.Run("without credentials it is the URI", func(t *testing.T) {
		s, _ := srv.open(t)
		if s.String() != srv.uri {
			t.Errorf("String() = %q, want %q", s.String(), srv.uri)
		}
	})
	t.Run("with credentials it keeps the user and hides the password", func(t *testing.T) {
		// PLAIN is accepted by a FerretDB without authentication; a
		// server that checks credentials refuses these.
		scheme, rest, _ := strings.Cut(srv.uri, "://")
		uri := scheme + "://alice:s3cret@" + rest + "&authMechanism=PLAIN"
		s, err := mongo.Open(t.Context(), uri, mongo.WithDatabase(srv.database(t)))
		if err != nil {
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Open: %v\nshows the password", err)
			}
			t.Skipf("the test server refuses made-up credentials, so no store can be opened with a password: %v", err)
		}
		defer s.Close()
		want := scheme + "://alice:xxxxx@" + rest + "&authMechanism=PLAIN"
		if s.String() != want {
			t.Errorf("String() = %q, want %q", s.String(), want)
		}
	})
}

func TestDatabaseChoice(t *testing.T) {
	srv := newServer(t)
	fromPath, fromOption := srv.database(t), srv.database(t)
	scheme, rest, _ := strings.Cut(srv.uri, "://")
	hosts, path, _ := strings.Cut(rest, "/")
	uri := scheme + "://" + hosts + "/" + fromPath
	if _, query, ok := strings.Cut(path, "?"); ok {
		uri += "?" + query
	}
	for _, tc := range []struct {
		name string
		opts []mongo.Option
		want string
	}{
		{"the URI's path names the database", nil, fromPath},
		{"WithDatabase wins over the path", []mongo.Option{mongo.WithDatabase(fromOption)}, fromOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := mongo.Open(t.Context(), uri, tc.opts...)
			if err != nil {
				t.Fatalf("Open(%s): %v", uri, err)
			}
			defer s.Close()
			if got := s.Database().Name(); got != tc.want {
				t.Errorf("Database().Name() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCloseLeavesTheCallersClient(t *testing.T) {
	srv := newServer(t)
	db := srv.admin.Database(srv.database(t))
	s, err := mongo.New(t.Context(), db)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.admin.Ping(t.Context(), nil); err != nil {
		t.Errorf("the caller's client no longer works after Close: %v", err)
	}
	opened, _ := srv.open(t)
	for i := range 2 {
		if err := opened.Close(); err != nil {
			t.Errorf("Close %d of an opened store: %v", i+1, err)
		}
	}
}

func TestConcurrentOpensCreateTheIndexesOnce(t *testing.T) {
	srv := newServer(t)
	db := srv.database(t)
	const n = 12
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			s, err := mongo.Open(t.Context(), srv.uri, mongo.WithDatabase(db))
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	cur, err := srv.admin.Database(db).Collection("flamingock_audit").Indexes().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var specs []struct {
		Name   string   `bson:"name"`
		Key    bson.Raw `bson:"key"`
		Unique bool     `bson:"unique"`
	}
	if err := cur.All(t.Context(), &specs); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range specs {
		names = append(names, sp.Name)
		if sp.Name == "acquisition_unique" && !sp.Unique {
			t.Errorf("index acquisition_unique is not unique")
		}
		// The highest entry seq is read from the end of the entries' range
		// of this index: kind first, then _id.
		if sp.Name == "entry_by_seq" {
			elems, err := sp.Key.Elements()
			if err != nil {
				t.Fatal(err)
			}
			var key []string
			for _, e := range elems {
				key = append(key, fmt.Sprintf("%s:%d", e.Key(), e.Value().AsInt64()))
			}
			if want := []string{"kind:1", "_id:1"}; !slices.Equal(key, want) {
				t.Errorf("index entry_by_seq has key %v, want %v", key, want)
			}
		}
	}
	slices.Sort(names)
	if want := []string{"_id_", "acquisition_unique", "entry_by_change", "entry_by_seq", "lease_by_key"}; !slices.Equal(names, want) {
		t.Errorf("indexes %v, want %v", names, want)
	}
}

func TestOpenRefusesAnIndexOfAnotherDefinition(t *testing.T) {
	srv := newServer(t)
	db := srv.database(t)
	_, err := srv.admin.Database(db).Collection("flamingock_audit").Indexes().CreateOne(t.Context(), mongodriver.IndexModel{
		Keys: bson.D{{Key: "owner", Value: 1}}, Options: options.Index().SetName("lease_by_key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = mongo.Open(t.Context(), srv.uri, mongo.WithDatabase(db))
	if err == nil || !strings.Contains(err.Error(), "has an index of the store's names with another definition") {
		t.Errorf("Open over a foreign index lease_by_key: %v, want an error naming the conflict", err)
	}
}
