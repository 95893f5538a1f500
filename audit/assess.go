package audit

import (
	"fmt"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/internal/redact"
)

// Verdict is what the next run of a pipeline does with a change, as far as
// the change's latest audit entry alone can tell (DESIGN §6).
type Verdict string

const (
	// VerdictDone: the change is applied (APPLIED or
	// MANUAL_MARKED_AS_APPLIED); the next run skips it.
	VerdictDone Verdict = "done"
	// VerdictPending: the next run applies the change, again if it ran
	// before (it was rolled back, failed inside a transaction the database
	// rolled back, or its outcome is uncertain and its recovery is retry).
	VerdictPending Verdict = "pending"
	// VerdictMarkerDecides: the change was STARTED in a separate
	// transaction. The next run asks the target for the marker that
	// commits with the change: present, it records APPLIED without running
	// the change; absent, it applies the change again.
	VerdictMarkerDecides Verdict = "marker-decides"
	// VerdictIssue: only an operator can tell whether the change took
	// effect. It blocks every run of the pipeline until a manual mark
	// (see Resolutions) resolves it.
	VerdictIssue Verdict = "issue"
	// VerdictRunning: the change's latest entry is STARTED by the runner
	// that holds the pipeline's lock under an unexpired lease, so it is
	// being applied right now: not an issue, and nothing to resolve. Assess
	// never returns it, since only the lock tells (see
	// Assessment.UnderLock); once that lease expires or is released with
	// the change still STARTED, the change is what Assess says (an issue,
	// when only an operator can tell its outcome).
	VerdictRunning Verdict = "running"
)

// Assessment is the verdict on one change from its latest audit entry,
// with the explanation people read. The runtime and the operator CLI both
// decide with Assess, so they cannot disagree.
type Assessment struct {
	Verdict Verdict
	// Latest is the entry assessed.
	Latest Entry
	// What is the latest transition, for people: its state, time, runner
	// and error, as in "FAILED at 2025-03-01T10:00:00Z by runner r1
	// (error: connection reset)".
	What string
	// Problem says what is uncertain about the change's outcome; empty
	// unless the outcome is uncertain (VerdictIssue, and VerdictPending
	// under recovery retry).
	Problem string
	// Reason explains the verdict, for people.
	Reason string
}

// Assess decides, from the latest audit entry of a change, what the next
// run does with it. The strategy and recovery recorded in the entry decide,
// not the ones the change declares now: they describe how it actually ran.
// A change without entries is not assessed: the next run applies it.
func Assess(latest Entry) Assessment {
	e := latest
	at := e.Time.UTC().Format(time.RFC3339)
	by := "runner " + orUnknown(e.RunnerID)
	what := fmt.Sprintf("%s at %s by %s", e.State, at, by)
	if e.ErrorMessage != "" {
		what += fmt.Sprintf(" (error: %s)", e.ErrorMessage)
	}
	a := Assessment{Latest: e, What: what}
	switch e.State {
	case StateApplied:
		a.Verdict, a.Reason = VerdictDone, fmt.Sprintf("applied at %s by %s", at, by)
		return a
	case StateManualApplied:
		a.Verdict, a.Reason = VerdictDone, fmt.Sprintf("marked as applied at %s by %s: %s", at, e.Operator, e.Reason)
		return a
	case StateRolledBack:
		a.Verdict, a.Reason = VerdictPending, fmt.Sprintf("rolled back at %s by %s", at, by)
		return a
	case StateManualRolledBack:
		a.Verdict, a.Reason = VerdictPending, fmt.Sprintf("marked as rolled back at %s by %s: %s", at, e.Operator, e.Reason)
		return a
	}

	// STARTED, FAILED or ROLLBACK_FAILED: what happened depends on how it ran.
	switch {
	case e.State == StateFailed && (e.Strategy == StrategySharedTx || e.Strategy == StrategySeparateTx):
		a.Verdict, a.Reason = VerdictPending, what+" inside a transaction the database rolled back"
		if p, ok := e.Progress(); ok {
			a.Reason += "; " + p.RolledBack()
		}
		return a
	case e.State == StateStarted && e.Strategy == StrategySharedTx:
		// Written inside the shared transaction (pipeline.SharedTxImplicit),
		// it is durable without the outcome only when the database committed
		// that transaction by itself.
		return a.uncertain("it ran in a transaction shared with the audit store, and its STARTED entry, written inside that transaction, was committed without an outcome, " +
			"as happens when the database commits the transaction by itself part-way through the change (" + implicitCommit + "): it may have partly taken effect")
	case e.State == StateStarted && e.Strategy == StrategySeparateTx:
		a.Verdict = VerdictMarkerDecides
		a.Reason = what + fmt.Sprintf("; it ran in a separate transaction: the next run records it APPLIED if the marker in target %q shows the transaction committed, and applies it again otherwise",
			orUnknown(e.TargetID))
		return a
	case e.State == StateRollbackFailed && (e.Strategy == StrategySharedTx || e.Strategy == StrategySeparateTx):
		// The runtime records APPLIED right after it; a crash in between
		// leaves this entry latest, and the change is still applied.
		a.Verdict, a.Reason = VerdictDone, what+" inside a transaction the database rolled back, so the change is still applied"
		if p, ok := e.Progress(); ok {
			a.Reason += "; " + p.RolledBack()
		}
		return a
	case e.State == StateRollbackFailed:
		if p, ok := e.Progress(); ok {
			if p.Done == 0 {
				return a.uncertain("its rollback failed " + e.Strategy.Phrase() + ": " + p.RollbackApplied())
			}
			return a.uncertain("its rollback failed " + e.Strategy.Phrase() + ", so the change may be partly undone: " + p.RollbackApplied())
		}
		return a.uncertain("its rollback failed, so the change may be partly undone")
	case e.State == StateFailed:
		if p, ok := e.Progress(); ok {
			// The progress a change recorded says how far it got: the
			// parts it completed stayed.
			if p.Done == 0 {
				return a.uncertain("it failed " + e.Strategy.Phrase() + ": " + p.Applied())
			}
			return a.uncertain("it failed " + e.Strategy.Phrase() + ", so it partly took effect: " + p.Applied())
		}
		return a.uncertain("it failed " + e.Strategy.Phrase() + ", so it may have partly taken effect")
	default:
		return a.uncertain("it ran " + e.Strategy.Phrase() + " and its outcome was not recorded, so whether it took effect is unknown")
	}
}

// WithoutMarker is the assessment of a VerdictMarkerDecides change whose
// target keeps no markers any more, so that nothing can tell whether its
// transaction committed: the outcome is uncertain and the recovery recorded
// in the entry decides. Other assessments are returned as they are.
func (a Assessment) WithoutMarker() Assessment {
	if a.Verdict != VerdictMarkerDecides {
		return a
	}
	return a.uncertain("it ran in a separate transaction, but its target no longer keeps markers to tell whether it committed")
}

// CommittedPartway is the assessment of a VerdictMarkerDecides change
// whose target's begun marker shows that its database committed the
// change's separate transaction by itself part-way through the change (see
// pipeline.SeparateTxImplicit): what the change did until then stays, the
// outcome is uncertain and the recovery recorded in the entry decides.
// Other assessments are returned as they are.
func (a Assessment) CommittedPartway() Assessment {
	if a.Verdict != VerdictMarkerDecides {
		return a
	}
	return a.uncertain("it ran in a separate transaction that its database committed by itself part-way through the change (" +
		implicitCommit + "), so it may have partly taken effect")
}

// implicitCommit names what commits a transaction part-way through a
// change.
const implicitCommit = "an implicit commit, as MySQL's and MariaDB's before and after DDL"

// UnderLock returns a as the pipeline's lock l shows it. When a's latest
// entry is STARTED by the runner that holds l under a lease that has not
// expired by the store's clock, the change is in flight: the result has
// VerdictRunning, no Problem, and a Reason naming the runner and how long
// its lease runs. Otherwise a is returned as it is: a change STARTED under
// a lease that expired, was released, or moved to another runner is what
// Assess says. The operator CLI reads the lock with the trail and applies
// it to every change, so that a deploy gate on "flamingock issue list"
// passes while another replica applies a change.
func (a Assessment) UnderLock(l LockInfo) Assessment {
	e := a.Latest
	if e.State != StateStarted || e.RunnerID == "" || l.Owner != e.RunnerID || !l.Held() {
		return a
	}
	a.Verdict, a.Problem = VerdictRunning, ""
	a.Reason = fmt.Sprintf("%s; that runner holds lock %q until %s, so the change is being applied now", a.What, l.Key, l.ExpiresAt.UTC().Format(time.RFC3339))
	return a
}

// uncertain decides a change whose outcome cannot be proven: the recovery
// recorded in its latest entry says whether it may run again.
func (a Assessment) uncertain(problem string) Assessment {
	a.Problem = problem
	if a.Latest.Recovery == RecoveryRetry {
		a.Verdict, a.Reason = VerdictPending, a.What+"; "+problem+"; recovery retry: applying it again"
	} else {
		a.Verdict, a.Reason = VerdictIssue, a.What+"; "+problem+"; recovery manual: an operator must resolve it"
	}
	return a
}

// Phrase describes how a change ran under s, completing "it ran …".
func (s Strategy) Phrase() string {
	switch s {
	case StrategySharedTx:
		return "in a transaction shared with the audit store"
	case StrategySeparateTx:
		return "in a separate transaction"
	default:
		return "without a transaction"
	}
}

// Resolution is one way an operator resolves an issue: a manual mark of
// the change, appended with the flamingock CLI.
type Resolution struct {
	// Name is the value of the CLI's --resolution: "applied" or
	// "rolled-back".
	Name string
	// State is the state the mark records.
	State State
	// Command is the exact flamingock command line.
	Command string
	// Effect says when to choose the resolution and what the next run does
	// after it; it ends with a colon, to precede Command.
	Effect string
}

// Resolutions returns the operator commands that resolve an issue of
// change id, one per possible truth. storeArgs are the flamingock global
// flags that select the audit store, such as "--store", "sqlite:app.db";
// they are printed quoted for a POSIX shell when they need it, with any
// password in them shown as xxxxx (internal/redact), so a connection
// string may be passed as it is.
func Resolutions(changeID string, storeArgs ...string) []Resolution {
	cmd := func(res string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `flamingock audit fix %s --resolution %s --reason "describe what you checked"`, shellQuote(changeID), res)
		for _, a := range storeArgs {
			b.WriteString(" " + shellQuote(redact.DSN(a)))
		}
		return b.String()
	}
	return []Resolution{
		{Name: "applied", State: StateManualApplied, Command: cmd("applied"),
			Effect: "if its effects are in place, mark it applied; the next run skips it:"},
		{Name: "rolled-back", State: StateManualRolledBack, Command: cmd("rolled-back"),
			Effect: "if it had no effect or you undid it, mark it rolled back; the next run applies it again:"},
	}
}

// shellQuote quotes s for a POSIX shell when it needs it, so that printed
// commands can be pasted as they are.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@=+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
