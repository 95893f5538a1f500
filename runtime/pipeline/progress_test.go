package pipeline_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqlscript"
)

// split is the error of statement 4 of 6 of 0012_split.sql, at line 20,
// wrapped as a change may wrap it.
func split() error {
	return fmt.Errorf("apply: %w", &sqlscript.StatementError{File: "0012_split.sql", Line: 20, Col: 1, Index: 4, Count: 6, Err: errBoom})
}

const splitProgress = `{"progress":{"done":3,"total":6,"at":"0012_split.sql:20"}}`

// latest returns the latest entry of c in state st.
func (e *env) latestIn(stage, id string, st audit.State) audit.Entry {
	e.t.Helper()
	h := e.history(stage, id)
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].State == st {
			return h[i]
		}
	}
	e.t.Fatalf("no %s entry of %s/%s in %v", st, stage, id, states(h))
	return audit.Entry{}
}

func TestAChangeWithoutATransactionThatFailsRecordsItsProgress(t *testing.T) {
	e := newEnv(t)
	c := spec{id: "0012_split", strategy: nonTx, recovery: manual, fail: split()}
	_, err := e.runner([]pipeline.Stage{e.stage("s1", c)}).Run(t.Context())
	var ce *pipeline.ChangeError
	if !errors.As(err, &ce) || ce.State != audit.StateFailed {
		t.Fatalf("Run = %v, want a *ChangeError in state FAILED", err)
	}
	const words = "statements 1–3 applied, 4 failed at 0012_split.sql:20"
	if !strings.Contains(ce.Next, words) {
		t.Errorf("ChangeError.Next = %q, want it to say %q", ce.Next, words)
	}
	failed := e.latestIn("s1", "0012_split", audit.StateFailed)
	if string(failed.Metadata) != splitProgress {
		t.Errorf("FAILED metadata = %s, want %s", failed.Metadata, splitProgress)
	}
	if err := failed.Validate(); err != nil {
		t.Errorf("the FAILED entry is not valid: %v", err)
	}
	if started := e.latestIn("s1", "0012_split", audit.StateStarted); len(started.Metadata) != 0 {
		t.Errorf("STARTED metadata = %s, want none", started.Metadata)
	}

	// The next run reports the issue in the same words.
	c.fail = nil
	_, err = e.runner([]pipeline.Stage{e.stage("s1", c)}).Run(t.Context())
	var ie *pipeline.IssuesError
	if !errors.As(err, &ie) || len(ie.Issues) != 1 {
		t.Fatalf("next Run = %v, want one issue", err)
	}
	want := "it failed without a transaction, so it partly took effect: " + words
	if ie.Issues[0].Problem != want {
		t.Errorf("Issue.Problem = %q, want %q", ie.Issues[0].Problem, want)
	}
	if !strings.Contains(err.Error(), words) {
		t.Errorf("IssuesError = %q, want it to say %q", err, words)
	}
}

func TestAFirstStatementFailingSaysNothingApplied(t *testing.T) {
	e := newEnv(t)
	c := spec{id: "c1", strategy: nonTx, recovery: manual,
		fail: &sqlscript.StatementError{File: "0001_x.sql", Line: 2, Col: 1, Index: 1, Count: 3, Err: errBoom}}
	_, err := e.runner([]pipeline.Stage{e.stage("s1", c)}).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no statement applied, 1 failed at 0001_x.sql:2") {
		t.Fatalf("Run = %v, want it to say no statement applied", err)
	}
	a := audit.Assess(e.latestIn("s1", "c1", audit.StateFailed))
	if want := "it failed without a transaction: no statement applied, 1 failed at 0001_x.sql:2"; a.Problem != want {
		t.Errorf("Assess.Problem = %q, want %q", a.Problem, want)
	}
}

// Inside a transaction nothing of statements 1–3 stays: the progress is
// recorded, and said as rolled back.
func TestAChangeInATransactionThatFailsRecordsItsProgressAsRolledBack(t *testing.T) {
	for _, s := range []audit.Strategy{shared, separate} {
		t.Run(string(s), func(t *testing.T) {
			e := newEnv(t)
			c := spec{id: "c1", strategy: s, recovery: manual, fail: split()}
			_, err := e.runner([]pipeline.Stage{e.stage("s1", c)}).Run(t.Context())
			if err == nil {
				t.Fatal("Run succeeded")
			}
			failed := e.latestIn("s1", "c1", audit.StateFailed)
			if string(failed.Metadata) != splitProgress {
				t.Errorf("FAILED metadata = %s, want %s", failed.Metadata, splitProgress)
			}
			a := audit.Assess(failed)
			const words = "statement 4 failed at 0012_split.sql:20 and its transaction rolled back statements 1–3"
			if a.Verdict != audit.VerdictPending || !strings.Contains(a.Reason, words) {
				t.Errorf("Assess = %s: %q, want pending and %q", a.Verdict, a.Reason, words)
			}
			if strings.Contains(a.Reason, "applied,") {
				t.Errorf("Assess.Reason = %q says statements applied", a.Reason)
			}
		})
	}
}

func TestAnUndoWithoutATransactionThatFailsRecordsItsProgress(t *testing.T) {
	e := newEnv(t)
	c := spec{id: "c1", strategy: nonTx, recovery: manual, rollback: true, rollbackErr: split()}
	r := e.runner([]pipeline.Stage{e.stage("s1", c)})
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := r.RollbackTo(t.Context(), "c1", pipeline.Inclusive())
	var re *pipeline.RollbackError
	if !errors.As(err, &re) || re.State != audit.StateRollbackFailed {
		t.Fatalf("RollbackTo = %v, want a *RollbackError in state ROLLBACK_FAILED", err)
	}
	if !strings.Contains(re.Next, "statements 1–3 of its rollback applied, 4 failed at 0012_split.sql:20") {
		t.Errorf("RollbackError.Next = %q, want the rollback's progress", re.Next)
	}
	rf := e.latestIn("s1", "c1", audit.StateRollbackFailed)
	if string(rf.Metadata) != splitProgress {
		t.Errorf("ROLLBACK_FAILED metadata = %s, want %s", rf.Metadata, splitProgress)
	}
	a := audit.Assess(rf)
	if want := "its rollback failed without a transaction, so the change may be partly undone: statements 1–3 of its rollback applied, 4 failed at 0012_split.sql:20"; a.Problem != want {
		t.Errorf("Assess.Problem = %q, want %q", a.Problem, want)
	}
}

// An error without progress records no metadata, as before.
func TestAFailureWithoutProgressRecordsNoMetadata(t *testing.T) {
	e := newEnv(t)
	c := spec{id: "c1", strategy: nonTx, recovery: manual, fail: errBoom}
	if _, err := e.runner([]pipeline.Stage{e.stage("s1", c)}).Run(t.Context()); err == nil {
		t.Fatal("Run succeeded")
	}
	if m := e.latestIn("s1", "c1", audit.StateFailed).Metadata; len(m) != 0 {
		t.Errorf("FAILED metadata = %s, want none", m)
	}
}
