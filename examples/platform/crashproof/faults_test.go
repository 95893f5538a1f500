package crashproof_test

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/faultproxy"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

// viaProxy returns the AMQP URL rawURL with the proxy p's address in place
// of the server's, and the server's address.
func viaProxy(t *testing.T, rawURL string, p *faultproxy.Proxy) string {
	t.Helper()
	u, err := amqp.ParseURI(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host
	if u.Port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// newAMQPProxy starts a fault proxy in front of the RabbitMQ server of
// rawURL.
func newAMQPProxy(t *testing.T, rawURL string) *faultproxy.Proxy {
	t.Helper()
	u, err := amqp.ParseURI(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return faultproxy.NewAMQP(t, net.JoinHostPort(u.Host, strconv.Itoa(u.Port)))
}

// TestProxyCutsAQueueDeclare is the test of faultproxy.NewAMQP on the real
// server (the root module has no AMQP client): a queue.declare cut before
// the server sees it leaves no queue; one cut after leaves the queue while
// the client hears only an error.
func TestProxyCutsAQueueDeclare(t *testing.T) {
	url := testenv.AMQP(t)
	direct, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	for _, tt := range []struct {
		name   string
		when   faultproxy.When
		exists bool
	}{
		{"before forwarding it leaves no queue", faultproxy.BeforeForward, false},
		{"after forwarding it leaves the queue, the client hearing an error", faultproxy.AfterForward, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newAMQPProxy(t, url)
			conn, err := amqp.Dial(viaProxy(t, url, p))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				t.Fatal(err)
			}
			name := "cpproxy." + strings.ToLower(rand.Text()[:10])
			t.Cleanup(func() {
				amqpDrop(direct, func(ch *amqp.Channel) error { _, err := ch.QueueDelete(name, false, false, false); return err })
			})
			f := p.Arm(faultproxy.Rule{Match: faultproxy.Method("queue.declare"), When: tt.when})
			if _, err := ch.QueueDeclare(name, false, false, false, false, nil); err == nil {
				t.Fatal("queue.declare through the cut: no error")
			}
			if f.Count() != 1 {
				t.Fatalf("the fault cut %d connections, want 1", f.Count())
			}
			_, exists, err := queueState(direct, name)
			if err != nil {
				t.Fatal(err)
			}
			if exists != tt.exists {
				t.Errorf("queue %s exists: %v, want %v", name, exists, tt.exists)
			}
		})
	}
}

// cutCase is one fault of TestFaultCuts: the connection of a RabbitMQ
// change of kind, applying or undoing, cut at the nth flight of method.
type cutCase struct {
	kind   string
	undo   bool
	method string
	nth    int
	when   faultproxy.When
}

func (c cutCase) String() string {
	what := "apply"
	if c.undo {
		what = "undo"
	}
	when := "before"
	if c.when == faultproxy.AfterForward {
		when = "after"
	}
	return fmt.Sprintf("%s %s cut %s forwarding %s #%d", c.kind, what, when, c.method, c.nth)
}

// nthMethod matches the nth flight of method since it was armed.
func nthMethod(method string, nth int) faultproxy.Matcher {
	var mu sync.Mutex
	seen := 0
	return func(f faultproxy.Flight) bool {
		mu.Lock()
		defer mu.Unlock()
		if f.Method != method {
			return false
		}
		seen++
		return seen == nth
	}
}

// cutWorld is the world of a cut case: the changes' connection goes
// through a fault proxy; the probe's does not.
type cutWorld struct {
	*world
	proxy *faultproxy.Proxy
	at    endpoints // through the proxy
}

func newCutWorld(t *testing.T, kind string) *cutWorld {
	w := newWorld(t, targetAMQP, kind, nil)
	p := newAMQPProxy(t, w.spec.At.AMQP)
	at := w.spec.At
	at.AMQP = viaProxy(t, at.AMQP, p)
	return &cutWorld{world: w, proxy: p, at: at}
}

// connect opens a connection for the changes, through the proxy.
func (w *cutWorld) connect(t *testing.T) system {
	t.Helper()
	sys, err := openSystem(t.Context(), targetAMQP, w.spec.Kind, w.spec.Prefix, w.at)
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

// interrupt brings the pipeline of the first two changes on sys to the
// moment before the second is applied (or, undo, undone: both applied),
// arms rule, and applies (undoes) the second; it returns the run's error.
func (w *cutWorld) interrupt(t *testing.T, sys system, undo bool, rule faultproxy.Rule) (*faultproxy.Fault, error) {
	t.Helper()
	ctx := t.Context()
	prep := ids[:1]
	if undo {
		prep = ids[:2]
	}
	if _, err := w.runner(t, sys, prep).Run(ctx); err != nil {
		t.Fatal(err)
	}
	r := w.runner(t, sys, ids[:2])
	f := w.proxy.Arm(rule)
	defer f.Disarm()
	if undo {
		_, err := r.RollbackTo(ctx, ids[0])
		return f, err
	}
	_, err := r.Run(ctx)
	return f, err
}

// flights returns the AMQP methods the second change sends, applying or
// undoing, in order: the cut cases.
func flights(t *testing.T, kind string, undo bool) []string {
	w := newCutWorld(t, kind)
	sys := w.connect(t)
	defer sys.close()
	var (
		mu      sync.Mutex
		methods []string
	)
	_, err := w.interrupt(t, sys, undo, faultproxy.Rule{Repeat: true, Match: func(f faultproxy.Flight) bool {
		mu.Lock()
		defer mu.Unlock()
		methods = append(methods, f.Method)
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return methods
}

// cutTally adds up the cut cases' verdicts.
type cutTally struct {
	mu                              sync.Mutex
	cuts, failed, falseDone         int
	lost, doubled, silent, notFired int
	methods                         map[string]bool
	// quiet: the methods of the cuts the run did not fail at.
	quiet map[string]bool
}

// TestFaultCuts cuts the connection of the RabbitMQ changes (both kinds,
// applying and undoing) through faultproxy.NewAMQP at every AMQP method
// frame the second change sends, before the server sees it and after,
// then settles the pipeline on a new connection as after a crash.
func TestFaultCuts(t *testing.T) {
	t.Parallel() // with the crash matrix, which waits on leases most of its time
	sum := cutTally{methods: map[string]bool{}, quiet: map[string]bool{}}
	var all []cutCase
	for _, kind := range []string{kindEnsure, kindAppend} {
		for _, undo := range []bool{false, true} {
			seen := map[string]int{}
			for _, m := range flights(t, kind, undo) {
				seen[m]++
				sum.methods[m] = true
				for _, when := range []faultproxy.When{faultproxy.BeforeForward, faultproxy.AfterForward} {
					all = append(all, cutCase{kind: kind, undo: undo, method: m, nth: seen[m], when: when})
				}
			}
		}
	}
	t.Run("cuts", func(t *testing.T) {
		for _, c := range all {
			t.Run(c.String(), func(t *testing.T) {
				t.Parallel()
				c.run(t, &sum)
			})
		}
	})
	fmt.Printf("fault proxy (rabbitmq): %d cuts at %d methods (%d failed the run; the others at %s, after the change's work was acknowledged): %d false APPLIED, %d lost, %d doubled, %d silent\n",
		sum.cuts, len(sum.methods), sum.failed, strings.Join(slices.Sorted(maps.Keys(sum.quiet)), ", "),
		sum.falseDone, sum.lost, sum.doubled, sum.silent)
	if sum.falseDone+sum.lost+sum.doubled+sum.silent+sum.notFired > 0 {
		t.Errorf("%d false APPLIED, %d lost, %d doubled, %d silent, %d faults that never fired",
			sum.falseDone, sum.lost, sum.doubled, sum.silent, sum.notFired)
	}
}

func (c cutCase) run(t *testing.T, sum *cutTally) {
	w := newCutWorld(t, c.kind)
	sys := w.connect(t)
	f, err := w.interrupt(t, sys, c.undo, faultproxy.Rule{Match: nthMethod(c.method, c.nth), When: c.when})
	sys.close()
	var v verdict
	falseDone, fired := 0, f.Count() == 1
	defer func() {
		sum.mu.Lock()
		defer sum.mu.Unlock()
		sum.cuts++
		if err != nil {
			sum.failed++
		} else {
			sum.quiet[c.method] = true
		}
		if !fired {
			sum.notFired++
		}
		sum.falseDone += falseDone
		sum.lost += v.lost
		sum.doubled += v.doubled
		sum.silent += v.silent
	}()
	if !fired {
		t.Fatalf("the fault never fired (run error %v)", err)
	}
	st := w.crashState(t, ids[1])
	t.Logf("%s: %v; the second change is %s at level %d", c, err, st.latest, st.level)
	switch st.latest {
	case audit.StateApplied, audit.StateManualApplied:
		if st.level != fullLevel {
			falseDone++
			t.Errorf("the trail says %s, the server holds %d of the change's %d steps", st.latest, st.level, fullLevel)
		}
	case audit.StateRolledBack, audit.StateManualRolledBack:
		if st.level != 0 {
			falseDone++
			t.Errorf("the trail says %s, the server holds %d of the change's steps", st.latest, st.level)
		}
	}
	if err == nil && uncertain(st.latest) {
		v.silent++
		t.Errorf("the run with the cut reported no error and left the change %s", st.latest)
	}
	// The proxy forwards again: the next run, on a new connection, settles.
	next := w.connect(t)
	defer next.close()
	v = v.plus(w.settle(t, next, ids[:2], st))
}
