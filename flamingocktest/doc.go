// Package flamingocktest tests a pipeline's changes in the application's own
// go test: given a trail, when the changes run, then the trail says what it
// should, and every undo really undoes its change.
//
// A Kit is made from the test's testing.TB. It opens a temporary SQLite
// audit store of its own (closed and deleted when the test ends), or uses the
// one WithStore gives it, and runs pipelines on it with the runtime itself
// (package runtime/pipeline): nothing is simulated, so a change runs with the
// strategy its target reports, and an entry the kit writes is refused when
// the store would refuse the runtime's.
//
//	func TestChanges(t *testing.T) {
//		k := flamingocktest.New(t)
//		stage := changes.Stage(changes.Targets{Appdb: sqltarget.Shared(k.SQLite())}, changes.Deps{})
//
//		k.Run(stage)                                   // when run (it fails the test on an error)
//		k.AssertApplied("create-users", "seed-admin") // then applied
//	}
//
// # Given a trail
//
// GivenApplied records changes as applied before the test runs anything, the
// way an operator's baseline does: the runtime itself (Runner.Baseline)
// appends one MANUAL_MARKED_AS_APPLIED entry for each, under the lock, with
// the strategy of its target and the checksum of its code; the changes do not
// run. Given appends the entries a test writes out (a change STARTED by a
// runner that crashed, a FAILED one), under a lease of the pipeline's lock
// like every entry a runner writes; the store validates them. Neither changes
// the target systems: a test that gives a change as applied also makes its
// target look applied when the next changes need it (a table they alter).
//
// # Running part of a stage
//
// Through(stage, id) is the stage cut after change id: the changes before it
// run first unless the trail has them applied, and the later ones are not in
// the pipeline at all, as if they had not been written yet. Changes never run
// out of their order. RunOne(stage, id) runs change id alone, and fails the
// test before running anything when a change before it is not applied in the
// trail, naming it: give it with GivenApplied, or run Through(stage, id).
//
// Run fails the test when the runtime returns an error; TryRun returns it, for
// a test whose run should stop (an issue, a failed change).
//
// # Assertions
//
// AssertApplied, AssertPending, AssertIssue and AssertTrail read the trail
// and decide with audit.Assess, as the runtime and the operator CLI do.
// Each reports its failure with t.Errorf, with the whole trail as a table:
//
//	change "seed-admin": latest state FAILED, want applied
//	trail (3 entries):
//	SEQ  STAGE    CHANGE        STATE    STRATEGY   RECOVERY  NOTE
//	1    changes  create-users  APPLIED  SHARED_TX  MANUAL
//	…
//
// and returns whether it held.
//
// # Round trips
//
// RoundTrip applies the pipeline one change at a time and, right after each
// change that declares a rollback, rolls it back and applies it again,
// comparing a snapshot of the test's state (a func the test gives, returning
// plain data that go-cmp compares) at each step: the rollback must give back
// the state before the change, and applying the change again the state after
// its first application. Each undo is checked in the state where RollbackTo
// runs it in production (every later change rolled back first). A change
// without a rollback is not checked and is listed as such (t.Log and
// RoundTripReport.Unchecked), never passed silently.
//
// # Zero values
//
// New with no option is the safe default: a temporary SQLite store, the
// default lock key, the runner's log written to t.Log (shown when the test
// fails or with -v). A nil snapshot makes RoundTrip check that every rollback
// and the application after it succeed, without comparing states. A Kit must
// be made by New: the zero Kit has no test to report to, and its methods panic
// saying so.
package flamingocktest
