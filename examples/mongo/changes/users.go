// Package changes is the MongoDB example's stage: a users collection with a
// unique index on email, its first users, and a transformation that writes
// every email in lower case.
//
// Creating a collection or an index is DDL, which MongoDB refuses inside a
// transaction (before 4.4 both, and since then an index on a collection
// that exists): that change is declared transactional=false, and written so that running it
// again after an interruption finishes the job (recovery=retry). On a
// replica set the other changes run in a transaction each; on a standalone
// server every change runs without one, between a STARTED and an APPLIED
// entry of the audit trail.
//
// Every change runs its operations with the ctx it receives: in a
// transaction, that ctx carries the session that puts them in it.
package changes

//go:generate go tool flamingock-gen

import (
	"context"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Users is the name of the collection the changes create and fill.
const Users = "users"

//flamingock:change id=create-users order=1 target=appdb author=example transactional=false recovery=retry
func CreateUsers(ctx context.Context, db *mongo.Database) error {
	names, err := db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: Users}})
	if err != nil {
		return err
	}
	if len(names) == 0 {
		if err := db.CreateCollection(ctx, Users); err != nil {
			return fmt.Errorf("create collection %s: %w", Users, err)
		}
	}
	// Creating an index that exists with the same definition does nothing.
	_, err = db.Collection(Users).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetName("email_unique").SetUnique(true),
	})
	if err != nil {
		return fmt.Errorf("create index email_unique: %w", err)
	}
	return nil
}

//flamingock:change id=import-users order=2 target=appdb author=example
func ImportUsers(ctx context.Context, db *mongo.Database) error {
	_, err := db.Collection(Users).InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: "ada"}, {Key: "email", Value: "Ada.Lovelace@Example.COM"}},
		bson.D{{Key: "_id", Value: "grace"}, {Key: "email", Value: "grace.hopper@example.com"}},
		bson.D{{Key: "_id", Value: "alan"}, {Key: "email", Value: "ALAN.TURING@EXAMPLE.COM"}},
	})
	return err
}

// NormaliseEmails writes every email in lower case. Two emails that differ
// only in case would collide on the unique index: the change then fails,
// naming the duplicate, rather than merge two users.
//
// It updates document by document: FerretDB, which the example's test runs
// against, has no update with an aggregation pipeline ({$set: {email:
// {$toLower: "$email"}}}).
//
//flamingock:change id=normalise-emails order=3 target=appdb author=example recovery=retry
func NormaliseEmails(ctx context.Context, db *mongo.Database) error {
	users := db.Collection(Users)
	cur, err := users.Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	var docs []struct {
		ID    any    `bson:"_id"`
		Email string `bson:"email"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return err
	}
	for _, d := range docs {
		lower := strings.ToLower(d.Email)
		if lower == d.Email {
			continue
		}
		if _, err := users.UpdateByID(ctx, d.ID, bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: lower}}}}); err != nil {
			return fmt.Errorf("user %v: %w", d.ID, err)
		}
	}
	return nil
}
