package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
)

// The events of a lock key's life, one document each.
const (
	eventAcquire      = "acquire"
	eventRefresh      = "refresh"
	eventRelease      = "release"
	eventForceRelease = "force_release"
)

// leaseEvent is a stored acquisition, refresh, release or forced release
// of a lock key.
// The key's state is its latest event.
type leaseEvent struct {
	event string
	key   string
	epoch int64
	// owner is the holder; for a release, the holder that released.
	owner string
	// expiresAt is when the lease ends by the server's clock; for a
	// release, the server's time of the release.
	expiresAt time.Time
	// at is the server's time the event was decided at.
	at time.Time
	// releasedBy and releasedAt record the key's latest forced release,
	// carried from event to event; empty before the first.
	releasedBy string
	releasedAt time.Time
}

// next starts the event that follows e (nil for a key's first), carrying
// the record of the latest forced release.
func (e *leaseEvent) next(event, key string, now time.Time) leaseEvent {
	n := leaseEvent{event: event, key: key, at: now}
	if e != nil {
		n.releasedBy, n.releasedAt = e.releasedBy, e.releasedAt
	}
	return n
}

// released reports whether the event frees the key.
func (e *leaseEvent) released() bool {
	return e.event == eventRelease || e.event == eventForceRelease
}

// held reports whether the event leaves the key held at now.
func (e *leaseEvent) held(now time.Time) bool {
	return e != nil && !e.released() && now.Before(e.expiresAt)
}

// holds reports whether lease is the lock the tip shows, held and unexpired.
func (t tip) holds(lease audit.Lease) bool {
	return t.last.held(t.now) && t.last.epoch == lease.Epoch && t.last.owner == lease.Owner
}

// info describes the key as the tip shows it.
func (t tip) info(key string) audit.LockInfo {
	info := audit.LockInfo{Key: key, Now: t.now}
	if e := t.last; e != nil {
		info.Epoch, info.ExpiresAt = e.epoch, e.expiresAt
		info.ReleasedBy, info.ReleasedAt = e.releasedBy, e.releasedAt
		if !e.released() {
			info.Owner = e.owner
		}
	}
	return info
}

// acquisitionID is the value of the acquisition field of the acquire event
// of key at epoch, unique across the collection: one more guard, beside
// the seq, that two acquisitions of one epoch cannot both be stored. The
// epoch follows the last "/", so distinct keys and epochs never meet.
func acquisitionID(key string, epoch int64) string {
	return key + "/" + strconv.FormatInt(epoch, 10)
}

// leaseFields is the stored form of an event, after _id.
func leaseFields(e leaseEvent) bson.D {
	d := bson.D{
		{Key: "schema_version", Value: int64(schemaVersion1)},
		{Key: "kind", Value: kindLease},
		{Key: "event", Value: e.event},
		{Key: "key", Value: e.key},
		{Key: "epoch", Value: e.epoch},
		{Key: "owner", Value: e.owner},
		{Key: "expires_at", Value: bson.NewDateTimeFromTime(e.expiresAt)},
		{Key: "at", Value: bson.NewDateTimeFromTime(e.at)},
	}
	if e.event == eventAcquire {
		d = append(d, bson.E{Key: "acquisition", Value: acquisitionID(e.key, e.epoch)})
	}
	if e.releasedBy != "" {
		d = append(d,
			bson.E{Key: "released_by", Value: e.releasedBy},
			bson.E{Key: "released_at", Value: bson.NewDateTimeFromTime(e.releasedAt)})
	}
	return d
}

// decodeLeaseEvent reads a document found as a key's latest event, and
// refuses one this version cannot trust.
func decodeLeaseEvent(doc bson.Raw) (*leaseEvent, error) {
	f := newFields(doc)
	if _, _, err := docVersion(f); err != nil {
		return nil, err
	}
	f.string("kind") // the query selected lease events of the key
	e := &leaseEvent{
		event:     f.string("event"),
		key:       f.string("key"),
		epoch:     f.int64("epoch"),
		owner:     f.string("owner"),
		expiresAt: f.time("expires_at"),
		at:        f.time("at"),
	}
	var acquisition string
	if e.event == eventAcquire {
		acquisition = f.string("acquisition")
	}
	if e.releasedBy = f.optionalString("released_by"); e.releasedBy != "" {
		e.releasedAt = f.time("released_at")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	switch {
	case e.event != eventAcquire && e.event != eventRefresh && !e.released():
		return nil, fmt.Errorf("unknown lease event %q", e.event)
	case e.event == eventForceRelease && !e.releasedAt.Equal(e.at):
		return nil, errors.New("a forced release that does not record itself as the latest")
	case e.epoch < 1:
		return nil, fmt.Errorf("epoch %d is not positive", e.epoch)
	case e.owner == "":
		return nil, errors.New("empty owner")
	case e.event == eventAcquire && acquisition != acquisitionID(e.key, e.epoch):
		return nil, fmt.Errorf("acquisition %q does not match key %q and epoch %d", acquisition, e.key, e.epoch)
	}
	return e, nil
}

// lastLeaseEvent returns key's latest event with a seq of at most maxSeq
// (any seq when maxSeq is negative), nil when there is none.
func (s *Store) lastLeaseEvent(ctx context.Context, key string, maxSeq int64) (*leaseEvent, error) {
	filter := bson.D{{Key: "kind", Value: kindLease}, {Key: "key", Value: key}}
	if maxSeq >= 0 {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lte", Value: maxSeq}}})
	}
	var doc bson.Raw
	err := s.coll.FindOne(ctx, filter, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongodriver.ErrNoDocuments):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the lock %q: %w", key, s.explain(err))
	}
	e, err := decodeLeaseEvent(doc)
	if err != nil {
		return nil, s.corrupt(fmt.Sprintf("lock %q, %s", key, describeID(doc)), err)
	}
	return e, nil
}

// Acquire takes the lock key for owner for ttl when it is free, released or
// expired, incrementing its epoch; see audit.Store. While any unexpired
// lease holds key, owner's own included, it returns an *audit.LockHeldError.
//
// The acquisition is the insert of an acquire event at the seq after the
// tip the decision was made on: of concurrent acquirers, exactly one
// inserts it, and the others see it and report it as the holder.
func (s *Store) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (audit.Lease, error) {
	if err := audit.CheckAcquire(key, owner, ttl); err != nil {
		return audit.Lease{}, fmt.Errorf("mongo: %w", err)
	}
	var e leaseEvent
	_, err := s.extend(ctx, key, acquireStep(key, owner, ttl, &e))
	var held *audit.LockHeldError
	switch {
	case errors.As(err, &held):
		return audit.Lease{}, err
	case err != nil:
		return audit.Lease{}, fmt.Errorf("mongo: acquire lock %q: %w", key, err)
	}
	return audit.Lease{Key: key, Owner: owner, Epoch: e.epoch, ExpiresAt: e.expiresAt, TTL: ttl}, nil
}

// acquireStep decides an acquisition on a tip: refused while the key is
// held, else the acquire event of the next epoch, which it also stores in
// won.
func acquireStep(key, owner string, ttl time.Duration, won *leaseEvent) func(tip) (bson.D, error) {
	return func(t tip) (bson.D, error) {
		if t.last.held(t.now) {
			return nil, &audit.LockHeldError{Info: t.info(key)}
		}
		*won = t.last.next(eventAcquire, key, t.now)
		won.epoch, won.owner, won.expiresAt = 1, owner, expiry(t.now, ttl)
		if t.last != nil {
			won.epoch = t.last.epoch + 1
		}
		return leaseFields(*won), nil
	}
}

// expiry is now plus ttl, at the millisecond precision of BSON dates.
func expiry(now time.Time, ttl time.Duration) time.Time {
	return time.UnixMilli(now.UnixMilli() + ttl.Milliseconds()).UTC()
}

// Refresh extends lease by lease.TTL from the server's now; see
// audit.Store.
func (s *Store) Refresh(ctx context.Context, lease audit.Lease) (audit.Lease, error) {
	if lease.TTL < time.Millisecond {
		return audit.Lease{}, fmt.Errorf("mongo: refresh lock %q: ttl %s is under a millisecond", lease.Key, lease.TTL)
	}
	_, err := s.extend(ctx, lease.Key, refreshStep(&lease))
	if err != nil {
		return audit.Lease{}, wrapLockError("refresh", lease, err)
	}
	return lease, nil
}

// Release frees the lock if lease holds it, keeping its epoch; see
// audit.Store.
func (s *Store) Release(ctx context.Context, lease audit.Lease) error {
	_, err := s.extend(ctx, lease.Key, releaseStep(lease))
	if err != nil {
		return wrapLockError("release", lease, err)
	}
	return nil
}

// refreshStep decides a refresh of *lease on a tip: fenced unless the
// lease holds the lock, else a refresh event, whose expiry it also stores
// in *lease.
func refreshStep(lease *audit.Lease) func(tip) (bson.D, error) {
	return func(t tip) (bson.D, error) {
		if !t.holds(*lease) {
			return nil, fenced("refresh", *lease)
		}
		lease.ExpiresAt = expiry(t.now, lease.TTL)
		e := t.last.next(eventRefresh, lease.Key, t.now)
		e.epoch, e.owner, e.expiresAt = lease.Epoch, lease.Owner, lease.ExpiresAt
		return leaseFields(e), nil
	}
}

// releaseStep decides a release of lease on a tip: fenced unless the
// lease holds the lock, else a release event.
func releaseStep(lease audit.Lease) func(tip) (bson.D, error) {
	return func(t tip) (bson.D, error) {
		if !t.holds(lease) {
			return nil, fenced("release", lease)
		}
		e := t.last.next(eventRelease, lease.Key, t.now)
		e.epoch, e.owner, e.expiresAt = lease.Epoch, lease.Owner, t.now
		return leaseFields(e), nil
	}
}

func fenced(op string, l audit.Lease) error {
	return fmt.Errorf("mongo: %s lock %q (owner %q, epoch %d): %w", op, l.Key, l.Owner, l.Epoch, audit.ErrFenced)
}

// wrapLockError adds the operation to an error of extend, except to a
// fenced error, which already says it.
func wrapLockError(op string, l audit.Lease, err error) error {
	if errors.Is(err, audit.ErrFenced) {
		return err
	}
	return fmt.Errorf("mongo: %s lock %q: %w", op, l.Key, err)
}

// ForceRelease frees the lock key whoever holds it, recording operator as
// its ReleasedBy; see audit.Store. The release is an event like Release's,
// inserted at the seq after the tip it was decided on, so the former
// holder's writes are fenced from that seq on.
func (s *Store) ForceRelease(ctx context.Context, key, operator string) (audit.LockInfo, error) {
	switch {
	case key == "":
		return audit.LockInfo{}, errors.New("mongo: force release lock: empty key")
	case operator == "":
		return audit.LockInfo{}, fmt.Errorf("mongo: force release lock %q: empty operator", key)
	}
	var before audit.LockInfo
	_, err := s.extend(ctx, key, func(t tip) (bson.D, error) {
		before = t.info(key)
		if t.last == nil {
			return nil, nil // never acquired: nothing to release
		}
		e := t.last.next(eventForceRelease, key, t.now)
		// The holder is kept for the trail; the event frees the key.
		e.epoch, e.owner, e.expiresAt = t.last.epoch, t.last.owner, t.now
		e.releasedBy, e.releasedAt = operator, t.now
		return leaseFields(e), nil
	})
	if err != nil {
		return audit.LockInfo{}, fmt.Errorf("mongo: force release lock %q: %w", key, err)
	}
	return before, nil
}

// Lock reports the state of the lock key, with the server's now.
func (s *Store) Lock(ctx context.Context, key string) (audit.LockInfo, error) {
	now, err := s.serverTime(ctx)
	if err != nil {
		return audit.LockInfo{}, fmt.Errorf("mongo: lock %q: %w", key, err)
	}
	last, err := s.lastLeaseEvent(ctx, key, -1)
	if err != nil {
		return audit.LockInfo{}, fmt.Errorf("mongo: lock %q: %w", key, err)
	}
	return tip{now: now, last: last}.info(key), nil
}
