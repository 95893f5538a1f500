package netfault

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/faultproxy"
	"github.com/flamingock/flamingock-go/internal/mysqltest"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
)

// The MySQL target's statements the faults cut, as go-sql-driver sends
// them (arguments interpolated). A change's transaction is "START
// TRANSACTION" … "COMMIT" on one connection; the probes that tell whether
// the database committed it by itself (an implicit commit of DDL) run on
// another.
var (
	myCommit = faultproxy.SQLIs("COMMIT")
	// myTrailProbe is the read of the change's history after it ran
	// (sqltarget.Shared): is its STARTED entry visible outside the
	// transaction?
	myTrailProbe = faultproxy.SQLContains("FROM `flamingock_audit` WHERE 1 = 1")
	// myMarkerProbe is HasMarker (sqltarget.New): the begun marker after
	// the change ran, the marker after a failed COMMIT.
	myMarkerProbe = faultproxy.SQLContains("SELECT COUNT(*) FROM `flamingock_marker`")
	myMarkerWrite = faultproxy.SQLContains("REPLACE INTO `flamingock_marker`")
	// myBegunMarker is the begun marker, first write of a change's
	// transaction under sqltarget.New(db, WithMySQL()).
	myBegunMarker = faultproxy.All(myMarkerWrite, faultproxy.SQLContains(pipeline.BegunMarker+"'"))
	// myDoneMarker is the marker written after the change, which proves it
	// committed.
	myDoneMarker = faultproxy.Matcher(func(f faultproxy.Flight) bool { return myMarkerWrite(f) && !myBegunMarker(f) })
	myDDL        = faultproxy.SQLContains("CREATE TABLE IF NOT EXISTS " + ddlTable)
)

// ddlTable is the table a DDL change creates in the target's database.
const ddlTable = "netfault_ddl"

// targetKind is one of the two ways a MySQL target runs a transactional
// change: in the store's transaction (Shared) or with markers (New).
type targetKind string

const (
	sharedKind targetKind = "shared"
	markerKind targetKind = "marker"
)

// targetWorld is a mysqlWorld with a MySQL target: sqltarget.Shared on the
// proxied store, or sqltarget.New on a database of its own reached through
// the same proxy.
type targetWorld struct {
	*mysqlWorld
	target *sqltarget.Target
	// changed is the database the changes change, reached without the
	// proxy, to count their effects on the server itself.
	changed *sql.DB
}

func newTargetWorld(t *testing.T, kind targetKind) *targetWorld {
	t.Helper()
	w := &targetWorld{mysqlWorld: newMySQLWorld(t)}
	if kind == sharedKind {
		w.target, w.changed = sqltarget.Shared(w.store), w.direct
		return w
	}
	server := mysqltest.New(t)
	name := server.Database(t, "netfault_target_")
	w.changed = server.Open(t, name)
	if _, err := w.changed.ExecContext(t.Context(), "CREATE TABLE "+effectsTable+" (change_id VARCHAR(64) NOT NULL) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	proxied := mysqltest.Server{User: server.User, Host: w.proxy.Addr()}
	cfg := proxied.Config(name)
	// The marker's execution id in the statement's text, for the rules.
	cfg.InterpolateParams = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.target = sqltarget.New(db, sqltarget.WithMySQL())
	// The marker table is created at first use: done before any fault is
	// armed.
	if _, err := w.target.HasMarker(t.Context(), pipeline.Marker{Key: audit.Key{Stage: "warm-up", ChangeID: "warm-up"}, ExecutionID: "warm-up"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// change is a transactional change on the target: with ddl, it creates
// ddlTable (which commits its transaction implicitly), then it leaves its
// effect; then inBody, if any, runs.
func (w *targetWorld) change(id string, rec audit.Recovery, ddl bool, inBody func()) pipeline.Change {
	m := pipeline.Meta{ID: id, Order: audit.OrderOf(1), Author: "netfault", Target: "appdb",
		Recovery: rec, Checksum: "sum-" + id, Source: id + ".go:1"}
	return pipeline.NewChange(m, w.target, func(ctx context.Context, tx *sql.Tx) error {
		if ddl {
			// IF NOT EXISTS, so that recovery retry may run it again; it
			// commits implicitly even when the table exists.
			if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+ddlTable+" (n INT) ENGINE=InnoDB"); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+effectsTable+" (change_id) VALUES (?)", id); err != nil {
			return err
		}
		if inBody != nil {
			inBody()
		}
		return nil
	}, nil)
}

func (w *targetWorld) effectsOf(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := w.changed.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+effectsTable+" WHERE change_id = ?", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *targetWorld) ddlDone(t *testing.T) bool {
	t.Helper()
	var n int
	if err := w.changed.QueryRowContext(context.Background(),
		"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", ddlTable).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// issue is the outcome of a run that an issue blocks.
const issue pipeline.Status = "issue"

// after is what a run after the fault finds and does.
type afterFault struct {
	status  pipeline.Status // issue, or c1's status
	trail   []string        // c1's trail after it
	effects int
}

// targetFaultCase is one cut of a MySQL target's connection.
type targetFaultCase struct {
	name string
	ddl  bool
	rule faultproxy.Rule
	// inBody arms the rule once the change's statements have run, so that
	// it cuts the next matching statement after them: the probe after the
	// change, or the change's COMMIT (not the lock's, before it).
	inBody bool
	// recovered says that the faulty run finds out the truth itself: no
	// error, c1 applied.
	recovered bool
	// first is c1's trail after the faulty run; effects its effects then;
	// ddlDone whether its DDL had run.
	first   []string
	effects int
	ddlDone bool
	// manual is the next run under recovery manual; retry under recovery
	// retry, when it differs.
	manual afterFault
	retry  *afterFault
	// problem is in the issue's Problem, if the next run is an issue.
	problem string
}

// Trail lines.
const (
	startedS = "STARTED SHARED_TX"
	appliedS = "APPLIED SHARED_TX"
	failedS  = "FAILED SHARED_TX"
	startedP = "STARTED SEPARATE_TX"
	appliedP = "APPLIED SEPARATE_TX"
	failedP  = "FAILED SEPARATE_TX"
	appliedN = "APPLIED NON_TX"
	failedN  = "FAILED NON_TX"
)

// partway is the problem of a change the database committed part of by
// itself.
const partway = "by itself part-way"

func trail(lines ...string) []string { return lines }

// TestMySQLTargetShared cuts the connections of sqltarget.Shared on the
// MySQL store (the change and its audit entries in one transaction of the
// store's *sql.DB, through the proxy), a change of DML alone and one that
// runs DDL first. A change of DML alone is atomic: after any cut, either
// it committed with its APPLIED entry, or nothing of it did and the next
// run applies it once. A change whose DDL committed its transaction
// implicitly is done as far as it got: after a cut past its DDL, it is
// an issue under recovery manual (its STARTED entry was committed with the
// DDL), run again under recovery retry, never taken for not run.
func TestMySQLTargetShared(t *testing.T) {
	applied := afterFault{status: pipeline.StatusApplied, trail: trail(failedS, startedS, appliedS), effects: 1}
	appliedDDL := afterFault{status: pipeline.StatusApplied, trail: trail(failedS, startedS, appliedN), effects: 1}
	cases := []targetFaultCase{
		{name: "a cut STARTED append inside the transaction rolls it back and the next run applies the change once",
			rule: cut(myAppendOf(audit.StateStarted), before), first: trail(failedS), manual: applied},
		{name: "a STARTED append the server ran but never acknowledged is rolled back with the transaction",
			rule: cut(myAppendOf(audit.StateStarted), after), first: trail(failedS), manual: applied},
		{name: "a connection cut mid-change rolls it back and the next run applies it once",
			rule: cut(myApplyEffect, before), first: trail(failedS), manual: applied},
		{name: "a probe of the trail cut after the change rolls it back and the next run applies it once",
			rule: cut(myTrailProbe, before), inBody: true, first: nil,
			manual: afterFault{status: pipeline.StatusApplied, trail: trail(startedS, appliedS), effects: 1}},
		{name: "a cut APPLIED append rolls the change back and the next run applies it once",
			rule: cut(myAppendOf(audit.StateApplied), before), first: trail(failedS), manual: applied},
		{name: "an APPLIED append the server ran but never acknowledged is rolled back with the transaction",
			rule: cut(myAppendOf(audit.StateApplied), after), first: trail(failedS), manual: applied},
		{name: "a COMMIT the server never saw leaves nothing and the next run applies the change once",
			rule: cut(myCommit, before), inBody: true, first: trail(failedS), manual: applied},
		{name: "a COMMIT made but never acknowledged is found in the trail by the same run",
			rule: cut(myCommit, after), inBody: true, recovered: true, first: trail(startedS, appliedS), effects: 1,
			manual: afterFault{status: pipeline.StatusSkipped, trail: trail(startedS, appliedS), effects: 1}},

		{name: "with DDL, a cut STARTED append rolls back a change that had not begun",
			ddl: true, rule: cut(myAppendOf(audit.StateStarted), before), first: trail(failedS), manual: appliedDDL},
		{name: "with DDL, a connection cut before the DDL rolls back the change and the next run applies it once",
			ddl: true, rule: cut(myDDL, before), first: trail(failedS), manual: appliedDDL},
		{name: "with DDL, a connection cut once the server ran the DDL leaves it partly committed, an issue",
			ddl: true, rule: cut(myDDL, after), first: trail(startedS, failedN), ddlDone: true,
			manual: afterFault{status: issue, trail: trail(startedS, failedN)},
			retry:  &afterFault{status: pipeline.StatusApplied, trail: trail(startedS, failedN, startedS, appliedN), effects: 1},
		},
		{name: "with DDL, a connection cut mid-change after the DDL leaves it partly committed, an issue",
			ddl: true, rule: cut(myApplyEffect, before), first: trail(startedS, failedN), ddlDone: true,
			manual: afterFault{status: issue, trail: trail(startedS, failedN)},
			retry:  &afterFault{status: pipeline.StatusApplied, trail: trail(startedS, failedN, startedS, appliedN), effects: 1}},
		{name: "with DDL, a probe of the trail cut after the change leaves it STARTED, an issue, never run again as if nothing had happened",
			ddl: true, rule: cut(myTrailProbe, before), inBody: true, first: trail(startedS), effects: 1, ddlDone: true,
			manual:  afterFault{status: issue, trail: trail(startedS), effects: 1},
			retry:   &afterFault{status: pipeline.StatusApplied, trail: trail(startedS, startedS, appliedN), effects: 2},
			problem: partway},
		{name: "with DDL, a cut APPLIED append leaves the change FAILED after it took effect, an issue",
			ddl: true, rule: cut(myAppendOf(audit.StateApplied), before), first: trail(startedS, failedN), effects: 1, ddlDone: true,
			manual: afterFault{status: issue, trail: trail(startedS, failedN), effects: 1},
			retry:  &afterFault{status: pipeline.StatusApplied, trail: trail(startedS, failedN, startedS, appliedN), effects: 2}},
		{name: "with DDL, an APPLIED append stored but never acknowledged is found in the trail by the same run",
			ddl: true, rule: cut(myAppendOf(audit.StateApplied), after), recovered: true, first: trail(startedS, appliedN), effects: 1, ddlDone: true,
			manual: afterFault{status: pipeline.StatusSkipped, trail: trail(startedS, appliedN), effects: 1}},
		{name: "with DDL, a COMMIT the server never saw changes nothing: the APPLIED entry had committed on its own",
			ddl: true, rule: cut(myCommit, before), inBody: true, recovered: true, first: trail(startedS, appliedN), effects: 1, ddlDone: true,
			manual: afterFault{status: pipeline.StatusSkipped, trail: trail(startedS, appliedN), effects: 1}},
	}
	runTargetCases(t, sharedKind, cases)
}

// TestMySQLTargetMarker cuts the connections of sqltarget.New(db,
// WithMySQL()), db and the store both through the proxy: STARTED, then
// the change's transaction (the begun marker first, the change, the
// marker, COMMIT), then APPLIED. The markers decide: none of this
// execution, nothing committed; the begun marker alone, the database
// committed part of it by itself (an issue under recovery manual); the
// marker, it committed.
func TestMySQLTargetMarker(t *testing.T) {
	applied := afterFault{status: pipeline.StatusApplied, trail: trail(startedP, failedP, startedP, appliedP), effects: 1}
	appliedDDL := afterFault{status: pipeline.StatusApplied, trail: trail(startedP, failedP, startedP, appliedN), effects: 1}
	cases := []targetFaultCase{
		{name: "a cut STARTED append runs nothing and the next run applies the change once",
			rule: cut(myAppendOf(audit.StateStarted), before), first: nil,
			manual: afterFault{status: pipeline.StatusApplied, trail: trail(startedP, appliedP), effects: 1}},
		{name: "a STARTED append stored but never acknowledged runs nothing, and the next run finds no marker and applies it once",
			rule: cut(myAppendOf(audit.StateStarted), after), first: trail(startedP),
			manual: afterFault{status: pipeline.StatusApplied, trail: trail(startedP, startedP, appliedP), effects: 1}},
		{name: "a cut begun marker write rolls back the transaction and the next run applies the change once",
			rule: cut(myBegunMarker, before), first: trail(startedP, failedP), manual: applied},
		{name: "a begun marker write the server ran but never acknowledged is rolled back with the transaction",
			rule: cut(myBegunMarker, after), first: trail(startedP, failedP), manual: applied},
		{name: "a connection cut mid-change rolls it back and the next run applies it once",
			rule: cut(myApplyEffect, before), first: trail(startedP, failedP), manual: applied},
		{name: "a probe of the begun marker cut after the change rolls it back, and the next run finds no marker and applies it once",
			rule: cut(myMarkerProbe, before), inBody: true, first: trail(startedP),
			manual: afterFault{status: pipeline.StatusApplied, trail: trail(startedP, startedP, appliedP), effects: 1}},
		{name: "a cut marker write rolls back the change and the next run applies it once",
			rule: cut(myDoneMarker, before), first: trail(startedP, failedP), manual: applied},
		{name: "a COMMIT the server never saw is shown by the missing marker and the next run applies the change once",
			rule: cut(myCommit, before), inBody: true, first: trail(startedP, failedP), manual: applied},
		{name: "a COMMIT made but never acknowledged is proven by the marker in the same run",
			rule: cut(myCommit, after), inBody: true, recovered: true, first: trail(startedP, appliedP), effects: 1,
			manual: afterFault{status: pipeline.StatusSkipped, trail: trail(startedP, appliedP), effects: 1}},
		{name: "a cut APPLIED append after the commit is recovered by the next run from the marker",
			rule: cut(myAppendOf(audit.StateApplied), before), first: trail(startedP), effects: 1,
			manual: afterFault{status: pipeline.StatusRecovered, trail: trail(startedP, appliedP), effects: 1}},

		{name: "with DDL, a cut begun marker write rolls back a change that had not begun",
			ddl: true, rule: cut(myBegunMarker, before), first: trail(startedP, failedP), manual: appliedDDL},
		{name: "with DDL, a connection cut before the DDL rolls back the change and the next run applies it once",
			ddl: true, rule: cut(myDDL, before), first: trail(startedP, failedP), manual: appliedDDL},
		{name: "with DDL, a connection cut once the server ran the DDL leaves it partly committed, an issue",
			ddl: true, rule: cut(myDDL, after), first: trail(startedP, failedN), ddlDone: true,
			manual: afterFault{status: issue, trail: trail(startedP, failedN)},
			retry:  &afterFault{status: pipeline.StatusApplied, trail: trail(startedP, failedN, startedP, appliedN), effects: 1}},
		{name: "with DDL, a connection cut mid-change after the DDL leaves it partly committed, an issue",
			ddl: true, rule: cut(myApplyEffect, before), first: trail(startedP, failedN), ddlDone: true,
			manual: afterFault{status: issue, trail: trail(startedP, failedN)},
			retry:  &afterFault{status: pipeline.StatusApplied, trail: trail(startedP, failedN, startedP, appliedN), effects: 1}},
		{name: "with DDL, a probe of the begun marker cut after the change leaves it STARTED with the begun marker, an issue",
			ddl: true, rule: cut(myMarkerProbe, before), inBody: true, first: trail(startedP), effects: 1, ddlDone: true,
			manual:  afterFault{status: issue, trail: trail(startedP), effects: 1},
			retry:   &afterFault{status: pipeline.StatusApplied, trail: trail(startedP, startedP, appliedN), effects: 2},
			problem: partway},
		{name: "with DDL, a cut marker write leaves the change FAILED after it took effect, an issue",
			ddl: true, rule: cut(myDoneMarker, before), first: trail(startedP, failedN), effects: 1, ddlDone: true,
			manual: afterFault{status: issue, trail: trail(startedP, failedN), effects: 1},
			retry:  &afterFault{status: pipeline.StatusApplied, trail: trail(startedP, failedN, startedP, appliedN), effects: 2}},
		{name: "with DDL, a marker write stored but never acknowledged leaves the change FAILED, an issue, never applied again",
			ddl: true, rule: cut(myDoneMarker, after), first: trail(startedP, failedN), effects: 1, ddlDone: true,
			manual: afterFault{status: issue, trail: trail(startedP, failedN), effects: 1},
			retry:  &afterFault{status: pipeline.StatusApplied, trail: trail(startedP, failedN, startedP, appliedN), effects: 2}},
		{name: "with DDL, a COMMIT the server never saw changes nothing: the marker had committed on its own",
			ddl: true, rule: cut(myCommit, before), inBody: true, recovered: true, first: trail(startedP, appliedN), effects: 1, ddlDone: true,
			manual: afterFault{status: pipeline.StatusSkipped, trail: trail(startedP, appliedN), effects: 1}},
		// The marker does not say that the database committed the
		// transaction by itself (the begun marker was replaced): the entry
		// the recovery records says SEPARATE_TX, which no decision reads in
		// an APPLIED entry.
		{name: "with DDL, a cut APPLIED append is recovered by the next run from the marker",
			ddl: true, rule: cut(myAppendOf(audit.StateApplied), before), first: trail(startedP), effects: 1, ddlDone: true,
			manual: afterFault{status: pipeline.StatusRecovered, trail: trail(startedP, appliedP), effects: 1}},
	}
	runTargetCases(t, markerKind, cases)
}

// runTargetCases runs each case on kind under recovery manual, and under
// recovery retry when its next run differs: the faulty run, checked
// against the server (not through the proxy), then a run with the network
// healed.
func runTargetCases(t *testing.T, kind targetKind, cases []targetFaultCase) {
	for _, tc := range cases {
		recs := []audit.Recovery{audit.RecoveryManual}
		if tc.retry != nil {
			recs = append(recs, audit.RecoveryRetry)
		}
		for _, rec := range recs {
			t.Run(tc.name+" (recovery "+string(rec)+")", func(t *testing.T) {
				ctx := context.Background()
				w := newTargetWorld(t, kind)
				var f *faultproxy.Fault
				arm := func() { f = w.proxy.Arm(tc.rule) }
				var inBody func()
				if tc.inBody {
					inBody = func() {
						if f == nil { // the first time only
							arm()
						}
					}
				} else {
					arm()
				}
				r := w.runner(t, lease, w.change("c1", rec, tc.ddl, inBody))

				res, err := r.Run(ctx)
				if f == nil {
					t.Fatal("the change never reached the point where the fault is armed")
				}
				firedMySQL(t, f)
				switch {
				case tc.recovered && err != nil:
					t.Fatalf("run with the fault: %v, want the run to find out that c1 committed", err)
				case tc.recovered:
					if got := status(res, "c1"); got != pipeline.StatusApplied {
						t.Errorf("run with the fault: c1 is %s, want %s", got, pipeline.StatusApplied)
					}
				case err == nil:
					t.Fatalf("run with the fault: no error (c1 %s), want one", status(res, "c1"))
				default:
					checkClearError(t, err)
				}
				t.Logf("run with the fault: c1 %s: %v", status(res, "c1"), err)
				w.checkTrail(t, "c1", tc.first...)
				if n := w.effectsOf(t, "c1"); n != tc.effects {
					t.Errorf("after the faulty run c1 took effect %d times, want %d", n, tc.effects)
				}
				if tc.ddl {
					if got := w.ddlDone(t); got != tc.ddlDone {
						t.Errorf("after the faulty run c1's table exists: %v, want %v", got, tc.ddlDone)
					}
				}

				want := tc.manual
				if rec == audit.RecoveryRetry {
					want = *tc.retry
				}
				res, err = r.Run(ctx)
				if want.status == issue {
					ie := issueOf(t, err, "c1")
					if tc.problem != "" && !strings.Contains(ie.Issues[0].Problem, tc.problem) {
						t.Errorf("issue of c1: problem %q, want it to say %q", ie.Issues[0].Problem, tc.problem)
					}
					if got := status(res, "c1"); got != pipeline.StatusNotRun {
						t.Errorf("c1 is %s, want %s", got, pipeline.StatusNotRun)
					}
				} else {
					if err != nil {
						t.Fatalf("run after the fault: %v", err)
					}
					if got := status(res, "c1"); got != want.status {
						t.Errorf("run after the fault: c1 is %s, want %s", got, want.status)
					}
				}
				w.checkTrail(t, "c1", want.trail...)
				if n := w.effectsOf(t, "c1"); n != want.effects {
					t.Errorf("after the next run c1 took effect %d times, want %d", n, want.effects)
				}
				if tc.ddl && want.status != issue && !w.ddlDone(t) {
					t.Error("c1 is done but its table does not exist")
				}
			})
		}
	}
}

// checkClearError fails t unless err names the change: a *ChangeError,
// a *LockLostError or a message saying c1.
func checkClearError(t *testing.T, err error) {
	t.Helper()
	var ce *pipeline.ChangeError
	if errors.As(err, &ce) && ce.ChangeID == "c1" {
		return
	}
	if strings.Contains(err.Error(), `"c1"`) {
		return
	}
	t.Errorf("run with the fault: error %q does not name change c1", err)
}
