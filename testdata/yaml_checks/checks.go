// Package yaml_checks has YAML changes that the generator refuses for
// what only the files show: a Go change with another handle on their
// target, and the directive also in a test file.
package yaml_checks

//flamingock:yaml target=appdb

import (
	"context"
	"database/sql"
)

//flamingock:change id=create order=1 target=appdb
func Create(ctx context.Context, tx *sql.Tx) error { return nil }
