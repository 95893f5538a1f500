package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/flamingock/flamingock-go/audit"
)

// layoutVersion is the layout of the store's collections this release
// makes, reads and writes (see the package documentation). Layout 1, the
// store before orders of any length, has no version record.
const layoutVersion = 2

// layoutID is the _id of the version record in PREFIX_version.
const layoutID = "layout"

// upgrades[v-1] takes the store from layout v to v+1. No lock serializes
// openers (MongoDB has no transactional DDL, and FerretDB no transactions):
// every opener that finds the store below layoutVersion runs the steps, so
// each must be idempotent and safe to run concurrently with itself and
// with writers of the layout before. The version record is inserted after
// the last step, so a record means every step is done.
var upgrades = [...]func(context.Context, *Store) error{
	// 1 → 2, orders of any length: an order beyond int64 is stored in a
	// document of schema version 2 (see orderFields); every document of
	// layout 1 is already in the stored form of its order, and stays as it
	// is.
	func(context.Context, *Store) error { return nil },
}

// One step per layout after the first: the build breaks when layoutVersion
// changes without its step.
var _ = [1]struct{}{}[len(upgrades)-(layoutVersion-1)]

// ensureLayout brings the store to layoutVersion. An up-to-date store
// costs one read, of its version record; the indexes were created before
// the record was. Otherwise (layout 1, or no store yet) it creates the
// indexes that are missing, runs the upgrade steps, and records the layout.
func (s *Store) ensureLayout(ctx context.Context) error {
	v, err := s.readLayout(ctx)
	if err != nil || v == layoutVersion {
		return err
	}
	if err := s.ensureIndexes(ctx); err != nil {
		return err
	}
	for i, step := range upgrades[v-1:] {
		if err := step(ctx, s); err != nil {
			return fmt.Errorf("upgrade the store from layout %d to %d: %w", int(v)+i, int(v)+i+1, err)
		}
	}
	return s.recordLayout(ctx)
}

// readLayout returns the store's layout: its version record's, or 1 when
// it has none. A record of a newer layout is refused before anything else
// is read of it, since a newer release may have changed its other fields.
func (s *Store) readLayout(ctx context.Context) (int64, error) {
	var doc bson.Raw
	err := s.versions.FindOne(ctx, bson.D{{Key: "_id", Value: layoutID}}).Decode(&doc)
	switch {
	case errors.Is(err, mongodriver.ErrNoDocuments):
		return 1, nil
	case err != nil:
		return 0, fmt.Errorf("read the version record in %s: %w", s.versions.Name(), s.explain(err))
	}
	if v, err := doc.LookupErr("version"); err == nil {
		if n, ok := v.AsInt64OK(); ok && n > layoutVersion {
			return 0, fmt.Errorf("database %q: %s says layout %d: the store was written by a newer flamingock-go (this one knows layouts up to %d): upgrade flamingock-go",
				s.db.Name(), s.versions.Name(), n, layoutVersion)
		}
	}
	f := newFields(doc)
	f.string("_id")
	v := f.int64("version")
	f.time("upgraded_at")
	err = f.err()
	if err == nil && v != layoutVersion {
		err = fmt.Errorf("unknown layout %d (the first recorded is 2)", v)
	}
	if err != nil {
		return 0, &audit.CorruptError{
			Where: fmt.Sprintf("version record in %s.%s", s.db.Name(), s.versions.Name()),
			Err:   fmt.Errorf("%w; delete it, and the next Open records the layout again", err),
		}
	}
	return v, nil
}

// recordLayout inserts the version record, at the server's time. A
// concurrent opener may have inserted it first; the record is then read
// back, since that opener may be of a newer release.
func (s *Store) recordLayout(ctx context.Context) error {
	now, err := s.serverTime(ctx)
	if err != nil {
		return err
	}
	_, err = s.versions.InsertOne(ctx, bson.D{
		{Key: "_id", Value: layoutID},
		{Key: "version", Value: int64(layoutVersion)},
		{Key: "upgraded_at", Value: bson.NewDateTimeFromTime(now)},
	})
	if mongodriver.IsDuplicateKeyError(err) {
		_, err = s.readLayout(ctx)
		return err
	}
	if err != nil {
		return fmt.Errorf("record layout %d in %s: %w", layoutVersion, s.versions.Name(), s.explain(err))
	}
	return nil
}
