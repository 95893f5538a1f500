// Package yaml_mixed has Go and YAML changes on one MongoDB target.
package yaml_mixed

//go:generate go tool flamingock-gen

//flamingock:yaml target=appdb

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

//flamingock:change id=backfill order=2 target=appdb
func Backfill(ctx context.Context, db *mongo.Database) error {
	_, err := db.Collection("users").UpdateMany(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: 2}}}})
	return err
}

// mongosteps and yaml0001Users are names the generated code must not
// take.
var mongosteps, yaml0001Users = 1, 2
