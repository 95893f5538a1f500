// Package name_clashes declares, at package level, the names the generated
// code would otherwise use for its imports and locals; it is generated with
// the stage name "custom-stage".
package name_clashes

import (
	stdcontext "context"
	"database/sql"
)

// Package-level names that a generated import or local variable would
// shadow or clash with.
var (
	context  = 1
	audit    = 2
	pipeline = 3
	t, d     = 4, 5
	h        = 6
	seed     = 7
	ctx      = 8
	// stageChanges is the name of the function that builds the changes.
	stageChanges = 9
)

//flamingock:change id=create-users order=1 target=appdb
func CreateUsers(c stdcontext.Context, tx *sql.Tx, cfg Config) error { return nil }

// Config is a dependency.
type Config struct{}

//flamingock:change id=seed order=2 target=appdb
type Seed struct{}

func (Seed) Apply(c stdcontext.Context, tx *sql.Tx, cfg Config) error { return nil }

func (Seed) Rollback(c stdcontext.Context, tx *sql.Tx) error { return nil }

// Import and New would make locals named import (a keyword) and new (which
// the generated code calls).
//
//flamingock:change id=import order=3 target=appdb
type Import struct{}

func (*Import) Apply(c stdcontext.Context, tx *sql.Tx) error { return nil }

//flamingock:change id=new order=4 target=appdb
type New struct{}

func (New) Apply(c stdcontext.Context, tx *sql.Tx) error { return nil }
