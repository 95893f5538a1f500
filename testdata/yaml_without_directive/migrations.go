// Package yaml_without_directive has YAML files but no //flamingock:yaml.
package yaml_without_directive

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

//flamingock:change id=a order=1 target=appdb
func A(ctx context.Context, db *mongo.Database) error { return nil }
