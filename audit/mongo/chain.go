package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// A document's schema_version is the oldest that can hold it, so that the
// releases before read every document they can: 1, the only version before
// layout 2, for lock events and for entries whose order fits int64; 2 for
// an entry whose order does not (see orderFields), which those releases
// refuse as written by a newer flamingock-go rather than misread. A
// document of a version above schemaVersion was written by a newer
// flamingock-go and is not decoded.
const (
	schemaVersion1 = 1
	schemaVersion  = 2
)

// The kinds of document in the chain.
const (
	kindEntry = "entry"
	kindLease = "lease"
)

// tip is what a writer reads before extending the chain: the server's
// clock, the highest seq, and the latest lease event of one lock key at or
// below that seq. Documents are never updated or deleted, so everything at
// or below seq is settled: a writer that inserts at seq+1 has seen, in tip,
// every document before its own.
type tip struct {
	now  time.Time
	seq  int64       // 0 when the chain is empty
	last *leaseEvent // nil when the key has no event at or below seq
}

// readTip reads the tip for key. The order matters: the clock first (so
// an expiry judged against it is judged no later than the chain is read),
// then the highest seq, then the key's latest event bounded by that seq, so
// that an event inserted meanwhile above it cannot be mistaken for part of
// the tip.
func (s *Store) readTip(ctx context.Context, key string) (tip, error) {
	now, err := s.serverTime(ctx)
	if err != nil {
		return tip{}, err
	}
	seq, err := s.topSeq(ctx)
	if err != nil {
		return tip{}, err
	}
	last, err := s.lastLeaseEvent(ctx, key, seq)
	if err != nil {
		return tip{}, err
	}
	return tip{now: now, seq: seq, last: last}, nil
}

// serverTime is the server's clock, from the localTime of hello. (Neither
// $$NOW nor $currentDate can be used: FerretDB implements no $$NOW, and
// $currentDate would need an update of a shared document.)
func (s *Store) serverTime(ctx context.Context) (time.Time, error) {
	var reply struct {
		LocalTime *time.Time `bson:"localTime"`
	}
	err := s.db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}},
		options.RunCmd().SetReadPreference(readpref.Primary())).Decode(&reply)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the server's clock: %w", s.explain(err))
	}
	if reply.LocalTime == nil {
		return time.Time{}, errors.New("read the server's clock: hello reported no localTime")
	}
	return reply.LocalTime.UTC(), nil
}

// topSeq returns the highest seq in the chain, 0 when it is empty. The
// highest _id by BSON order is a seq only if every document is the
// store's; anything else there (a string, an ObjectId) is reported.
func (s *Store) topSeq(ctx context.Context) (int64, error) {
	doc, err := s.last(ctx, bson.D{})
	if doc == nil || err != nil {
		return 0, err
	}
	id := doc.Lookup("_id")
	seq, ok := id.Int64OK()
	if !ok || seq < 1 {
		return 0, s.corrupt(describeID(doc), fmt.Errorf("%w: its _id %s is not a seq, so no seq can follow it", errNotStore, id))
	}
	return seq, nil
}

// last returns the _id of the trail's document of highest seq among those
// filter selects, nil when there is none.
func (s *Store) last(ctx context.Context, filter bson.D) (bson.Raw, error) {
	var doc bson.Raw
	err := s.coll.FindOne(ctx, filter, options.FindOne().
		SetSort(bson.D{{Key: "_id", Value: -1}}).
		SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongodriver.ErrNoDocuments):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the highest seq: %w", s.explain(err))
	}
	return doc, nil
}

// extend inserts, at the seq after the tip, the document that build makes
// from the tip, and retries with a fresh tip when another writer took that
// seq first. build stops the attempt by returning an error, or by
// returning no fields, which writes nothing; the fields start with the
// document's schema_version. extend returns the tip the
// document was built on: the document's seq is tip.seq+1.
//
// This is the store's only write. Its correctness needs nothing but the
// unique index on _id: of all writers that read the same tip, exactly one
// inserts tip.seq+1, and the others read the new tip and decide again.
func (s *Store) extend(ctx context.Context, key string, build func(t tip) (bson.D, error)) (tip, error) {
	taken := int64(-1)
	for {
		t, err := s.readTip(ctx, key)
		if err != nil {
			return tip{}, err
		}
		if t.seq <= taken {
			// The seq collided yet the chain shows nothing there: another
			// unique index refused the document, or reads do not see the
			// writes (a secondary). Retrying would spin.
			return tip{}, fmt.Errorf("insert at seq %d: duplicate key, but the highest seq the server shows is %d: "+
				"check the collection's indexes and that reads go to the primary", taken+1, t.seq)
		}
		fields, err := build(t)
		if err != nil || fields == nil {
			return t, err
		}
		doc := append(bson.D{{Key: "_id", Value: t.seq + 1}}, fields...)
		_, err = s.coll.InsertOne(ctx, doc)
		if err == nil {
			return t, nil
		}
		if !mongodriver.IsDuplicateKeyError(err) {
			return tip{}, fmt.Errorf("insert at seq %d: %w", t.seq+1, s.explain(err))
		}
		taken = t.seq
	}
}
