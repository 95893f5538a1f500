// Package type_form declares changes as types with Apply and Rollback
// methods, alone and in a group of types, with dependencies whose type
// names clash.
package type_form

import (
	"context"
	"database/sql"
	"log/slog"
)

// AddIndex builds an index outside of a transaction.
//
//flamingock:change id=add-index order=1 target=appdb transactional=false
type AddIndex struct {
	Concurrently bool
}

// Apply has a value receiver, Rollback a pointer receiver: both are called
// on one instance.
func (a AddIndex) Apply(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `CREATE INDEX users_name ON users (name)`)
	return err
}

func (a *AddIndex) Rollback(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DROP INDEX users_name`)
	return err
}

// Bus is the handle of a target without transactions.
type Bus interface {
	Publish(ctx context.Context, topic string) error
}

// Logger clashes by name with *slog.Logger in Deps.
type Logger interface {
	Log(msg string)
}

type (
	// Publish has dependencies and no rollback.
	//
	//flamingock:change id=publish order=2 target=bus author=bob recovery=retry
	Publish struct{}

	unused struct{}
)

func (Publish) Apply(ctx context.Context, b Bus, log *slog.Logger, l Logger) error {
	log.InfoContext(ctx, "publishing")
	l.Log("publishing")
	return b.Publish(ctx, "users")
}
