package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// Option configures a Runner. Options validate their input: New reports a
// bad option together with every problem of the pipeline.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	logger   *slog.Logger
	leaseTTL time.Duration
	lockWait time.Duration
	lockPoll time.Duration
	lockKey  string
	runnerID string
	events   func(Event)
	importer Importer // see WithImport
	// profiles are the active profiles (WithProfiles), sorted, without
	// repetitions; nil when the runner has none.
	profiles []string
	// drifts are the drifts Validate has logged, so that a readiness
	// check probing it every few seconds says each once (see Validate).
	drifts *driftsLogged
}

// driftsLogged is the set of drifts a Runner's Validate has logged.
type driftsLogged struct {
	mu   sync.Mutex
	seen map[[4]string]bool // stage, change id, recorded and current checksum
}

// first reports whether d was not logged before, and notes it.
func (s *driftsLogged) first(d Drift) bool {
	k := [4]string{d.Stage, d.ChangeID, d.Recorded, d.Current}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[k] {
		return false
	}
	if s.seen == nil {
		s.seen = make(map[[4]string]bool)
	}
	s.seen[k] = true
	return true
}

func defaultConfig() config {
	return config{
		logger:   slog.Default(),
		drifts:   new(driftsLogged),
		leaseTTL: 60 * time.Second,
		lockWait: 3 * time.Minute,
		lockPoll: time.Second,
		lockKey:  audit.DefaultLockKey,
	}
}

// WithLogger makes the runner log to l (stage, change, state and duration
// as attributes) instead of slog.Default() as it was when New was called.
//
// A run logs, at info level, each change it starts and each change
// applied, recovered, rolled back or marked (by an importer or Baseline)
// and, last, a summary ("run finished", result "2 applied, 5
// skipped"; at error level "run stopped" with the error); at warning
// level, a wait for the lock or for a busy store (who holds it, until
// when; then again every 10s, each poll in between at debug level), an
// applied change whose source changed since (Drift), and a retried store
// call; at error level, a failed change and an issue. A start with
// nothing to do logs its summary only. WithLogger(slog.New(slog.DiscardHandler))
// silences it.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		c.logger = l
		return nil
	})
}

// WithLease sets the lease the runner takes on the lock (default 60s). The
// lease is refreshed every ttl/3, and a change starts only while the lease
// is valid for at least ttl/3 more and its latest refresh succeeded (after
// a failed refresh, the runner tries once more before the next change and
// stops if that fails too). A crashed runner's lock is free again after
// ttl, so a shorter lease recovers sooner and a longer one tolerates slower
// stores.
func WithLease(ttl time.Duration) Option {
	return optionFunc(func(c *config) error {
		if ttl < time.Millisecond {
			return fmt.Errorf("WithLease: lease must be at least 1ms, got %s", ttl)
		}
		c.leaseTTL = ttl
		return nil
	})
}

// WithLockWait sets how long Run waits for a lock held by another runner
// (default 3m) and how often it tries again meanwhile (default 1s). A zero
// max tries once.
func WithLockWait(max, poll time.Duration) Option {
	return optionFunc(func(c *config) error {
		if max < 0 {
			return fmt.Errorf("WithLockWait: negative wait %s", max)
		}
		if poll <= 0 {
			return fmt.Errorf("WithLockWait: poll interval must be positive, got %s", poll)
		}
		c.lockWait, c.lockPoll = max, poll
		return nil
	})
}

// WithLockKey sets the key of the pipeline's lock in the audit store
// (default audit.DefaultLockKey, "flamingock"). Pipelines that share a
// store but must not exclude each other need different keys.
func WithLockKey(key string) Option {
	return optionFunc(func(c *config) error {
		if key == "" {
			return errors.New("WithLockKey: empty key")
		}
		c.lockKey = key
		return nil
	})
}

// WithRunnerID sets the identity the runner records in the audit trail and
// holds the lock as (default host-pid-random). It must be unique among
// running runners.
func WithRunnerID(id string) Option {
	return optionFunc(func(c *config) error {
		if id == "" {
			return errors.New("WithRunnerID: empty id")
		}
		c.runnerID = id
		return nil
	})
}

// WithEvents makes the runner call fn for every event of a run, in order,
// on the goroutine that called Run. fn must return quickly: the lease is
// refreshed meanwhile, but the next change waits.
func WithEvents(fn func(Event)) Option {
	return optionFunc(func(c *config) error {
		if fn == nil {
			return errors.New("WithEvents: nil callback")
		}
		c.events = fn
		return nil
	})
}
