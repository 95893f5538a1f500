package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
)

var _ audit.Checkpointer = (*Store)(nil)

// SnapshotUnlessCurrent implements audit.Checkpointer. When the checkpoint
// is current it costs two small reads: the checkpoint, then the trail's
// highest entry seq. Without a checkpoint the second is skipped; when the
// checkpoint is not current, a third read is Snapshot's.
//
// The two reads are sequential, not concurrent: an application's start is
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

// checkpointCurrent reports whether the checkpoint of digest has the
// trail's highest entry seq.
//
// The two reads need not see one state: documents are inserted in seq
// order and never removed, so a checkpoint equal to the highest entry seq
// the second read finds was current when that read was made, whenever the
// checkpoint was saved.
func (s *Store) checkpointCurrent(ctx context.Context, digest string) (bool, error) {
	var doc bson.Raw
	err := s.checkpoints.FindOne(ctx, bson.D{{Key: "_id", Value: digest}},
		options.FindOne().SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&doc)
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
	top, err := s.topEntrySeq(ctx)
	if err != nil {
		return false, err
	}
	return seq == top, nil
}

// topEntrySeq returns the highest seq of an entry in the trail, 0 when
// there is none. Lock events do not count: a release right after a
// checkpoint was saved must not make it stale.
//
// On MongoDB the query is covered by the index entry_by_seq, whose keys
// both bound kind and give the order: one key is read. It is not hinted: a
// hint would turn a dropped index into failed starts rather than slower
// ones (and FerretDB ignores hints).
func (s *Store) topEntrySeq(ctx context.Context) (int64, error) {
	doc, err := s.last(ctx, bson.D{{Key: "kind", Value: kindEntry}})
	if doc == nil || err != nil {
		return 0, err
	}
	// An _id that is not a seq matches no checkpoint: the caller reads the
	// snapshot, which reports the document.
	seq, _ := doc.Lookup("_id").Int64OK()
	return seq, nil
}

// SaveCheckpoint implements audit.Checkpointer with an upsert that only
// ever raises the checkpoint's seq, so that a replica that read the trail
// earlier cannot set a newer checkpoint back. saved_at is the server's
// time of the save that set seq.
//
// The upsert selects the checkpoint only when its seq is lower; when the
// digest has one it does not select, inserting a new one fails on _id.
// That checkpoint is at or above cp.Seq, unless another replica inserted it
// since the upsert looked: so the update is made again, without the
// insert, and raises it if it is lower. One round trip, two when the
// digest's checkpoint is not below cp.Seq.
func (s *Store) SaveCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("mongo: save checkpoint: %w", err)
	}
	filter := bson.D{{Key: "_id", Value: cp.Digest}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: cp.Seq}}}}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "seq", Value: cp.Seq}}},
		{Key: "$currentDate", Value: bson.D{{Key: "saved_at", Value: true}}},
	}
	_, err := s.checkpoints.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if mongodriver.IsDuplicateKeyError(err) {
		_, err = s.checkpoints.UpdateOne(ctx, filter, update)
	}
	if err != nil {
		return fmt.Errorf("mongo: save checkpoint %q at seq %d in %s: %w", cp.Digest, cp.Seq, s.checkpoints.Name(), s.explain(err))
	}
	return nil
}
