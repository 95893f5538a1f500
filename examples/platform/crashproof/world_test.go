package crashproof_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

const stageName = "crashproof"

// The changes of a case's pipeline: the crash (or the cut) is in the
// second.
var ids = []string{"first", "second", "third"}

// world is the audit store of one case (a SQLite file: the store is not
// what is proven here) and its target server.
type world struct {
	spec  caseSpec
	store *sqlite.Store
	// probe is a connection of the parent's own to the server: it counts,
	// and it is the operator's hand.
	probe system
}

// caseSpec is what a child needs to open the world its parent made.
type caseSpec struct {
	Target, Kind string
	// Prefix names the case's resources on the server.
	Prefix string
	// Dir holds the audit store.
	Dir string
	At  endpoints
}

func (s caseSpec) recovery() audit.Recovery {
	if s.Kind == kindEnsure {
		return audit.RecoveryRetry
	}
	return audit.RecoveryManual
}

// serverEndpoints returns the servers' addresses from the environment
// (internal/testenv), the HTTP server's from api.
func serverEndpoints(t *testing.T, target string, api *apiServer) endpoints {
	t.Helper()
	var at endpoints
	switch target {
	case targetNATS:
		at.NATS = testenv.NATS(t)
	case targetAMQP:
		at.AMQP = testenv.AMQP(t)
	case targetRedis:
		at.Redis = testenv.Redis(t)
	case targetHTTP:
		at.HTTP = api.srv.URL
	}
	return at
}

// newWorld makes the world of a case on target with changes of kind: a
// fresh store, resource names of its own, the resources the appends go
// to; removed when t ends.
func newWorld(t *testing.T, target, kind string, api *apiServer) *world {
	t.Helper()
	spec := caseSpec{Target: target, Kind: kind, Dir: t.TempDir(),
		Prefix: "cp" + strings.ToLower(rand.Text()[:10]), At: serverEndpoints(t, target, api)}
	ctx := context.Background()
	store, err := openStore(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	probe, err := openSystem(ctx, target, kind, spec.Prefix, spec.At)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := probe.(*httpSystem); ok {
		h.srv = api
	}
	w := &world{spec: spec, store: store, probe: probe}
	t.Cleanup(func() {
		if err := w.drop(context.Background()); err != nil {
			t.Error(err)
		}
		probe.close()
	})
	if err := w.prepare(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

func openStore(ctx context.Context, spec caseSpec) (*sqlite.Store, error) {
	return sqlite.Open(ctx, filepath.Join(spec.Dir, "audit.db"))
}

// prepare creates where the appends of the case go: the log stream, the
// queues.
func (w *world) prepare(ctx context.Context) error {
	if w.spec.Kind != kindAppend {
		return nil
	}
	switch s := w.probe.(type) {
	case *natsSystem:
		_, err := s.js.CreateStream(ctx, s.logStream())
		return err
	case *amqpSystem:
		ch, err := s.conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		for _, id := range ids {
			apply, undo := s.logQueues(id)
			for _, q := range []string{apply, undo} {
				if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// drop removes the case's resources from the server.
func (w *world) drop(ctx context.Context) error {
	var errs []error
	switch s := w.probe.(type) {
	case *natsSystem:
		names := []string{s.logStream().Name}
		for _, id := range ids {
			names = append(names, s.stream(id).Name)
		}
		for _, name := range names {
			if err := s.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				errs = append(errs, fmt.Errorf("delete stream %s: %w", name, err))
			}
		}
	case *amqpSystem:
		for _, id := range ids {
			apply, undo := s.logQueues(id)
			for _, q := range []string{apply, undo, s.queue(id).Name} {
				errs = append(errs, amqpDrop(s.conn, func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err }))
			}
			x := s.exchange(id).Name
			errs = append(errs, amqpDrop(s.conn, func(ch *amqp.Channel) error { return ch.ExchangeDelete(x, false, false) }))
		}
	case *redisSystem:
		errs = append(errs, s.rdb.Del(ctx, s.keys()...).Err())
	}
	return errors.Join(errs...)
}

// amqpDrop runs a delete on a channel of its own.
func amqpDrop(conn *amqp.Connection, del func(*amqp.Channel) error) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	return del(ch)
}

// meta declares change id of the case's pipeline.
func meta(id string, order uint64, rec audit.Recovery) pipeline.Meta {
	return pipeline.Meta{ID: id, Order: audit.OrderOf(order), Author: "crashproof", Target: "target",
		Recovery: rec, WithoutTransaction: true, Checksum: "sum-" + id, Source: id + ".go:1"}
}

// stages is the pipeline of changes ids on sys.
func stages(sys system, rec audit.Recovery, ids []string) []pipeline.Stage {
	st := pipeline.Stage{Name: stageName}
	for i, id := range ids {
		st.Changes = append(st.Changes, sys.change(meta(id, uint64(i+1), rec)))
	}
	return []pipeline.Stage{st}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// runner returns a runner of changes ids on sys in w's store.
func (w *world) runner(t *testing.T, sys system, ids []string, opts ...pipeline.Option) *pipeline.Runner {
	t.Helper()
	opts = append([]pipeline.Option{pipeline.WithRunnerID("parent"), pipeline.WithLogger(quiet),
		pipeline.WithLockWait(time.Minute, 10*time.Millisecond)}, opts...)
	r, err := pipeline.New(w.store, stages(sys, w.spec.recovery(), ids), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (w *world) history(t *testing.T, id string) []audit.Entry {
	t.Helper()
	h, err := w.store.History(context.Background(), audit.Filter{Stage: stageName, ChangeID: id})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (w *world) trailLen(t *testing.T) int {
	t.Helper()
	h, err := w.store.History(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(h)
}

// level counts change id on the server.
func (w *world) level(t *testing.T, id string) int {
	t.Helper()
	n, err := w.probe.level(context.Background(), id)
	if err != nil {
		t.Fatalf("counting change %s on %s: %v", id, w.spec.Target, err)
	}
	return n
}

// births returns when the resources of change id that exist were created,
// where the server says (NATS streams and consumers).
func (w *world) births(t *testing.T, id string) map[string]time.Time {
	t.Helper()
	n, ok := w.probe.(*natsSystem)
	if !ok {
		return nil
	}
	b, err := n.births(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noops returns the writes the server saw that changed nothing, where
// the server counts them (the HTTP API): a retry of an ensure change
// that converged writes nothing it had written.
func (w *world) noops() int {
	h, ok := w.probe.(*httpSystem)
	if !ok {
		return 0
	}
	return h.srv.noopsUnder("/" + w.spec.Prefix + "/")
}
