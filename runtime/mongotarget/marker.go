package mongotarget

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/mongoname"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// DefaultMarkerCollection is the marker collection's name unless
// WithMarkerCollection names another.
const DefaultMarkerCollection = "flamingock_marker"

// codeNamespaceExists is the server's error code for creating a collection
// that exists.
const codeNamespaceExists = 48

// markers is the marker collection: one document per change being applied
// in a transaction, {_id: {stage, change_id}, execution_id}.
type markers struct {
	name string
	coll *mongo.Collection

	mu      sync.Mutex
	created bool // the collection exists
}

// bind opens the collection in db. Writes outside a transaction (clearing
// a marker) are acknowledged by a majority; inside one, the transaction's
// write concern applies. Reads are linearizable, from the primary: a marker
// read after a crash or a failed commit then reflects every commit
// acknowledged before the read, waiting if one is still replicating, and
// never one a failover is about to roll back.
func (m *markers) bind(db *mongo.Database) {
	m.coll = db.Collection(m.name, options.Collection().
		SetWriteConcern(writeconcern.Majority()).
		SetReadConcern(readconcern.Linearizable()).
		SetReadPreference(readpref.Primary()))
}

// markerID is a marker's _id. It is always built field by field in this
// order, since MongoDB compares embedded documents field order and all.
func markerID(k audit.Key) bson.D {
	return bson.D{{Key: "stage", Value: k.Stage}, {Key: "change_id", Value: k.ChangeID}}
}

// write records mk, replacing the marker an earlier execution of the same
// change left. ctx carries the session of the change's transaction.
func (m *markers) write(ctx context.Context, mk pipeline.Marker) error {
	id := markerID(mk.Key)
	_, err := m.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "_id", Value: id}, {Key: "execution_id", Value: mk.ExecutionID}},
		options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongotarget: write marker in %s: %w", m.where(), err)
	}
	return nil
}

// has reports whether the marker of mk.Key was written by mk.ExecutionID.
// The filter names one document by its _id, as linearizable reads require.
func (m *markers) has(ctx context.Context, mk pipeline.Marker) (bool, error) {
	err := m.coll.FindOne(ctx, bson.D{{Key: "_id", Value: markerID(mk.Key)}, {Key: "execution_id", Value: mk.ExecutionID}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("mongotarget: read marker in %s: %w", m.where(), err)
	}
	return true, nil
}

// clear deletes the marker of key, if any.
func (m *markers) clear(ctx context.Context, key audit.Key) error {
	if _, err := m.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: markerID(key)}}); err != nil {
		return fmt.Errorf("mongotarget: clear marker in %s: %w", m.where(), err)
	}
	return nil
}

// ensure makes sure, once per target, that the collection exists, creating
// it when missing. It looks first, since creating a collection that exists
// still needs the createCollection privilege, which a user given only an
// existing collection lacks. Another process creating it at the same time
// is fine: the loser is told it exists.
func (m *markers) ensure(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.created {
		return nil
	}
	db := m.coll.Database()
	names, err := db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: m.name}})
	if err != nil {
		return fmt.Errorf("mongotarget: look up marker collection %s: %w", m.where(), err)
	}
	if len(names) == 0 {
		err := db.CreateCollection(ctx, m.name)
		var ce mongo.CommandError
		if err != nil && !(errors.As(err, &ce) && ce.Code == codeNamespaceExists) {
			return fmt.Errorf("mongotarget: create marker collection %s: %w", m.where(), err)
		}
	}
	m.created = true
	return nil
}

// where names the collection in messages.
func (m *markers) where() string { return m.coll.Database().Name() + "." + m.name }

// validateNamespace checks the length of the marker collection's full name.
func validateNamespace(database, collection string) error {
	if err := mongoname.Namespace(database, collection); err != nil {
		return fmt.Errorf("the marker collection's %w: use a shorter name (WithMarkerCollection)", err)
	}
	return nil
}
