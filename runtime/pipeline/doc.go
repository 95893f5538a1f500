// Package pipeline runs flamingock-go changes: it decides from the audit
// trail which changes of a pipeline still have to run, runs them in order
// under a lease lock, and records every state transition, so that after any
// run — finished, failed, killed at any instant, or racing other replicas —
// every change is in one known state and nothing that needs a human is run
// past silently.
//
// (It is not named runtime so that it does not shadow the standard
// library's package of that name.)
//
// # Using it
//
// flamingock-gen generates, in every package of changes (a stage), a
// Stage function and typed Targets and Deps structs. The application opens
// its audit store, wires the targets, and runs the pipeline at start-up:
//
//	store, err := sqlite.Open(ctx, "app.db")
//	if err != nil { … }
//	defer store.Close()
//
//	r, err := pipeline.New(store, []pipeline.Stage{
//		schema.Stage(schema.Targets{Appdb: sqltarget.Shared(store)}, schema.Deps{}),
//		topics.Stage(topics.Targets{Kafka: pipeline.NonTransactional(admin)}, topics.Deps{}),
//	})
//	if err != nil { … } // every problem of the pipeline at once
//
//	res, err := r.Run(ctx)
//	if err != nil { … } // see "Errors"
//	fmt.Printf("%d applied, %d already applied\n", res.Count(pipeline.StatusApplied), res.Count(pipeline.StatusSkipped))
//
// Runner.Plan is the dry-run call: it reports what Run would do with every
// change, and why, without taking the lock or running anything.
// Runner.Validate is the gate for CI jobs and readiness checks built on it:
// nil when every change is applied, ErrPending (a *PendingError listing
// what would run) or an *IssuesError otherwise.
//
// Runner.RollbackTo undoes applied changes, newest first, running their
// declared rollbacks: RollbackTo(ctx, id) keeps id and every change before
// it applied, like goose's DownTo; with Inclusive, id is rolled back too.
// It refuses, before anything runs, a range with a change that declares no
// rollback, and any issue.
//
// # Adopting a database
//
// A database another tool migrated is adopted, not migrated again.
// WithImport(imp) makes Run import that tool's history (runtime/adopt has
// the importers of goose and golang-migrate): under the lock, before
// anything runs and only while a change has no entry, the importer marks
// what the old tool applied (MANUAL_MARKED_AS_APPLIED, saying where it
// came from) and what it left uncertain (FAILED with recovery MANUAL: an
// issue for `flamingock audit fix`); a history that disagrees with the
// pipeline stops the run with ErrImport before anything is written. Plan
// and Validate do not import: they report the changes as never applied
// until a Run has imported them.
//
// Runner.Baseline(ctx, id, operator, reason) marks every change up to id
// applied without running it, for a database migrated by hand; it
// refuses a change that ran and is not applied (ErrBaselineRefused).
//
// WithEvents reports every step: the execution, each stage it reaches and
// each change. The nested module github.com/flamingock/flamingock-go/oteltrace
// turns the events into OpenTelemetry spans, so the core module does not
// depend on OpenTelemetry.
//
// # What a run does
//
// Run reads the audit trail without the lock and returns at once when every
// change is applied. With a store that keeps checkpoints
// (audit.Checkpointer) it first asks whether the checkpoint of the
// pipeline's digest is current: nothing appended since every change was
// last found applied, and nothing deleted or edited that it counted (see
// audit.Checkpointer for how each store tells). When it is, it reads
// nothing else, and builds nothing either: a generated stage brings its
// digest computed by flamingock-gen (Generated), and its changes are
// built only by a run that has something to do, so such a start costs the
// same at 10 changes as at 10,000. Otherwise it takes the lock, reads the trail again and
// decides every change from its latest entry:
//
//	latest state                                  action
//	none                                          apply
//	APPLIED, MANUAL_MARKED_AS_APPLIED             skip
//	ROLLED_BACK, MANUAL_MARKED_AS_ROLLED_BACK     apply
//	FAILED in a transaction                       apply (the database rolled it back)
//	ROLLBACK_FAILED in a transaction              skip (the database rolled the undo back)
//	STARTED in a separate transaction             marker present: record APPLIED; absent: apply
//	STARTED or FAILED without a transaction,      recovery retry: apply
//	ROLLBACK_FAILED without one                   recovery manual: issue
//
// The strategy and recovery recorded in that entry decide, not the ones the
// change declares now. An issue blocks the whole run: Run applies nothing and
// returns an *IssuesError listing every issue with the flamingock command
// that resolves it.
//
// A change runs with the strategy its target reports (Target.Strategy,
// which answers with the target as that strategy's interface, so the
// compiler checks what each needs):
//
//   - shared transaction (SharedTx, audit.StrategySharedTx): the change and
//     its APPLIED entry commit in one transaction of the database that also
//     holds the audit store; the target is built on that store
//     (sqltarget.Shared(store), pgxtarget.Shared(store)), never guessed;
//   - separate transaction (SeparateTx, audit.StrategySeparateTx): STARTED;
//     the change and a marker commit in the target's transaction; APPLIED;
//     the marker is cleared;
//   - no transaction (NonTx, audit.StrategyNonTx): STARTED, the change,
//     APPLIED; on failure FAILED, and, for a change declared
//     compensate=true only, its rollback right away, then ROLLED_BACK or
//     ROLLBACK_FAILED.
//
// A new target implements Target and the interface of each strategy it
// reports, and passes package targettest, as stores pass audittest.
//
// The first failure stops the run. A panic inside a change or its rollback
// is recovered and recorded as the change's failure (error kind "panic"):
// it does not crash the process. A change that returns its context's error
// was stopped, not broken: its error kind is "cancelled" or "deadline"
// (audit.ErrorKindCancelled, audit.ErrorKindDeadline), in the audit trail
// and in Event.ErrorKind; any other failure's is the Go type of its
// innermost error.
//
// An applied change whose recorded checksum is neither its code's nor one
// its Meta.Equivalent lists was edited after it was applied somewhere: it
// is not applied again, and Run (Result.Drift), Plan (Plan.Drift) and
// Validate report it as a Drift, a warning in the log; it fails none of
// them.
//
// # Profiles
//
// A change may declare the environments it belongs to (profile=dev,test in
// its directive, Meta.Profiles); a runner is given its active profiles
// with WithProfiles("prod"). A change without profiles runs on every
// runner. A change with profiles runs only on a runner with at least one
// active profile, when one of its plain names is active (or it has none)
// and none of its '!' names is: profile=dev,test runs under dev or test,
// profile=!prod under any profile but prod.
//
// A runner without WithProfiles has no active profile, so it runs only
// the changes that declare none, never one with a profile, '!' included.
// That is the safe default: a dev seed-data change (or a profile=!prod
// one) cannot run in production because someone forgot an option; the
// worst a forgotten option does is leave a change out, and a runner with
// the right profiles reports it pending (Validate fails there).
//
// A change the runner's profiles exclude is decided ActionExclude
// (StatusExcluded in the Result, an EventSkipped whose Reason starts with
// "excluded by profile"): it is neither pending nor an issue, for Run,
// Plan and Validate, whatever its latest entry; RollbackTo does not undo
// it and Baseline does not mark it. One applied before, by a runner of
// other profiles, stays applied: its Latest entry and Reason say so. No
// marker is read and no drift is reported for it.
//
// Excluded changes keep their place in the order: New checks orders over
// every change, whatever its profiles. A change that depends on an
// excluded one (a later change for every environment reading the table a
// dev-only change creates) is the author's business: the runner does not
// know what a change reads.
//
// Every entry a runner with profiles writes for a change it runs or rolls
// back records its active profiles, sorted, under audit.MetadataProfiles
// of Entry.Metadata: {"profiles": ["dev","test"]}.
//
// The checkpoint of a pipeline (see audit.Checkpointer) covers the active
// profiles: the pipeline's digest includes them, and each change's
// profiles are in its stage's digest. A checkpoint saved by a dev runner,
// which found every change done but left the prod changes out, is
// therefore never current for a prod runner, nor the reverse, nor for a
// pipeline where a change gained or lost a profile. The digest of a
// runner without profiles over changes without profiles is the one of
// before profiles existed, so that existing checkpoints stay current.
//
// # The lock
//
// The runner holds a lease on the pipeline's lock key in the audit store
// (WithLease, default 60s), refreshed every third of it. It starts a change
// only while the lease is valid for at least a third of it more and can be
// refreshed: a refresh that fails, and fails again when retried before the
// next change, stops the run. Every audit write carries the lease, so a
// store refuses the writes of a runner whose lease expired or was taken
// over; the run then stops with ErrLockLost. A crashed runner's lock frees
// itself when the lease expires; meanwhile others wait (WithLockWait,
// default 3m polling every 1s), saying so in the log. On SQLite a start
// also waits, within the same bound, while another process holds the
// database's write lock, as a change that shares its transaction with the
// store does while it runs (audit.ErrBusy); Validate waits the same way.
//
// # Logging
//
// The runner logs through slog.Default() (as it is when New is called)
// unless WithLogger says otherwise: each change it starts, applies,
// recovers or rolls back, a summary line per execution ("run finished",
// or "run stopped" with the error), and warnings for a wait for the lock
// or a busy store (who holds it, until when: once, then every 10s), a
// drift and a retried store call. A migration tool that is silent while
// it waits looks hung. WithLogger(slog.New(slog.DiscardHandler)) silences
// it.
//
// # Errors
//
// Run returns a Result (never nil) and, when something stopped it, an
// error matching one of:
//
//   - ErrManualInterventionRequired (*IssuesError): changes whose outcome
//     only an operator can decide; nothing ran;
//   - ErrLockNotAcquired (*LockError): another runner held the lock for the
//     whole wait, or the store stayed busy that long (LockError.Err, which
//     matches audit.ErrBusy); nothing ran;
//   - ErrChangeFailed (*ChangeError): a change failed; it says the state
//     recorded and what the next run does;
//   - ErrLockLost (*LockLostError): the lease was lost; no later change ran;
//   - ErrStageRenamed (*StageRenamedError): the audit trail records changes
//     of the pipeline under another stage name (a package renamed without
//     its stage name pinned), under which they would be applied again;
//     nothing ran. Plan, Validate and RollbackTo refuse it too;
//   - ErrStoreFailed (*StoreError): a read or write failed after the
//     retries the runtime makes where they are safe: reading the trail, a
//     change's marker in its target or the lock, taking the lock (nothing
//     ran), or recording a step of a change (StoreError.ChangeID names it;
//     the message says whether it took effect, for example "committed, but
//     its state stays STARTED until the next run finds its marker"). The
//     next run decides from what the trail holds. It also matches the
//     store's error: audit.ErrCorrupt for a record that cannot be trusted,
//     audit.ErrUnavailable;
//   - ErrInvalidPipeline: what New could not check without building the
//     changes of a generated stage (a change id two stages declare, a
//     generated file edited by hand); nothing ran. Plan, Validate and
//     RollbackTo refuse it too;
//   - ErrImport: the importer (WithImport) failed, or found that the old
//     tool's history and the pipeline disagree; nothing ran;
//   - context.Canceled or context.DeadlineExceeded: ctx ended while Run
//     waited for the lock or before a change started; a change that
//     returns it fails with a *ChangeError that matches it too.
//
// RollbackTo returns, besides those, ErrUnknownChange, ErrRollbackRefused
// (*RollbackRefusedError; nothing ran) and ErrRollbackFailed
// (*RollbackError; no older change was rolled back). Baseline returns,
// besides Run's, ErrUnknownChange and ErrBaselineRefused
// (*BaselineRefusedError; nothing was marked).
package pipeline
