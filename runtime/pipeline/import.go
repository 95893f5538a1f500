package pipeline

import (
	"context"
	"encoding/json"
	"errors"
)

// An Importer brings into the trail the history another migration tool
// kept of the database (goose's goose_db_version, golang-migrate's
// schema_migrations), so that a database that tool migrated is adopted
// rather than migrated again. Package runtime/adopt has the importers of
// goose and golang-migrate.
//
// Run calls Import under the runner's lock, after deciding again under it
// and before executing anything, whenever a change of the pipeline has no
// entry in the trail; a start whose checkpoint is current, or whose every
// change has an entry, does not call it. Import reads the old history,
// checks it against req.Changes (every version must be a change of the
// pipeline, and no change may lie between imported versions without the
// old tool having applied it), and records what the old tool applied with
// req.Record, once; it returns an error, having recorded nothing, when the
// history and the pipeline disagree. An importer that holds the old tool's
// lock holds it until Import returns, so that an old release still rolling
// out cannot migrate meanwhile.
type Importer interface {
	Import(ctx context.Context, req ImportRequest) error
}

// ImportRequest is what an Importer sees of the pipeline, and how it
// records what it found.
type ImportRequest struct {
	// Changes are every change of the pipeline in order, as decided under
	// the lock: Latest is nil for a change that has no entry.
	Changes []PlannedChange
	// Record appends one entry per mark under the runner's lease. It checks
	// every mark first and writes none when one names a change that is not
	// in Changes, or that already has an entry, or is named twice, or
	// lacks an operator or a reason, or carries metadata that is not a JSON
	// object.
	//
	// It appends the entries one at a time, in pipeline order (no store
	// appends several in one transaction). When the process dies between
	// two, the changes not recorded yet still have no entry, so the next
	// start calls Import again, with Latest set for those recorded: an
	// importer marks only the changes whose Latest is nil, and the import
	// completes. Record fails once Import has returned.
	Record func(ctx context.Context, marks []Mark) error
}

// A Mark records a change that flamingock-go did not run: as applied
// (MANUAL_MARKED_AS_APPLIED), or, when Uncertain, as FAILED with recovery
// MANUAL, an issue that an operator resolves with `flamingock audit fix`.
// Importers and Runner.Baseline write them.
type Mark struct {
	Stage, ChangeID string
	// Uncertain is set when the change's outcome is unknown, such as the
	// version golang-migrate left dirty.
	Uncertain bool
	// Operator and Reason say who marked it and why (for an importer, the
	// tool and its table).
	Operator, Reason string
	// Metadata is the entry's user metadata, a JSON object saying where the
	// mark came from, such as {"imported":{"tool":"goose",
	// "table":"goose_db_version","version":"20240101120000",
	// "applied_at":"2024-01-01T12:00:00Z"}}.
	Metadata json.RawMessage
}

// WithImport makes Run import the history of another migration tool with
// imp before it executes anything (see Importer).
func WithImport(imp Importer) Option {
	return optionFunc(func(c *config) error {
		if imp == nil {
			return errors.New("WithImport: nil importer")
		}
		c.importer = imp
		return nil
	})
}
