package mongo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
)

var _ audit.Checkpointer = (*Store)(nil)

// A checkpoint records, beside its seq, what the trail held at or below it
// when it was saved: the number of its documents other than lock events
// (entries) and a SHA-256 digest of them, byte for byte as stored, in seq
// order (entries_digest). It is current only while the trail's highest such
// seq is its seq and both still match, so that deleting a document by hand,
// or editing any field of one, makes it stale. A checkpoint saved by a
// release before this one has neither field: it is never current.
//
// The digest is computed here, over the documents read: FerretDB, the
// server the store is tested against, implements no aggregation operator
// that could hash a document or a string on the server (only $sum and
// $type), and a count alone would miss an edit such as APPLIED made
// STARTED. So a check reads the whole trail, as Snapshot does, without
// decoding it.

// SnapshotUnlessCurrent implements audit.Checkpointer. When a checkpoint
// is saved it costs two reads: the checkpoint, then the trail's documents,
// digested; when the checkpoint is not current, a third read is
// Snapshot's. Without a checkpoint, it costs the checkpoint's read and
// Snapshot's.
//
// The reads are sequential, not concurrent: an application's start is
// usually a new process whose pool holds one connection, and a second one
// would cost a handshake, more than the round trip it saves.
func (s *Store) SnapshotUnlessCurrent(ctx context.Context, digest string) ([]audit.Entry, bool, error) {
	current, err := s.checkpointCurrent(ctx, digest)
	if err != nil {
		return nil, false, fmt.Errorf("mongo: snapshot: %w", err)
	}
	if current {
		return nil, true, nil
	}
	entries, err := s.Snapshot(ctx)
	return entries, false, err
}

// checkpointCurrent reports whether the checkpoint of digest is current.
//
// The two reads need not see one state: the trail's read alone decides,
// since the checkpoint only says what the trail held at its seq when it was
// saved, which stays true.
func (s *Store) checkpointCurrent(ctx context.Context, digest string) (bool, error) {
	var doc bson.Raw
	err := s.checkpoints.FindOne(ctx, bson.D{{Key: "_id", Value: digest}},
		options.FindOne().SetProjection(bson.D{{Key: "seq", Value: 1}, {Key: "entries", Value: 1}, {Key: "entries_digest", Value: 1}})).Decode(&doc)
	switch {
	case errors.Is(err, mongodriver.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the checkpoint: %w", s.explain(err))
	}
	f := newFields(doc)
	seq := f.int64("seq")
	if f.problem == nil && seq < 1 {
		f.problem = fmt.Errorf("seq %d is not positive", seq)
	}
	if f.problem != nil {
		// Not a checkpoint this store saved: trusting it could skip
		// changes, and ignoring it would read the whole trail at every
		// start, since SaveCheckpoint cannot replace a seq of another
		// type ($lt does not compare across types).
		return false, &audit.CorruptError{
			Where: fmt.Sprintf("checkpoint %q in %s.%s", digest, s.db.Name(), s.checkpoints.Name()),
			Err:   fmt.Errorf("%w; delete it: a checkpoint only spares reads", f.problem),
		}
	}
	entries, ok := doc.Lookup("entries").Int64OK()
	sum, ok2 := doc.Lookup("entries_digest").StringValueOK()
	if !ok || !ok2 {
		return false, nil // saved by an earlier release, or not by this store
	}
	t, err := s.digestTrail(ctx, seq)
	if err != nil {
		return false, err
	}
	return t.top == seq && t.entries == entries && t.digest == sum, nil
}

// trailDigest is what digestTrail found.
type trailDigest struct {
	top     int64  // the highest seq of a document other than a lock event; 0 when none
	entries int64  // the number of those documents at or below the seq asked for
	digest  string // hex SHA-256 of those documents as stored, in seq order
}

// digestTrail reads the trail's documents other than lock events, in seq
// order, and digests those at or below seq, each preceded by its length.
// An _id that is not a seq stops the top there: such a trail matches no
// checkpoint, and the snapshot reports the document.
func (s *Store) digestTrail(ctx context.Context, seq int64) (trailDigest, error) {
	cur, err := s.coll.Find(ctx, trailFilter(), options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(batchSize))
	if err != nil {
		return trailDigest{}, fmt.Errorf("read the trail: %w", s.explain(err))
	}
	defer cur.Close(ctx)
	var (
		t   trailDigest
		h   = sha256.New()
		buf []byte
	)
	for cur.Next(ctx) {
		id, ok := cur.Current.Lookup("_id").Int64OK()
		if !ok {
			id = -1
		}
		t.top = id
		if !ok || id > seq {
			continue
		}
		buf = binary.AppendUvarint(buf[:0], uint64(len(cur.Current)))
		h.Write(buf)
		h.Write(cur.Current)
		t.entries++
	}
	if err := cur.Err(); err != nil {
		return trailDigest{}, fmt.Errorf("read the trail: %w", s.explain(err))
	}
	t.digest = hex.EncodeToString(h.Sum(nil))
	return t, nil
}

// SaveCheckpoint implements audit.Checkpointer: it reads the trail to
// digest the documents at or below cp.Seq, then records them with the
// checkpoint in an upsert that never sets the checkpoint's seq back, so
// that a replica that read the trail earlier cannot replace a newer
// checkpoint. A checkpoint at the same seq is replaced, with the documents
// as they now are (a start that found the trail edited, yet every change
// done, makes it current again), and so is one above the trail's highest
// seq, whose documents were deleted. saved_at is the server's time of the
// save.
//
// The upsert selects the checkpoint only when it may be replaced; when the
// digest has one it does not select, inserting a new one fails on _id.
// That checkpoint is then kept, unless another replica inserted it since
// the upsert looked: so the update is made again, without the insert. Two
// round trips (the trail's and the upsert's), three when the digest's
// checkpoint is kept.
func (s *Store) SaveCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("mongo: save checkpoint: %w", err)
	}
	t, err := s.digestTrail(ctx, cp.Seq)
	if err != nil {
		return fmt.Errorf("mongo: save checkpoint %q at seq %d: %w", cp.Digest, cp.Seq, err)
	}
	filter := bson.D{{Key: "_id", Value: cp.Digest}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "seq", Value: bson.D{{Key: "$lte", Value: cp.Seq}}}},
		bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: t.top}}}},
	}}}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "seq", Value: cp.Seq}, {Key: "entries", Value: t.entries}, {Key: "entries_digest", Value: t.digest}}},
		{Key: "$currentDate", Value: bson.D{{Key: "saved_at", Value: true}}},
	}
	_, err = s.checkpoints.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if mongodriver.IsDuplicateKeyError(err) {
		_, err = s.checkpoints.UpdateOne(ctx, filter, update)
	}
	if err != nil {
		return fmt.Errorf("mongo: save checkpoint %q at seq %d in %s: %w", cp.Digest, cp.Seq, s.checkpoints.Name(), s.explain(err))
	}
	return nil
}
