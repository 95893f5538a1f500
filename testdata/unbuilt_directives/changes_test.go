package unbuilt_directives

import (
	"context"
	"database/sql"
	"testing"
)

//flamingock:change id=seed-test-users order=2 target=appdb
func SeedTestUsers(ctx context.Context, tx *sql.Tx) error { return nil }

func TestNothing(t *testing.T) {}
