package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tableCheck records whether the store has checked its tables (and created
// the missing ones): it does so once, lazily, so that opening a store costs
// no round trip. See the package documentation.
type tableCheck struct {
	mu   sync.Mutex
	done bool
}

// ready checks the tables and creates what is missing, unless that was
// done already. Every write calls it first, so nothing is ever written to a
// table of another shape.
func (s *Store) ready(ctx context.Context) error {
	s.tables.mu.Lock()
	defer s.tables.mu.Unlock()
	if s.tables.done {
		return nil
	}
	if err := s.ensureTables(ctx); err != nil {
		return err
	}
	s.tables.done = true
	return nil
}

// read runs op, a read of the store's tables, and returns its error
// explained by explain. When op failed as a missing table or one of another
// shape would make it fail, the catalog explains it instead; before the
// store's first write, that also creates the missing tables, and op runs
// again.
func (s *Store) read(ctx context.Context, op func() error, explain func(error) error) error {
	err := op()
	if err == nil {
		return nil
	}
	if !shapeSuspect(err) {
		return explain(err)
	}
	retry, derr := s.diagnose(ctx)
	switch {
	case derr != nil:
		return derr
	case retry:
		err = op()
	}
	if err != nil {
		return explain(err)
	}
	return nil
}

// diagnose looks at the tables after a read failed as a missing table or
// one of another shape would make it fail. Before the store has checked its
// tables it does what the first write would do (ready) and reports that
// the read is worth another try. Afterwards it only checks: a table that
// disappeared since is reported, not created again empty, since an empty
// trail would have every change applied again.
func (s *Store) diagnose(ctx context.Context) (retry bool, err error) {
	s.tables.mu.Lock()
	defer s.tables.mu.Unlock()
	if !s.tables.done {
		if err := s.ensureTables(ctx); err != nil {
			return false, err
		}
		s.tables.done = true
		return true, nil
	}
	c, err := s.readCatalog(ctx, s.pool)
	if err != nil {
		return false, s.explain("inspect schema "+pgx.Identifier{s.schema}.Sanitize(), needInspect, err)
	}
	m, err := s.check(c)
	if err != nil || !m.any() {
		return false, err
	}
	if m.missing == (missing{checkpoint: true}) {
		// Checkpoints only spare reads: creating their table again empty
		// loses nothing.
		if err := s.create(ctx, m.missing); err != nil && !isCreationRace(err) {
			return false, s.explain("create table "+s.checkpoint.quoted, needCreateTables, err)
		}
		return true, nil
	}
	var gone []string
	if m.schema {
		gone = append(gone, "schema "+pgx.Identifier{s.schema}.Sanitize())
	}
	for _, t := range []struct {
		missing bool
		table   table
	}{{m.audit, s.audit}, {m.lock, s.lock}} {
		if t.missing && !m.schema {
			gone = append(gone, "table "+t.table.quoted)
		}
	}
	return false, fmt.Errorf("postgres: %s no longer exists, though this store used it before: was it dropped? "+
		"The store does not create it again, since an empty audit trail would have every change applied again; "+
		"restore it, or restart the application to start a new trail", strings.Join(gone, " and "))
}

// shapeSuspect reports whether err, from a read of the store's tables, is
// one that a missing table or one of another shape causes.
func shapeSuspect(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "42P01", // undefined_table
			"3F000", // invalid_schema_name
			"42703": // undefined_column
			return true
		}
		return false
	}
	// A value that does not fit its field: a NULL, or a column of another
	// type.
	var scanErr pgx.ScanArgError
	return errors.As(err, &scanErr)
}
