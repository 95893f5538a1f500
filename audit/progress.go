package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MetadataProgress is the key of Entry.Metadata under which the runtime
// records the Progress of a change that failed (FAILED, ROLLBACK_FAILED):
//
//	{"progress": {"done": 3, "total": 6, "at": "0012_split.sql:20"}}
//
// It is merged with any other key of the metadata.
const MetadataProgress = "progress"

// MaxProgressAtLen bounds Progress.At, in bytes, as recorded: a longer one
// is cut at a character boundary, so that a change cannot make its FAILED
// entry too large to append.
const MaxProgressAtLen = 256

// Progress is how far a change made of numbered parts (the statements of a
// SQL file, the steps of a steps file) got before it failed: parts 1 to
// Done completed, part Done+1 of Total failed, at At ("0012_split.sql:20").
type Progress struct {
	Done  int    `json:"done"`
	Total int    `json:"total"`
	At    string `json:"at,omitempty"`
}

// ProgressError is an error of a change that tells how far the change got.
// The runtime finds it with errors.As in a change's error and records its
// Progress in the failure's entry (see MetadataProgress);
// sqlscript.StatementError is one.
type ProgressError interface {
	error
	Progress() Progress
}

// Valid reports whether p can be recorded: 0 ≤ Done ≤ Total, Total > 0.
func (p Progress) Valid() bool { return p.Total > 0 && p.Done >= 0 && p.Done <= p.Total }

// ProgressOf returns the progress carried by err's chain (errors.As to a
// ProgressError), if it is valid.
func ProgressOf(err error) (Progress, bool) {
	var pe ProgressError
	if err == nil || !errors.As(err, &pe) {
		return Progress{}, false
	}
	p := pe.Progress()
	return p, p.Valid()
}

// WithProgress returns metadata (empty or a JSON object) with p recorded
// under MetadataProgress, its At cut to MaxProgressAtLen. Metadata that is
// not a JSON object is an error: it is returned as it is.
func WithProgress(metadata json.RawMessage, p Progress) (json.RawMessage, error) {
	obj := map[string]json.RawMessage{}
	if len(metadata) > 0 {
		if err := json.Unmarshal(metadata, &obj); err != nil || obj == nil {
			return metadata, fmt.Errorf("metadata is not a JSON object")
		}
	}
	if len(p.At) > MaxProgressAtLen {
		cut := MaxProgressAtLen
		for cut > 0 && !utf8.RuneStart(p.At[cut]) {
			cut--
		}
		p.At = p.At[:cut]
	}
	v, err := json.Marshal(p)
	if err != nil {
		return metadata, err
	}
	obj[MetadataProgress] = v
	out, err := json.Marshal(obj)
	if err != nil {
		return metadata, err
	}
	return out, nil
}

// Progress returns the progress recorded in e's metadata, if any and valid.
func (e Entry) Progress() (Progress, bool) {
	if len(e.Metadata) == 0 {
		return Progress{}, false
	}
	var m struct {
		P *Progress `json:"progress"`
	}
	if err := json.Unmarshal(e.Metadata, &m); err != nil || m.P == nil || !m.P.Valid() {
		return Progress{}, false
	}
	return *m.P, true
}

// Applied describes p for a change that ran without a transaction, whose
// completed parts stayed: "statements 1–3 applied, 4 failed at
// 0012_split.sql:20", "no statement applied, 1 failed at …".
func (p Progress) Applied() string { return p.applied("") }

// RollbackApplied is Applied for the statements of a change's rollback
// that ran without a transaction: "statements 1–3 of its rollback applied,
// 4 failed at 0012_split.sql:40".
func (p Progress) RollbackApplied() string { return p.applied(" of its rollback") }

func (p Progress) applied(of string) string {
	switch {
	case p.Done >= p.Total:
		return fmt.Sprintf("%s%s applied, then it failed%s", p.all(), of, p.at())
	case p.Done == 0:
		return fmt.Sprintf("no statement%s applied, %d failed%s", of, p.Done+1, p.at())
	}
	return fmt.Sprintf("%s%s applied, %d failed%s", p.range1(), of, p.Done+1, p.at())
}

// RolledBack describes p for a change that ran in a transaction the
// database rolled back, so that none of its completed parts stayed:
// "statement 4 failed at 0012_split.sql:20 and its transaction rolled back
// statements 1–3", "statement 1 failed at … and its transaction was rolled
// back".
func (p Progress) RolledBack() string {
	switch {
	case p.Done >= p.Total:
		return fmt.Sprintf("%s ran, then it failed%s and its transaction rolled them back", p.all(), p.at())
	case p.Done == 0:
		return fmt.Sprintf("statement 1 failed%s and its transaction was rolled back", p.at())
	}
	return fmt.Sprintf("statement %d failed%s and its transaction rolled back %s", p.Done+1, p.at(), p.range1())
}

// Describe is Applied for a change that ran without a transaction, and
// RolledBack for one that ran in a transaction (s).
func (p Progress) Describe(s Strategy) string {
	if s == StrategySharedTx || s == StrategySeparateTx {
		return p.RolledBack()
	}
	return p.Applied()
}

// range1 is "statement 1" or "statements 1–Done".
func (p Progress) range1() string {
	if p.Done == 1 {
		return "statement 1"
	}
	return fmt.Sprintf("statements 1–%d", p.Done)
}

func (p Progress) all() string {
	if p.Total == 1 {
		return "its one statement"
	}
	return fmt.Sprintf("all %d statements", p.Total)
}

func (p Progress) at() string {
	if p.At == "" {
		return ""
	}
	return " at " + p.At
}

// ProgressText says the progress recorded in e (see MetadataProgress) in
// words that are true of how e ran, or "" when e records none: Applied for
// a change without a transaction, RollbackApplied for its rollback
// (ROLLBACK_FAILED), RolledBack inside a transaction.
func (e Entry) ProgressText() string {
	p, ok := e.Progress()
	switch {
	case !ok:
		return ""
	case e.Strategy == StrategySharedTx || e.Strategy == StrategySeparateTx:
		return p.RolledBack()
	case e.State == StateRollbackFailed:
		return p.RollbackApplied()
	}
	return p.Applied()
}
