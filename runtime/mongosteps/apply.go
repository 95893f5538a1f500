package mongosteps

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Apply runs the file's steps in order on db with ctx, stopping at the
// first that fails; its error is a *StepError. ctx must be the one the
// change received: in a transaction it carries the session, and every
// operation runs with it.
func (f *File) Apply(ctx context.Context, db *mongo.Database) error {
	return f.run(ctx, db, f.steps, false)
}

// Undo runs the file's undo list in order, as Apply does its steps. A file
// without one (HasUndo false) does nothing.
func (f *File) Undo(ctx context.Context, db *mongo.Database) error {
	return f.run(ctx, db, f.undo, true)
}

func (f *File) run(ctx context.Context, db *mongo.Database, steps []Step, undo bool) error {
	for i := range steps {
		s := &steps[i]
		if err := ctx.Err(); err != nil {
			return &StepError{File: f.name, Undo: undo, Index: i + 1, Op: s.Op, Line: s.Line, Col: s.Col, Err: err}
		}
		if err := s.run(ctx, db); err != nil {
			return &StepError{File: f.name, Undo: undo, Index: i + 1, Op: s.Op, Line: s.Line, Col: s.Col, Err: err}
		}
	}
	return nil
}

func (s *Step) run(ctx context.Context, db *mongo.Database) error {
	switch s.Op {
	case CreateCollection:
		o := options.CreateCollection()
		if s.validator != nil {
			o.SetValidator(s.validator)
		}
		if s.validationLevel != "" {
			o.SetValidationLevel(s.validationLevel)
		}
		if s.validationAction != "" {
			o.SetValidationAction(s.validationAction)
		}
		return db.CreateCollection(ctx, s.collection, o)
	case DropCollection:
		return db.Collection(s.collection).Drop(ctx) // a missing collection is no error
	case CreateIndex:
		o := options.Index()
		if s.indexName != "" {
			o.SetName(s.indexName)
		}
		if s.unique {
			o.SetUnique(true)
		}
		if s.sparse {
			o.SetSparse(true)
		}
		if s.partial != nil {
			o.SetPartialFilterExpression(s.partial)
		}
		if s.ttl != nil {
			o.SetExpireAfterSeconds(*s.ttl)
		}
		_, err := db.Collection(s.collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: s.keys, Options: o})
		return err
	case DropIndex:
		return db.Collection(s.collection).Indexes().DropOne(ctx, s.indexName)
	case Insert:
		_, err := db.Collection(s.collection).InsertMany(ctx, s.documents)
		return err
	case Update:
		o := options.UpdateMany().SetUpsert(s.upsert)
		c := db.Collection(s.collection)
		if s.multi {
			_, err := c.UpdateMany(ctx, s.filter, s.update, o)
			return err
		}
		_, err := c.UpdateOne(ctx, s.filter, s.update, options.UpdateOne().SetUpsert(s.upsert))
		return err
	case Delete:
		c := db.Collection(s.collection)
		if s.multi {
			_, err := c.DeleteMany(ctx, s.filter)
			return err
		}
		_, err := c.DeleteOne(ctx, s.filter)
		return err
	case RenameCollection:
		cmd := bson.D{
			{Key: "renameCollection", Value: db.Name() + "." + s.collection},
			{Key: "to", Value: db.Name() + "." + s.to},
			{Key: "dropTarget", Value: s.dropTgt},
		}
		return db.Client().Database("admin").RunCommand(ctx, cmd).Err()
	case CreateView:
		return db.CreateView(ctx, s.view, s.viewOn, s.pipeline)
	case DropView:
		specs, err := db.ListCollectionSpecifications(ctx, bson.D{{Key: "name", Value: s.view}})
		if err != nil {
			return err
		}
		for _, spec := range specs {
			if spec.Type != "view" {
				return fmt.Errorf("%s is a %s, not a view: dropView drops only views (use dropCollection)", s.view, spec.Type)
			}
		}
		return db.Collection(s.view).Drop(ctx) // a missing view is no error
	case ModifyCollection:
		cmd := bson.D{{Key: "collMod", Value: s.collection}}
		if s.validator != nil {
			cmd = append(cmd, bson.E{Key: "validator", Value: s.validator})
		}
		if s.validationLevel != "" {
			cmd = append(cmd, bson.E{Key: "validationLevel", Value: s.validationLevel})
		}
		if s.validationAction != "" {
			cmd = append(cmd, bson.E{Key: "validationAction", Value: s.validationAction})
		}
		return db.RunCommand(ctx, cmd).Err()
	}
	return fmt.Errorf("unknown operation %q", s.Op) // Parse builds no such step
}
