package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// maxOrderDigits is the most digits change_order (DECIMAL(65,0), MySQL's
// widest) holds.
const maxOrderDigits = 65

// timeLayout is how the store sends times: UTC text, so that the handle's
// loc does not matter.
const timeLayout = "2006-01-02 15:04:05.000000"

func sqlTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// Append validates e and stores it, in one statement that inserts it only
// if lease holds the lock at the server's now; see audit.Store. The entry
// is returned as stored: Seq assigned, Time in UTC truncated to the
// microsecond.
func (s *Store) Append(ctx context.Context, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	return s.append(ctx, s.db, lease, e, false)
}

// AppendSQLTx is Append inside tx, a transaction of DB: the entry is
// stored if and only if tx commits, by its Commit or by the implicit
// commit of a DDL statement run in it after the append. The statement
// share-locks the lease row until tx ends: append just before committing
// (runtime/sqltarget does, for the done state of a change).
func (s *Store) AppendSQLTx(ctx context.Context, tx *sql.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	if tx == nil {
		return audit.Entry{}, errors.New("mysql: AppendSQLTx: nil transaction")
	}
	return s.append(ctx, tx, lease, e, false)
}

// AppendStartedSQLTx appends e, a STARTED entry, inside tx, a transaction
// of DB, first in a change's transaction that a DDL statement may commit
// implicitly (see pipeline.SharedTxImplicit and runtime/sqltarget): e is
// durable exactly when something of the change is. Unlike AppendSQLTx it
// checks the lease with a consistent read, which locks nothing, and then
// inserts: a share lock on the lease row would be held for as long as the
// change runs, and the runner's heartbeat, which updates that row, would
// wait for it. The lease is still checked when tx commits, by the
// AppendSQLTx of the change's done state; e is durable without it only
// when the database committed tx by itself, and then what the change did
// is done, whoever holds the lock by then.
func (s *Store) AppendStartedSQLTx(ctx context.Context, tx *sql.Tx, lease audit.Lease, e audit.Entry) (audit.Entry, error) {
	if tx == nil {
		return audit.Entry{}, errors.New("mysql: AppendStartedSQLTx: nil transaction")
	}
	if e.State != audit.StateStarted {
		return audit.Entry{}, fmt.Errorf("mysql: AppendStartedSQLTx: entry of state %s, want %s", e.State, audit.StateStarted)
	}
	return s.append(ctx, tx, lease, e, true)
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// append stores e through q (the store's DB or a transaction of it) under
// lease: checked in the insert itself, or, when unlocked, by a consistent
// read just before it.
func (s *Store) append(ctx context.Context, q execer, lease audit.Lease, e audit.Entry, unlocked bool) (audit.Entry, error) {
	if err := s.writable(fmt.Sprintf("append %s of %s/%s", e.State, e.Stage, e.ChangeID)); err != nil {
		return audit.Entry{}, err
	}
	if err := e.Validate(); err != nil {
		return audit.Entry{}, fmt.Errorf("mysql: append: invalid entry: %w", err)
	}
	if err := e.CheckBounds(); err != nil {
		return audit.Entry{}, fmt.Errorf("mysql: append %s/%s: %w", e.Stage, e.ChangeID, err)
	}
	if n := len(e.Order.String()); n > maxOrderDigits {
		return audit.Entry{}, fmt.Errorf("mysql: append %s/%s: order of %d digits is longer than the %d a MySQL store keeps (DECIMAL(65,0)); nothing was stored",
			e.Stage, e.ChangeID, n, maxOrderDigits)
	}
	if err := s.ready(ctx); err != nil {
		return audit.Entry{}, err
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	var metadata any
	if len(e.Metadata) > 0 {
		metadata = string(e.Metadata)
	}
	what := fmt.Sprintf("append %s of %s/%s to %s", e.State, e.Stage, e.ChangeID, s.audit.quoted)
	args := []any{rowLayout, e.ExecutionID, e.Stage, e.ChangeID, e.Order.String(), e.Author, string(e.State),
		sqlTime(e.Time), int64(e.Duration), e.Host, e.RunnerID, e.TargetID, string(e.Strategy), string(e.Recovery),
		e.Checksum, e.ErrorMessage, e.ErrorKind, e.Operator, e.Reason, metadata}
	stmt := s.sql.append
	if unlocked {
		var one int
		err := q.QueryRowContext(ctx, s.sql.leaseHolds, lease.Key, lease.Owner, lease.Epoch).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return audit.Entry{}, fenced("append "+string(e.State)+" of "+e.Stage+"/"+e.ChangeID+" under", lease)
		}
		if err != nil {
			return audit.Entry{}, s.explain(what, needAppend, err)
		}
		stmt = s.sql.insert
	} else {
		args = append(args, lease.Key, lease.Owner, lease.Epoch)
	}
	res, err := q.ExecContext(ctx, stmt, args...)
	if err != nil {
		return audit.Entry{}, s.explain(what, needAppend, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return audit.Entry{}, s.explain(what, needAppend, err)
	}
	if n == 0 {
		return audit.Entry{}, fenced("append "+string(e.State)+" of "+e.Stage+"/"+e.ChangeID+" under", lease)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return audit.Entry{}, s.explain(what, needAppend, err)
	}
	e.Seq = seq
	return e, nil
}

// Snapshot returns the latest entry of every change, in seq order, in one
// statement.
func (s *Store) Snapshot(ctx context.Context) ([]audit.Entry, error) {
	var out []audit.Entry
	err := s.read(ctx, "read the trail in "+s.audit.quoted, func() (err error) {
		out, err = s.query(ctx, s.sql.snapshot)
		return err
	})
	return out, err
}

// History returns the entries matching f, in seq order.
func (s *Store) History(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString(s.sql.history)
	if f.Stage != "" {
		b.WriteString(" AND stage = ?")
		args = append(args, f.Stage)
	}
	if f.ChangeID != "" {
		b.WriteString(" AND change_id = ?")
		args = append(args, f.ChangeID)
	}
	if !f.Since.IsZero() {
		b.WriteString(" AND occurred_at >= ?")
		args = append(args, sqlTime(f.Since))
	}
	b.WriteString(" ORDER BY seq")
	var out []audit.Entry
	err := s.read(ctx, "read the history in "+s.audit.quoted, func() (err error) {
		out, err = s.query(ctx, b.String(), args...)
		return err
	})
	return out, err
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]audit.Entry, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		e, err := s.scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanEntry reads one row of entryColumns; a row that does not decode or
// validate (edited by hand) is an *audit.CorruptError naming its seq.
func (s *Store) scanEntry(rows *sql.Rows) (audit.Entry, error) {
	var (
		e                                audit.Entry
		layout                           int64
		state, strategy, recovery        string
		occurred                         utcTime
		duration                         int64
		metadata                         sql.NullString
		rawOrder                         sql.RawBytes
		seq                              sql.NullInt64
		execID, stage, changeID, author  string
		host, runner, target, checksum   string
		errMsg, errKind, operator, reasn string
	)
	if err := rows.Scan(&seq, &layout, &execID, &stage, &changeID, &rawOrder, &author, &state,
		&occurred, &duration, &host, &runner, &target, &strategy, &recovery, &checksum,
		&errMsg, &errKind, &operator, &reasn, &metadata); err != nil {
		return audit.Entry{}, &audit.CorruptError{Where: fmt.Sprintf("entry seq %d in %s", seq.Int64, s.audit.quoted), Err: err}
	}
	where := fmt.Sprintf("entry seq %d in %s", seq.Int64, s.audit.quoted)
	if layout > rowLayout {
		return audit.Entry{}, &audit.CorruptError{Where: where, Err: fmt.Errorf(
			"written by a newer flamingock-go (row layout %d, this release knows %d): upgrade flamingock-go", layout, rowLayout)}
	}
	if err := e.Order.Scan([]byte(rawOrder)); err != nil {
		return audit.Entry{}, &audit.CorruptError{Where: where, Err: err}
	}
	e.Seq, e.ExecutionID, e.Stage, e.ChangeID, e.Author = seq.Int64, execID, stage, changeID, author
	e.State, e.Strategy, e.Recovery = audit.State(state), audit.Strategy(strategy), audit.Recovery(recovery)
	e.Time, e.Duration = occurred.t, time.Duration(duration)
	e.Host, e.RunnerID, e.TargetID, e.Checksum = host, runner, target, checksum
	e.ErrorMessage, e.ErrorKind, e.Operator, e.Reason = errMsg, errKind, operator, reasn
	if metadata.Valid {
		e.Metadata = json.RawMessage(metadata.String)
	}
	if err := e.Validate(); err != nil {
		return audit.Entry{}, &audit.CorruptError{Where: where, Err: err}
	}
	return e, nil
}

// utcTime reads a DATETIME as UTC whether the handle parses times
// (parseTime=true, in any loc: the wall clock is what is stored) or not.
type utcTime struct {
	t     time.Time
	valid bool
}

func (u *utcTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*u = utcTime{}
		return nil
	case time.Time:
		y, mo, d := v.Date()
		h, mi, sec := v.Clock()
		u.t, u.valid = time.Date(y, mo, d, h, mi, sec, v.Nanosecond(), time.UTC), true
		return nil
	case []byte:
		return u.parse(string(v))
	case string:
		return u.parse(v)
	}
	return fmt.Errorf("cannot read a time from %T", src)
}

func (u *utcTime) parse(s string) error {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil {
		return fmt.Errorf("invalid time %q: %w", s, err)
	}
	u.t, u.valid = t, true
	return nil
}

func fenced(op string, l audit.Lease) error {
	return fmt.Errorf("mysql: %s lock %q (owner %q, epoch %d): %w", op, l.Key, l.Owner, l.Epoch, audit.ErrFenced)
}
