package mongo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
)

// Append validates e and stores it at the next seq if lease holds the lock;
// see audit.Store. The returned entry is the entry as stored: its Seq
// assigned and its Time in UTC, truncated to the millisecond.
//
// The fence check and the insert are not one atomic step, and need not be:
// the entry is inserted at the seq after the tip the check was made on, so
// if the lease was taken over meanwhile, the new owner's acquire event
// holds that seq (or one below it) and the insert fails, or is retried on
// the new tip, where the check fails.
func (s *Store) Append(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	if err := e.Validate(); err != nil {
		return audit.Entry{}, fmt.Errorf("mongo: append %s/%s: invalid entry: %w", e.Stage, e.ChangeID, err)
	}
	// Not checked when decoding: a trail written before the bounds stays
	// readable.
	if err := e.CheckBounds(); err != nil {
		return audit.Entry{}, fmt.Errorf("mongo: append %s/%s: invalid entry: %w", e.Stage, e.ChangeID, err)
	}
	e.Time = time.UnixMilli(e.Time.UnixMilli()).UTC()
	t, err := s.extend(ctx, lease.Key, appendStep(lease, e))
	if err != nil {
		return audit.Entry{}, fmt.Errorf("mongo: append %s/%s %s: %w", e.Stage, e.ChangeID, e.State, err)
	}
	e.Seq = t.seq + 1
	return e, nil
}

// appendStep decides an append on a tip: fenced unless lease holds the
// lock, else the entry.
func appendStep(lease audit.Lease, e audit.Entry) func(tip) (bson.D, error) {
	return func(t tip) (bson.D, error) {
		if !t.holds(lease) {
			return nil, fmt.Errorf("lock %q (owner %q, epoch %d): %w", lease.Key, lease.Owner, lease.Epoch, audit.ErrFenced)
		}
		return entryFields(e, lease), nil
	}
}

// entryFields is the stored form of e, after _id. It records the lease it
// was written under, so the trail shows which acquisition every entry
// belongs to.
func entryFields(e audit.Entry, l audit.Lease) bson.D {
	version, order := orderFields(e.Order)
	d := bson.D{
		{Key: "schema_version", Value: version},
		{Key: "kind", Value: kindEntry},
		{Key: "execution_id", Value: e.ExecutionID},
		{Key: "stage", Value: e.Stage},
		{Key: "change_id", Value: e.ChangeID},
	}
	d = append(d, order...)
	d = append(d, bson.D{
		{Key: "author", Value: e.Author},
		{Key: "state", Value: string(e.State)},
		{Key: "time", Value: bson.NewDateTimeFromTime(e.Time)},
		{Key: "duration_ns", Value: int64(e.Duration)},
		{Key: "host", Value: e.Host},
		{Key: "runner_id", Value: e.RunnerID},
		{Key: "target_id", Value: e.TargetID},
		{Key: "strategy", Value: string(e.Strategy)},
		{Key: "recovery", Value: string(e.Recovery)},
		{Key: "checksum", Value: e.Checksum},
		{Key: "error_message", Value: e.ErrorMessage},
		{Key: "error_kind", Value: e.ErrorKind},
		{Key: "operator", Value: e.Operator},
		{Key: "reason", Value: e.Reason},
	}...)
	if len(e.Metadata) > 0 {
		// JSON text, not a subdocument: BSON would not give back the same
		// JSON (numbers change type, and keys such as "$date" are read as
		// extended JSON).
		d = append(d, bson.E{Key: "metadata", Value: string(e.Metadata)})
	}
	return append(d, bson.E{Key: "lease", Value: bson.D{
		{Key: "key", Value: l.Key},
		{Key: "epoch", Value: l.Epoch},
		{Key: "owner", Value: l.Owner},
	}})
}

// decodeEntry reads a document of the trail and refuses one this version
// cannot trust.
func decodeEntry(doc bson.Raw) (audit.Entry, error) {
	f := newFields(doc)
	seq, version, err := docVersion(f)
	if err != nil {
		return audit.Entry{}, err
	}
	if kind := f.string("kind"); f.problem == nil && kind != kindEntry {
		return audit.Entry{}, fmt.Errorf("%w: unknown kind %q", errNotStore, kind)
	}
	e := audit.Entry{
		Seq:          seq,
		ExecutionID:  f.string("execution_id"),
		Stage:        f.string("stage"),
		ChangeID:     f.string("change_id"),
		Order:        f.order(version),
		Author:       f.string("author"),
		State:        audit.State(f.string("state")),
		Time:         f.time("time"),
		Duration:     time.Duration(f.int64("duration_ns")),
		Host:         f.string("host"),
		RunnerID:     f.string("runner_id"),
		TargetID:     f.string("target_id"),
		Strategy:     audit.Strategy(f.string("strategy")),
		Recovery:     audit.Recovery(f.string("recovery")),
		Checksum:     f.string("checksum"),
		ErrorMessage: f.string("error_message"),
		ErrorKind:    f.string("error_kind"),
		Operator:     f.string("operator"),
		Reason:       f.string("reason"),
	}
	if m := f.optionalString("metadata"); m != "" {
		e.Metadata = json.RawMessage(m)
	}
	var lease audit.Lease
	f.sub("lease", func(l *fields) {
		lease.Key, lease.Epoch, lease.Owner = l.string("key"), l.int64("epoch"), l.string("owner")
	})
	if err := f.err(); err != nil {
		return audit.Entry{}, err
	}
	if lease.Key == "" || lease.Epoch < 1 || lease.Owner == "" {
		return audit.Entry{}, fmt.Errorf("written under no lease (key %q, epoch %d, owner %q)", lease.Key, lease.Epoch, lease.Owner)
	}
	if err := e.Validate(); err != nil {
		return audit.Entry{}, err
	}
	return e, nil
}

// trailFilter selects every document but lease events, so that a document
// the store did not write is read, and refused, rather than skipped.
func trailFilter() bson.D {
	return bson.D{{Key: "kind", Value: bson.D{{Key: "$ne", Value: kindLease}}}}
}

// batchSize is the number of documents a query asks for per round trip. Not
// "as many as fit" (math.MaxInt32): FerretDB 1.24 then grows its memory
// without bound after answering.
const batchSize = 10_000

// Snapshot returns the latest entry of every change, in seq order, read by
// one query. A document that cannot be trusted fails the whole call with an
// *audit.CorruptError.
//
// The query reads the whole trail and the latest entries are picked here:
// FerretDB, the server the store is tested against, implements no $group
// accumulator that could pick them on the server ($last, $first, $max).
func (s *Store) Snapshot(ctx context.Context) ([]audit.Entry, error) {
	entries, err := s.entries(ctx, trailFilter())
	if err != nil {
		return nil, fmt.Errorf("mongo: snapshot: %w", err)
	}
	latest := map[audit.Key]audit.Entry{}
	for _, e := range entries {
		latest[e.Key()] = e // entries come in seq order
	}
	out := make([]audit.Entry, 0, len(latest))
	for _, e := range latest {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b audit.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// History returns the entries matching f in seq order. A document that
// cannot be trusted fails the whole call with an *audit.CorruptError.
func (s *Store) History(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	filter := trailFilter()
	if f.Stage != "" {
		filter = append(filter, bson.E{Key: "stage", Value: f.Stage})
	}
	if f.ChangeID != "" {
		filter = append(filter, bson.E{Key: "change_id", Value: f.ChangeID})
	}
	if !f.Since.IsZero() {
		// Times are stored truncated to the millisecond; an entry is at or
		// after Since when its stored time is at or after Since rounded up.
		ms := f.Since.UnixMilli()
		if time.UnixMilli(ms).Before(f.Since) {
			ms++
		}
		filter = append(filter, bson.E{Key: "time", Value: bson.D{{Key: "$gte", Value: bson.DateTime(ms)}}})
	}
	entries, err := s.entries(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("mongo: history: %w", err)
	}
	return entries, nil
}

// entries returns the documents filter selects, decoded, in seq order.
// A batch holds up to batchSize documents (and 16 MiB), so most trails
// come back in one round trip.
func (s *Store) entries(ctx context.Context, filter bson.D) ([]audit.Entry, error) {
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(batchSize))
	if err != nil {
		return nil, s.explain(err)
	}
	defer cur.Close(ctx)
	var out []audit.Entry
	for cur.Next(ctx) {
		e, err := decodeEntry(cur.Current)
		if err != nil {
			return nil, s.corrupt(describeID(cur.Current), err)
		}
		out = append(out, e)
	}
	if err := cur.Err(); err != nil {
		return nil, s.explain(err)
	}
	return out, nil
}
