// Flamingock is the operator's tool for the audit store of a flamingock-go
// pipeline. It works on the store directly, without the application: it
// lists what ran, finds the changes that block the next run, explains
// them, and records an operator's resolution.
//
// Usage:
//
//	flamingock [global flags] COMMAND [flags] [ARGS]
//
// Global flags, accepted before or after the command:
//
//	--store URL          the audit store (default $FLAMINGOCK_STORE):
//	                     sqlite:PATH, postgres://user:pass@host:5432/db
//	                     (postgresql:// too; any pgx DSN URL),
//	                     mysql://user:pass@host:3306/db (MySQL, MariaDB), or
//	                     mongodb://user:pass@host:27017/db (mongodb+srv://
//	                     too; the database is the URI's path)
//	--table-prefix NAME  prefix of the store's tables or collection
//	                     (default $FLAMINGOCK_TABLE_PREFIX, else flamingock)
//	--schema NAME        PostgreSQL schema of the tables
//	                     (default $FLAMINGOCK_SCHEMA, else public)
//	--lock-key KEY       the pipeline's lock key
//	                     (default $FLAMINGOCK_LOCK_KEY, else flamingock)
//
// flamingock opens existing stores only: a SQLite file that does not exist
// is an error, not a new store. The read commands (audit list, issue list,
// issue get, lock status) write nothing: they open the store read-only
// (SQLite's mode=ro, the journal mode left alone, so a store in a read-only
// directory reads too; no DDL on PostgreSQL and MongoDB), and a database
// without an audit trail (an empty file, another application's database, a
// wrong PostgreSQL database or schema) is an error, "STORE is not an audit
// store: …", exit status 1, unlike an empty trail, which lists nothing.
// audit fix and lock release create the tables they need. A password in the
// store URL is never printed: messages, --json and printed commands show
// it as xxxxx, whatever characters it holds. A --store that is
// $FLAMINGOCK_STORE with its password shown as xxxxx (a printed command,
// pasted) means $FLAMINGOCK_STORE.
//
// Commands:
//
//	audit list [--history] [--since TIME] [--stage NAME] [--json]
//		The current state of every change, sorted by stage, order and id:
//		stage, id, state, when, duration, host, author and the verdict of
//		the decision table (done, pending, marker-decides, issue), or
//		running for a change being applied now (see issue list).
//		--history lists every entry instead, in the store's order, with
//		its error or its operator and reason. --since keeps entries at or
//		after TIME (RFC 3339, or a date meaning midnight UTC); --stage
//		keeps one stage.
//
//	issue list [--json]
//		Every change that blocks the pipeline: a change whose outcome only
//		an operator can tell (STARTED or FAILED without a transaction, or
//		ROLLBACK_FAILED, with recovery manual). Exit status 3 when there is
//		at least one, so that a deploy script can gate on it. A change
//		STARTED by the runner that holds the pipeline's lock, under a lease
//		that has not expired, is being applied now (another replica during
//		a rollout): it is not an issue but running, listed after the issues
//		as "running: change … STARTED at … by runner … on host …; its lease
//		on lock … runs until …", and alone it leaves the exit status 0. Once
//		that lease expires or is released with the change still STARTED,
//		it is an issue.
//
//	issue get ID [--guidance] [--stage NAME] [--json]
//		What happened to change ID: its latest state, host, runner,
//		execution, target, error and every entry of its history. With
//		--guidance, the commands that resolve its issue and what each one
//		means for the next run. A running change shows the lease it runs
//		under, and nothing to resolve.
//
//	audit fix ID --resolution applied|rolled-back --reason TEXT [--operator NAME] [--stage NAME] [--force [--order N]] [--json]
//		Records an operator's resolution of change ID's issue: appends
//		MANUAL_MARKED_AS_APPLIED (its effects are in place; the next run
//		skips it) or MANUAL_MARKED_AS_ROLLED_BACK (it had no effect or was
//		undone; the next run applies it again) with the operator (default
//		user@host) and the reason. It takes the pipeline's lock for the
//		write, so it refuses while a runner holds it (and a running change,
//		even with --force). It refuses without a reason, and refuses a
//		change that has no issue unless --force.
//
//		With --force and --resolution applied it also marks a change that
//		has no entry yet: one that never ran and whose effects are in
//		place (a database migrated by hand or by another tool; an
//		application marks many at once with pipeline's Runner.Baseline).
//		The trail does not know that change: --stage is required unless
//		the trail records one stage only, --order N is recorded when given,
//		and the entry has no target and no checksum (the runner decides
//		from its state: it skips the change and reports no drift). An id
//		the trail records under another stage than --stage is refused.
//
//	lock status [--json]
//		The pipeline's lock: who holds it until when, its epoch, and the
//		latest forced release.
//
//	lock release --force [--operator NAME] [--json]
//		Frees the lock whoever holds it, and records who released it (by
//		default user@host) in the lock. The former holder is fenced: it
//		can record nothing more. Use it only for a runner that is gone;
//		one that still runs would run alongside the next.
//
// Exit status: 0 success; 1 error (the store cannot be opened or read or is
// not an audit store, an id that is not in the trail, a refusal); 2 usage error (bad flags or
// arguments, no store, an unknown store scheme, an invalid time, a missing
// reason); 3 issues present (issue list). A refused command writes
// nothing. Errors are one line on stderr, starting with "flamingock: ".
//
// # JSON
//
// --json prints one JSON object, indented. The shapes are stable: fields
// may be added, none will be renamed or removed. Times are RFC 3339 in UTC
// with fractional seconds; null when absent.
//
//	audit list            {"store": STORE, "changes": [CHANGE…]}
//	audit list --history  {"store": STORE, "entries": [ENTRY…]}
//	issue list            {"store": STORE, "lock": LOCK, "issues": [CHANGE…], "running": [CHANGE…]}
//	issue get             {"store": STORE, "lock": LOCK, "change": CHANGE, "history": [ENTRY…]}
//	lock status           {"store": STORE, "lock": LOCK}
//	audit fix             {"store": STORE, "entry": ENTRY, "change": CHANGE}
//	lock release          {"store": STORE, "released": LOCK, "lock": LOCK}
//
// STORE is the store URL without its password. In lock release, "released"
// is the lock as it was just before the release (its store_time is the
// release's time) and "lock" is the lock after it.
//
//	CHANGE = {
//	  "stage": "app", "change_id": "publish-flags",
//	  "verdict": "issue",          // done | pending | marker-decides | issue | running
//	  "explanation": "FAILED at … by runner …; … an operator must resolve it",
//	  "problem": "it failed without a transaction, so it may have partly taken effect",
//	                               // "" unless the outcome is uncertain
//	  "latest": ENTRY,             // the entry the verdict comes from
//	  "resolutions": [RESOLUTION…], // [] unless the verdict is issue
//	  "running": {"runner": "…", "lease_until": "…"} | null
//	                               // who applies it and until when its
//	                               // lease runs; null unless running
//	}
//	RESOLUTION = {
//	  "name": "applied",           // applied | rolled-back: the --resolution
//	  "state": "MANUAL_MARKED_AS_APPLIED",
//	  "command": "flamingock audit fix publish-flags --resolution applied --reason \"describe what you checked\" --store sqlite:app.db",
//	  "effect": "if its effects are in place, mark it applied; the next run skips it:"
//	}
//	ENTRY = {
//	  "seq": 4, "execution_id": "…", "stage": "app", "change_id": "publish-flags",
//	  "order": 2, "author": "bob", "state": "FAILED",
//	  "time": "2025-03-01T10:00:03.5Z", "duration_ms": 1500,
//	  "host": "web-1", "runner_id": "…", "target_id": "flags",
//	  "strategy": "NON_TX",        // SHARED_TX | SEPARATE_TX | NON_TX
//	  "recovery": "MANUAL",        // MANUAL | RETRY
//	  "checksum": "…", "error_message": "…", "error_kind": "…",
//	  "operator": "", "reason": "", // set on manual marks
//	  "metadata": null             // the entry's user metadata, a JSON object
//	}
//	LOCK = {
//	  "key": "flamingock", "held": false, "owner": "", "epoch": 3,
//	  "expires_at": "…" | null,    // null when never acquired
//	  "store_time": "…",           // the store's clock when it was read
//	  "released_by": "alice@ops",  // the latest forced release; "" when none
//	  "released_at": "…" | null
//	}
//
// The verdicts are those of the runtime, computed by the same function
// (audit.Assess): done, the next run skips the change; pending, it applies
// it; marker-decides, it asks the target whether the change's separate
// transaction committed; issue, it refuses to run anything until an
// operator resolves the change with audit fix. running is the lock's view,
// added to those (audit.Assessment.UnderLock): the change is being applied
// now by the runner that holds the lock; "issues" never holds it, so that
// scripts reading issue list --json see only what blocks the pipeline.
package main
