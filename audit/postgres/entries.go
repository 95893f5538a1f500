package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Snapshot returns the latest entry of every change, in Seq order, in one
// statement.
func (s *Store) Snapshot(ctx context.Context) ([]audit.Entry, error) {
	var entries []audit.Entry
	err := s.read(ctx, func() (err error) {
		entries, err = s.queryEntries(ctx, s.sql.snapshot)
		return err
	}, func(err error) error { return s.explainRead("read the latest states from", err) })
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// History returns the entries matching f, in Seq order.
func (s *Store) History(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString(s.sql.history)
	where := func(cond string, arg any) {
		args = append(args, arg)
		b.WriteString(" AND " + cond + " $" + strconv.Itoa(len(args)))
	}
	if f.Stage != "" {
		where("stage =", f.Stage)
	}
	if f.ChangeID != "" {
		where("change_id =", f.ChangeID)
	}
	if !f.Since.IsZero() {
		where("occurred_at >=", f.Since)
	}
	b.WriteString(" ORDER BY seq")
	var entries []audit.Entry
	err := s.read(ctx, func() (err error) {
		entries, err = s.queryEntries(ctx, b.String(), args...)
		return err
	}, func(err error) error { return s.explainRead("read the history from", err) })
	if err != nil {
		return nil, err
	}
	return entries, nil
}

func (s *Store) explainRead(what string, err error) error {
	var corrupt *audit.CorruptError
	if errors.As(err, &corrupt) {
		return err
	}
	return s.explain(what+" "+s.audit.quoted, needReadTrail, err)
}

// queryEntries runs a query selecting entryColumns. One undecodable row fails
// the whole call: a trail with a hole in it cannot be trusted.
func (s *Store) queryEntries(ctx context.Context, sql string, args ...any) ([]audit.Entry, error) {
	rows, err := s.pool.Query(ctx, sql, execArgs(args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var entries []audit.Entry
	for rows.Next() {
		e, err := s.scanEntry(rows)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, rows.Err()
}

// scanEntry reads a row of entryColumns, preceded by the columns lead
// points at, if any.
func (s *Store) scanEntry(row pgx.Row, lead ...any) (audit.Entry, error) {
	var (
		e        audit.Entry
		version  int64
		state    string
		strategy string
		recovery string
		duration int64
		metadata []byte
		order    rawOrder
	)
	err := row.Scan(append(lead, &e.Seq, &version, &e.ExecutionID, &e.Stage, &e.ChangeID, &order, &e.Author, &state,
		&e.Time, &duration, &e.Host, &e.RunnerID, &e.TargetID, &strategy, &recovery, &e.Checksum,
		&e.ErrorMessage, &e.ErrorKind, &e.Operator, &e.Reason, &metadata)...)
	if err != nil {
		return audit.Entry{}, err
	}
	corrupt := func(err error) error {
		return &audit.CorruptError{Where: fmt.Sprintf("entry seq %d in %s", e.Seq, s.audit.quoted), Err: err}
	}
	switch {
	case version > schemaVersion:
		return audit.Entry{}, corrupt(fmt.Errorf("written with row layout %d by a newer flamingock-go; "+
			"this one reads up to %d: upgrade it", version, schemaVersion))
	case version < 1:
		return audit.Entry{}, corrupt(fmt.Errorf("invalid row layout %d", version))
	}
	e.State, e.Strategy, e.Recovery = audit.State(state), audit.Strategy(strategy), audit.Recovery(recovery)
	e.Time = e.Time.UTC()
	e.Duration = time.Duration(duration)
	if len(metadata) > 0 {
		e.Metadata = metadata
	}
	if err := cmp.Or(e.Order.Scan(order.src), e.Validate()); err != nil {
		return audit.Entry{}, corrupt(err)
	}
	return e, nil
}

// rawOrder keeps what change_order holds, decoded by scanEntry, so that a
// value that is no order is a corrupt entry rather than a failed read.
type rawOrder struct{ src any }

func (o *rawOrder) Scan(src any) error {
	o.src = src
	return nil
}

// Append stores e if lease still holds the lock, in one statement. See
// AppendTx.
func (s *Store) Append(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	return s.appendEntry(ctx, s.pool, lease, e)
}

// AppendTx is Append inside the caller's transaction tx, which must be on the
// store's database (see Pool): the entry commits or rolls back with it. The
// fence check share-locks the lease row until tx ends, so call AppendTx
// just before Commit, or use CommitTx, which appends and commits in one
// round trip. On an error, including ErrFenced, roll tx back: a refused
// append has aborted it.
func (s *Store) AppendTx(ctx context.Context, tx pgx.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	if tx == nil {
		return audit.Entry{}, errors.New("postgres: AppendTx: nil transaction")
	}
	return s.appendEntry(ctx, tx, lease, e)
}

func (s *Store) appendEntry(ctx context.Context, q querier, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	a, err := s.newAppend(ctx, lease, e)
	if err != nil {
		return audit.Entry{}, err
	}
	if err := a.scan(q.QueryRow(ctx, s.sql.append, a.args...)); err != nil {
		return audit.Entry{}, s.appendError(ctx, a, err)
	}
	return a.e, nil
}

// appending is one append of e under lease: the statement's arguments, and
// the entry that scan completes with what the statement returns.
type appending struct {
	lease audit.Lease
	e     audit.Entry
	args  []any
}

// newAppend checks e and the store's tables and builds the append of e.
// Its arguments carry no exec mode: appends run in the connection's
// default one, under pgx's default a statement prepared once per
// connection, which spares the server parsing and planning the statement
// for every entry (see the package documentation).
func (s *Store) newAppend(ctx context.Context, lease audit.Lease, e audit.Entry) (*appending, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: append %s/%s: invalid entry: %w", e.Stage, e.ChangeID, err)
	}
	// Not checked when decoding: a trail written before the bounds stays
	// readable.
	if err := e.CheckBounds(); err != nil {
		return nil, fmt.Errorf("postgres: append %s/%s: invalid entry: %w", e.Stage, e.ChangeID, err)
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	// PostgreSQL keeps microseconds; the entry returned is the one stored.
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	var metadata *string
	if len(e.Metadata) > 0 {
		m := string(e.Metadata)
		metadata = &m
	}
	return &appending{lease: lease, e: e, args: []any{
		schemaVersion, e.ExecutionID, e.Stage, e.ChangeID, e.Order, e.Author, string(e.State),
		e.Time, int64(e.Duration), e.Host, e.RunnerID, e.TargetID, string(e.Strategy), string(e.Recovery),
		e.Checksum, e.ErrorMessage, e.ErrorKind, e.Operator, e.Reason, metadata,
		lease.Key, lease.Owner, lease.Epoch,
	}}, nil
}

// scan completes the entry with the row the append returned.
func (a *appending) scan(row pgx.Row) error {
	var stored []byte
	if err := row.Scan(&a.e.Seq, &a.e.Time, &stored); err != nil {
		return err
	}
	a.e.Time = a.e.Time.UTC()
	a.e.Metadata = nil
	if len(stored) > 0 {
		a.e.Metadata = stored
	}
	return nil
}

// fencedCode is the SQLSTATE the append statement raises when the lease
// does not hold the lock: division_by_zero, from its fence check (see
// statements.go).
const fencedCode = "22012"

// appendError explains err, the failure of a: a refusal of its lease
// becomes an error matching audit.ErrFenced that says why.
func (s *Store) appendError(ctx context.Context, a *appending, err error) error {
	// *pgconn.PgError is what pgx returns, directly or through database/sql
	// (AppendSQLTx) or a batch (CommitTx).
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == fencedCode {
		return s.fenced(ctx, "append "+string(a.e.State)+" of "+a.e.Stage+"/"+a.e.ChangeID, a.lease)
	}
	return s.explain("append to "+s.audit.quoted, needAppend, err)
}
