package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// Append validates e and stores it, in its own transaction, if lease holds
// the lock; see audit.Store.
func (s *Store) Append(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("sqlite: append: %w", explain(err))
	}
	defer tx.Rollback()
	stored, err := s.appendTx(ctx, tx, lease, e, false)
	if err != nil {
		return audit.Entry{}, err
	}
	if err := tx.Commit(); err != nil {
		return audit.Entry{}, fmt.Errorf("sqlite: append: commit: %w", explain(err))
	}
	return stored, nil
}

// AppendTx is Append inside tx, a transaction on DB: the fence check and the
// insert happen in tx, so the entry commits or rolls back with whatever else
// tx holds (the change it records, in the shared-transaction strategy).
// When the lease does not hold the lock it returns an error matching
// audit.ErrFenced; tx is then still open and the caller rolls it back.
//
// Unlike Append, AppendTx renews the lease in tx when the lock still names
// lease's owner and epoch, even if the lease ran out by the clock meanwhile.
// That is sound because tx holds SQLite's single write lock from its first
// write to its commit: once the lock row is found unchanged under it, no
// other runner has taken the lock over, and none can before tx commits. It
// is needed because a change in tx also keeps the runner's own lease
// refresh waiting for that write lock: without the renewal, a change that
// outlasts the lease could never be recorded, however often it ran.
//
// The returned entry is the entry as stored: its Seq assigned and its Time
// in UTC, truncated to the millisecond.
func (s *Store) AppendTx(ctx context.Context, tx *sql.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	return s.appendTx(ctx, tx, lease, e, true)
}

// appendTx checks the fence and inserts e in tx, first renewing the lease
// under tx's write lock when renew is set (see AppendTx).
func (s *Store) appendTx(ctx context.Context, tx *sql.Tx, lease audit.Lease, e audit.Entry, renew bool) (audit.Entry, error) {
	if err := e.Validate(); err != nil {
		return audit.Entry{}, fmt.Errorf("sqlite: append %s/%s: invalid entry: %w", e.Stage, e.ChangeID, err)
	}
	// Not checked when decoding: a trail written before the bounds stays
	// readable.
	if err := e.CheckBounds(); err != nil {
		return audit.Entry{}, fmt.Errorf("sqlite: append %s/%s: invalid entry: %w", e.Stage, e.ChangeID, err)
	}
	e.Time = time.UnixMilli(e.Time.UnixMilli()).UTC()
	if renew && lease.TTL >= time.Millisecond {
		// Renewed rows make the insert's fence check below pass; a lock that
		// moved on is left alone and the insert refuses the entry.
		if _, err := tx.ExecContext(ctx, s.q.renew, lease.TTL.Milliseconds(), lease.Key, lease.Owner, lease.Epoch); err != nil {
			return audit.Entry{}, fmt.Errorf("sqlite: append %s/%s %s: renew lease: %w", e.Stage, e.ChangeID, e.State, explain(err))
		}
	}
	args := append(entryArgs(e), lease.Key, lease.Owner, lease.Epoch)
	err := tx.QueryRowContext(ctx, s.q.insert, args...).Scan(&e.Seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return audit.Entry{}, fmt.Errorf("sqlite: append %s/%s %s: lock %q (owner %q, epoch %d): %w",
			e.Stage, e.ChangeID, e.State, lease.Key, lease.Owner, lease.Epoch, audit.ErrFenced)
	case err != nil:
		return audit.Entry{}, fmt.Errorf("sqlite: append %s/%s %s: %w", e.Stage, e.ChangeID, e.State, explain(err))
	}
	return e, nil
}

// Dialect implements sqltarget.SharedStore: DB is a SQLite database.
func (s *Store) Dialect() string { return "sqlite" }

// AppendSQLTx is AppendTx. It implements sqltarget.SharedStore, whose
// method names the database/sql transaction it takes (audit/postgres has
// an AppendTx for pgx): sqltarget.Shared(store) runs changes in
// transactions shared with their APPLIED entries.
func (s *Store) AppendSQLTx(ctx context.Context, tx *sql.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	return s.AppendTx(ctx, tx, lease, e)
}

// entryArgs returns e's values in the order of auditTable's columns after
// seq and schema_version.
func entryArgs(e audit.Entry) []any {
	var metadata any // NULL when empty; text, not a blob, in the STRICT column
	if len(e.Metadata) > 0 {
		metadata = string(e.Metadata)
	}
	return []any{
		e.ExecutionID, e.Stage, e.ChangeID, e.Order, e.Author, string(e.State),
		e.Time.UnixMilli(), int64(e.Duration), e.Host, e.RunnerID, e.TargetID,
		string(e.Strategy), string(e.Recovery), e.Checksum, e.ErrorMessage, e.ErrorKind,
		e.Operator, e.Reason, metadata,
	}
}

// Snapshot returns the latest entry of every change, in seq order, in one
// query. A row that cannot be trusted fails the whole call with an
// *audit.CorruptError.
func (s *Store) Snapshot(ctx context.Context) ([]audit.Entry, error) {
	entries, err := s.entries(ctx, s.q.snapshot)
	if err != nil {
		return nil, fmt.Errorf("sqlite: snapshot: %w", err)
	}
	return entries, nil
}

// History returns the entries matching f in seq order. A row that cannot be
// trusted fails the whole call with an *audit.CorruptError.
func (s *Store) History(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var stage, change, since any // NULL selects everything
	if f.Stage != "" {
		stage = f.Stage
	}
	if f.ChangeID != "" {
		change = f.ChangeID
	}
	if !f.Since.IsZero() {
		// Times are stored truncated to the millisecond; an entry is at or
		// after Since when its stored time is at or after Since rounded up.
		ms := f.Since.UnixMilli()
		if time.UnixMilli(ms).Before(f.Since) {
			ms++
		}
		since = ms
	}
	entries, err := s.entries(ctx, s.q.history, stage, change, since)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history: %w", err)
	}
	return entries, nil
}

func (s *Store) entries(ctx context.Context, query string, args ...any) ([]audit.Entry, error) {
	return readEntries(ctx, s.db, query, args...)
}

// readEntries runs query on q and decodes the entries it selects.
func readEntries(ctx context.Context, q querier, query string, args ...any) ([]audit.Entry, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, explain(err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, explain(err)
	}
	return out, nil
}

// scanEntry decodes a row of auditTable's columns, in their order, and
// refuses one this version cannot trust.
func scanEntry(rows *sql.Rows) (audit.Entry, error) {
	var (
		e                     audit.Entry
		version, ms, duration int64
		state, strategy, rec  string
		metadata              sql.NullString
		order                 any // decoded below, so that an invalid one is a corrupt entry
	)
	err := rows.Scan(&e.Seq, &version, &e.ExecutionID, &e.Stage, &e.ChangeID, &order, &e.Author, &state,
		&ms, &duration, &e.Host, &e.RunnerID, &e.TargetID, &strategy, &rec, &e.Checksum,
		&e.ErrorMessage, &e.ErrorKind, &e.Operator, &e.Reason, &metadata)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("read entry: %w", err)
	}
	e.State, e.Strategy, e.Recovery = audit.State(state), audit.Strategy(strategy), audit.Recovery(rec)
	e.Time, e.Duration = time.UnixMilli(ms).UTC(), time.Duration(duration)
	if metadata.Valid && metadata.String != "" {
		e.Metadata = json.RawMessage(metadata.String)
	}
	switch {
	case version > schemaVersion:
		err = fmt.Errorf("written with schema version %d by a newer flamingock-go (this one reads version %d): upgrade flamingock-go", version, schemaVersion)
	case version < 1:
		err = fmt.Errorf("unknown schema version %d", version)
	default:
		err = cmp.Or(e.Order.Scan(order), e.Validate())
	}
	if err != nil {
		return audit.Entry{}, &audit.CorruptError{Where: fmt.Sprintf("entry seq %d", e.Seq), Err: err}
	}
	return e, nil
}
