package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/flamingock/flamingock-go/audit"
)

// The Interleaved methods run an operation the way the store does, but call
// between once: after the operation has read its first tip and decided to
// write on it, and before its insert. Tests use them to make another writer
// overtake the operation at the one moment a check-then-insert design could
// go wrong.

func (s *Store) InterleavedAppend(ctx context.Context, lease audit.Lease, e audit.Entry, between func()) error {
	return s.interleaved(ctx, lease.Key, appendStep(lease, e), between)
}

func (s *Store) InterleavedAcquire(ctx context.Context, key, owner string, ttl time.Duration, between func()) error {
	var won leaseEvent
	return s.interleaved(ctx, key, acquireStep(key, owner, ttl, &won), between)
}

func (s *Store) InterleavedRefresh(ctx context.Context, lease audit.Lease, between func()) error {
	return s.interleaved(ctx, lease.Key, refreshStep(&lease), between)
}

func (s *Store) InterleavedRelease(ctx context.Context, lease audit.Lease, between func()) error {
	return s.interleaved(ctx, lease.Key, releaseStep(lease), between)
}

func (s *Store) interleaved(ctx context.Context, key string, step func(tip) (bson.D, error), between func()) error {
	first := true
	_, err := s.extend(ctx, key, func(t tip) (bson.D, error) {
		d, err := step(t)
		if err == nil && first {
			first = false
			between()
		}
		return d, err
	})
	return err
}
