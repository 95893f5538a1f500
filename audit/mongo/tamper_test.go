package mongo_test

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
)

// tamperer is the conformance suite's Tamperer: it edits the trail
// collection as the admin client, with raw updates and deletes.
type tamperer struct {
	coll *mongodriver.Collection
}

func newTamperer(srv *server, database, prefix string) tamperer {
	return tamperer{coll: srv.admin.Database(database).Collection(prefix + "_audit")}
}

// mongoFields maps audit.Entry fields to the fields of the trail's
// documents.
var mongoFields = map[string]string{
	"ExecutionID": "execution_id", "Stage": "stage", "ChangeID": "change_id", "Order": "order",
	"Author": "author", "State": "state", "Time": "time", "Duration": "duration_ns", "Host": "host",
	"RunnerID": "runner_id", "TargetID": "target_id", "Strategy": "strategy", "Recovery": "recovery",
	"Checksum": "checksum", "ErrorMessage": "error_message", "ErrorKind": "error_kind",
	"Operator": "operator", "Reason": "reason", "Metadata": "metadata",
}

func (tp tamperer) DeleteEntry(ctx context.Context, seq int64) error {
	res, err := tp.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: seq}})
	if err == nil && res.DeletedCount != 1 {
		err = fmt.Errorf("delete _id %d: %d documents deleted, want 1", seq, res.DeletedCount)
	}
	return err
}

func (tp tamperer) EditEntry(ctx context.Context, seq int64, field string, value any) error {
	name, ok := mongoFields[field]
	if !ok {
		return fmt.Errorf("no document field for field %s", field)
	}
	res, err := tp.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: seq}},
		bson.D{{Key: "$set", Value: bson.D{{Key: name, Value: value}}}})
	if err == nil && res.MatchedCount != 1 {
		err = fmt.Errorf("update _id %d: %d documents matched, want 1", seq, res.MatchedCount)
	}
	return err
}
