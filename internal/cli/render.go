package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/operate"
)

// The JSON shapes below are documented in the package documentation and
// are stable: fields may be added, never renamed or removed.

type entryJSON struct {
	Seq          int64           `json:"seq"`
	ExecutionID  string          `json:"execution_id"`
	Stage        string          `json:"stage"`
	ChangeID     string          `json:"change_id"`
	Order        audit.Order     `json:"order"`
	Author       string          `json:"author"`
	State        audit.State     `json:"state"`
	Time         time.Time       `json:"time"`
	DurationMS   int64           `json:"duration_ms"`
	Host         string          `json:"host"`
	RunnerID     string          `json:"runner_id"`
	TargetID     string          `json:"target_id"`
	Strategy     audit.Strategy  `json:"strategy"`
	Recovery     audit.Recovery  `json:"recovery"`
	Checksum     string          `json:"checksum"`
	ErrorMessage string          `json:"error_message"`
	ErrorKind    string          `json:"error_kind"`
	Operator     string          `json:"operator"`
	Reason       string          `json:"reason"`
	Metadata     json.RawMessage `json:"metadata"`
}

func toEntryJSON(e audit.Entry) entryJSON {
	return entryJSON{
		Seq: e.Seq, ExecutionID: e.ExecutionID, Stage: e.Stage, ChangeID: e.ChangeID, Order: e.Order,
		Author: e.Author, State: e.State, Time: e.Time.UTC(), DurationMS: e.Duration.Milliseconds(),
		Host: e.Host, RunnerID: e.RunnerID, TargetID: e.TargetID, Strategy: e.Strategy, Recovery: e.Recovery,
		Checksum: e.Checksum, ErrorMessage: e.ErrorMessage, ErrorKind: e.ErrorKind, Operator: e.Operator,
		Reason: e.Reason, Metadata: e.Metadata,
	}
}

func toEntriesJSON(entries []audit.Entry) []entryJSON {
	out := make([]entryJSON, len(entries))
	for i, e := range entries {
		out[i] = toEntryJSON(e)
	}
	return out
}

type resolutionJSON struct {
	Name    string      `json:"name"`
	State   audit.State `json:"state"`
	Command string      `json:"command"`
	Effect  string      `json:"effect"`
}

type changeJSON struct {
	Stage       string           `json:"stage"`
	ChangeID    string           `json:"change_id"`
	Verdict     audit.Verdict    `json:"verdict"`
	Explanation string           `json:"explanation"`
	Problem     string           `json:"problem"`
	Latest      entryJSON        `json:"latest"`
	Resolutions []resolutionJSON `json:"resolutions"`
	// Running is set when the verdict is running: who applies the change
	// and until when its lease runs.
	Running *runningJSON `json:"running"`
}

type runningJSON struct {
	Runner     string    `json:"runner"`
	LeaseUntil time.Time `json:"lease_until"`
}

// toChangeJSON renders a, assessed under lock.
func toChangeJSON(a audit.Assessment, s *operate.Session, lock audit.LockInfo) changeJSON {
	c := changeJSON{
		Stage: a.Latest.Stage, ChangeID: a.Latest.ChangeID, Verdict: a.Verdict, Explanation: a.Reason,
		Problem: a.Problem, Latest: toEntryJSON(a.Latest), Resolutions: []resolutionJSON{},
	}
	for _, r := range s.Resolutions(a) {
		c.Resolutions = append(c.Resolutions, resolutionJSON{Name: r.Name, State: r.State, Command: r.Command, Effect: r.Effect})
	}
	if a.Verdict == audit.VerdictRunning {
		c.Running = &runningJSON{Runner: lock.Owner, LeaseUntil: lock.ExpiresAt.UTC()}
	}
	return c
}

func toChangesJSON(all []audit.Assessment, s *operate.Session, lock audit.LockInfo) []changeJSON {
	out := make([]changeJSON, len(all))
	for i, a := range all {
		out[i] = toChangeJSON(a, s, lock)
	}
	return out
}

type lockJSON struct {
	Key        string     `json:"key"`
	Held       bool       `json:"held"`
	Owner      string     `json:"owner"`
	Epoch      int64      `json:"epoch"`
	ExpiresAt  *time.Time `json:"expires_at"`
	StoreTime  time.Time  `json:"store_time"`
	ReleasedBy string     `json:"released_by"`
	ReleasedAt *time.Time `json:"released_at"`
}

func toLockJSON(l audit.LockInfo) lockJSON {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	return lockJSON{
		Key: l.Key, Held: l.Held(), Owner: l.Owner, Epoch: l.Epoch, ExpiresAt: opt(l.ExpiresAt),
		StoreTime: l.Now.UTC(), ReleasedBy: l.ReleasedBy, ReleasedAt: opt(l.ReleasedAt),
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // URLs keep their & readable
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

// row writes one row; empty cells print as "-", and tabs and line breaks
// inside a cell as spaces, so every row stays one line.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

// when formats a time for tables: UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// duration formats a duration for tables, to the millisecond; "" for none.
func duration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.Round(time.Millisecond).String()
}

// detail is what an entry says beyond its state: its error, or who marked
// it and why.
func detail(e audit.Entry) string {
	switch {
	case e.Operator != "":
		return e.Operator + ": " + e.Reason
	case e.ErrorMessage != "":
		return e.ErrorMessage
	}
	return e.Reason
}

// lockState describes a lock for people.
func lockState(l audit.LockInfo) string {
	switch {
	case l.Epoch == 0 && l.Owner == "":
		return "never acquired"
	case l.Held():
		return fmt.Sprintf("held by runner %s until %s", l.Owner, when(l.ExpiresAt))
	case l.Owner != "":
		return fmt.Sprintf("free: the lease of runner %s expired at %s", l.Owner, when(l.ExpiresAt))
	}
	return "free (released)"
}

// inFlight describes a running change, assessed under l.
func inFlight(a audit.Assessment, l audit.LockInfo) string {
	e := a.Latest
	return fmt.Sprintf("change %q (stage %q), STARTED at %s by runner %s on host %s; its lease on lock %q runs until %s",
		e.ChangeID, e.Stage, when(e.Time), e.RunnerID, cell(e.Host), l.Key, when(l.ExpiresAt))
}

// stillRunning notes that a run is in progress while the change of a
// STARTED issue waits: another runner than the one that started it holds
// the lock, so the issue cannot be resolved yet; "" otherwise.
func stillRunning(a audit.Assessment, l audit.LockInfo) string {
	if a.Verdict != audit.VerdictIssue || a.Latest.State != audit.StateStarted || !l.Held() {
		return ""
	}
	return fmt.Sprintf("runner %s holds lock %q until %s, so a run is in progress (change %q was started by runner %s, whose lease is gone): wait for the lock to be released before resolving it",
		l.Owner, l.Key, when(l.ExpiresAt), a.Latest.ChangeID, cell(a.Latest.RunnerID))
}
