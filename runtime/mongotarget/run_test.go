package mongotarget_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/crash"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// The users changes: a collection with a unique index (DDL, so declared
// transactional=false), some documents, and a transformation of them.

func createUsers(ctx context.Context, db *mongo.Database) error {
	if err := db.CreateCollection(ctx, "users"); err != nil {
		return err
	}
	_, err := db.Collection("users").Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetName("email_unique").SetUnique(true),
	})
	return err
}

func importUsers(ctx context.Context, db *mongo.Database) error {
	_, err := db.Collection("users").InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: 1}, {Key: "email", Value: "Ada@Example.COM"}},
		bson.D{{Key: "_id", Value: 2}, {Key: "email", Value: "grace@example.com"}},
		bson.D{{Key: "_id", Value: 3}, {Key: "email", Value: "LINUS@EXAMPLE.COM"}},
	})
	return err
}

// lowerEmails updates document by document: FerretDB has no update with
// an aggregation pipeline ($toLower in an update).
func lowerEmails(ctx context.Context, db *mongo.Database) error {
	users := db.Collection("users")
	cur, err := users.Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	var docs []struct {
		ID    int    `bson:"_id"`
		Email string `bson:"email"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return err
	}
	for _, d := range docs {
		if lower := strings.ToLower(d.Email); lower != d.Email {
			if _, err := users.UpdateByID(ctx, d.ID, bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: lower}}}}); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestPipelineOnMongo(t *testing.T) {
	e := newEnv(t)
	tg := e.detect(t) // the target for whichever server the test has
	tx, err := tg.Transactions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A transactional change runs in a transaction where the server has
	// them; a transactional=false one never does.
	txStrategy := audit.StrategyNonTx
	if tx.Supported {
		txStrategy = audit.StrategySeparateTx
	}
	changes := []decl{
		{id: "create-users", order: 1, nonTx: true, apply: createUsers},
		{id: "import-users", order: 2, apply: importUsers},
		{id: "lower-emails", order: 3, apply: lowerEmails},
	}

	t.Run("creates a collection and its index, transforms documents, and records every step", func(t *testing.T) {
		res, err := e.runner(t, tg, changes...).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"create-users=applied", "import-users=applied", "lower-emails=applied"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		for _, c := range changes {
			s := txStrategy
			if c.nonTx {
				s = audit.StrategyNonTx
			}
			want := []string{"STARTED " + string(s), "APPLIED " + string(s)}
			if diff := cmp.Diff(want, e.history(t, c.id)); diff != "" {
				t.Errorf("%s entries (-want +got):\n%s", c.id, diff)
			}
		}
		specs, err := e.db.Collection("users").Indexes().ListSpecifications(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(specs, func(s mongo.IndexSpecification) bool { return s.Name == "email_unique" })
		if i < 0 || specs[i].Unique == nil || !*specs[i].Unique {
			t.Errorf("indexes of users: %+v; want a unique email_unique", specs)
		}
		cur, err := e.db.Collection("users").Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		var users []struct {
			Email string `bson:"email"`
		}
		if err := cur.All(t.Context(), &users); err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, u := range users {
			emails = append(emails, u.Email)
		}
		if diff := cmp.Diff([]string{"ada@example.com", "grace@example.com", "linus@example.com"}, emails); diff != "" {
			t.Errorf("emails (-want +got):\n%s", diff)
		}
	})

	t.Run("the next run applies nothing", func(t *testing.T) {
		res, err := e.runner(t, tg, changes...).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"create-users=skipped", "import-users=skipped", "lower-emails=skipped"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
	})
}

func TestFailureWithoutTransaction(t *testing.T) {
	boom := errors.New("boom")
	// seed leaves its effect, then fails: a change run without a
	// transaction keeps what it did until its rollback undoes it.
	seed := func(fx effects) fn {
		return func(ctx context.Context, db *mongo.Database) error {
			if err := fx.leave("seed")(ctx, db); err != nil {
				return err
			}
			return boom
		}
	}
	unseed := func(fx effects) fn {
		return func(ctx context.Context, _ *mongo.Database) error {
			_, err := fx.coll.DeleteMany(ctx, bson.D{{Key: "change_id", Value: "seed"}})
			return err
		}
	}

	t.Run("a failure is recorded as FAILED, the compensation runs, and the next run applies the change again", func(t *testing.T) {
		e := newEnv(t)
		fx := e.effects()
		res, err := e.runner(t, e.target(),
			decl{id: "seed", order: 1, nonTx: true, apply: seed(fx), rollback: unseed(fx), compensate: true},
			decl{id: "after", order: 2, nonTx: true, apply: never(t)},
		).Run(t.Context())
		if !errors.Is(err, pipeline.ErrChangeFailed) || !errors.Is(err, boom) {
			t.Fatalf("Run error = %v; want the change's failure", err)
		}
		if diff := cmp.Diff([]string{"seed=failed", "after=not run"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"STARTED NON_TX", "FAILED NON_TX", "ROLLED_BACK NON_TX"}, e.history(t, "seed")); diff != "" {
			t.Errorf("seed entries (-want +got):\n%s", diff)
		}
		if n := fx.count(t, "seed"); n != 0 {
			t.Errorf("%d seed effects after the rollback; want 0", n)
		}

		res, err = e.runner(t, e.target(),
			decl{id: "seed", order: 1, nonTx: true, apply: fx.leave("seed")},
			decl{id: "after", order: 2, nonTx: true, apply: fx.leave("after")},
		).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"seed=applied", "after=applied"}, statuses(res)); diff != "" {
			t.Errorf("outcomes of the next run (-want +got):\n%s", diff)
		}
		if n := fx.count(t, "seed"); n != 1 {
			t.Errorf("%d seed effects; want 1", n)
		}
	})

	t.Run("a rollback that fails is recorded, and the next run reports an issue", func(t *testing.T) {
		e := newEnv(t)
		fx := e.effects()
		failing := func(context.Context, *mongo.Database) error { return errors.New("cannot undo") }
		_, err := e.runner(t, e.target(), decl{id: "seed", order: 1, nonTx: true, apply: seed(fx), rollback: failing, compensate: true}).Run(t.Context())
		if !errors.Is(err, pipeline.ErrChangeFailed) {
			t.Fatalf("Run error = %v; want the change's failure", err)
		}
		if diff := cmp.Diff([]string{"STARTED NON_TX", "FAILED NON_TX", "ROLLBACK_FAILED NON_TX"}, e.history(t, "seed")); diff != "" {
			t.Errorf("seed entries (-want +got):\n%s", diff)
		}
		_, err = e.runner(t, e.target(), decl{id: "seed", order: 1, nonTx: true, apply: never(t)}).Run(t.Context())
		if !errors.Is(err, pipeline.ErrManualInterventionRequired) {
			t.Errorf("next Run error = %v; want an issue", err)
		}
	})
}

func TestInterruptedChangeWithoutTransaction(t *testing.T) {
	t.Run("under recovery=manual it is an issue, and nothing runs", func(t *testing.T) {
		e := newEnv(t)
		fx := e.effects()
		crashAt(t, e.runner(t, e.target(), decl{id: "c1", order: 1, nonTx: true, apply: fx.leave("c1")}), crash.AfterApply)
		if diff := cmp.Diff([]string{"STARTED NON_TX"}, e.history(t, "c1")); diff != "" {
			t.Fatalf("c1 entries after the crash (-want +got):\n%s", diff)
		}

		res, err := e.runner(t, e.target(),
			decl{id: "c1", order: 1, nonTx: true, apply: never(t)},
			decl{id: "c2", order: 2, nonTx: true, apply: never(t)},
		).Run(t.Context())
		var issues *pipeline.IssuesError
		if !errors.As(err, &issues) || !errors.Is(err, pipeline.ErrManualInterventionRequired) {
			t.Fatalf("Run error = %v; want an *IssuesError", err)
		}
		if len(issues.Issues) != 1 || issues.Issues[0].ChangeID != "c1" || issues.Issues[0].Latest.State != audit.StateStarted {
			t.Errorf("issues = %+v; want c1, STARTED", issues.Issues)
		}
		if diff := cmp.Diff([]string{"c1=not run", "c2=not run"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if n := fx.count(t, "c1"); n != 1 {
			t.Errorf("c1 ran %d times; want once, before the crash", n)
		}
	})

	t.Run("under recovery=retry it is applied again", func(t *testing.T) {
		e := newEnv(t)
		fx := e.effects()
		c1 := decl{id: "c1", order: 1, nonTx: true, retry: true, apply: fx.leave("c1")}
		crashAt(t, e.runner(t, e.target(), c1), crash.AfterApply)

		res, err := e.runner(t, e.target(), c1).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c1=applied"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"STARTED NON_TX", "STARTED NON_TX", "APPLIED NON_TX"}, e.history(t, "c1")); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
		if n := fx.count(t, "c1"); n != 2 {
			t.Errorf("c1 ran %d times; want twice", n)
		}
	})
}

func TestInterruptedChangeInSeparateTransaction(t *testing.T) {
	// The run is stopped after STARTED, before the change began: what the
	// next run finds then is what a crash anywhere between STARTED and
	// APPLIED leaves, with the marker there or not depending on whether the
	// transaction committed. The marker is written here by hand, as a
	// committed transaction leaves it (the server may have no transactions).
	interrupted := func(t *testing.T) (*env, string) {
		t.Helper()
		e := newEnv(t)
		tg := e.target()
		tg.AssumeTransactions()
		crashAt(t, e.runner(t, tg, decl{id: "c1", order: 1, apply: never(t)}), crash.AfterStarted)
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX"}, e.history(t, "c1")); diff != "" {
			t.Fatalf("c1 entries after the crash (-want +got):\n%s", diff)
		}
		return e, e.latestExecution(t, "c1")
	}
	key := audit.Key{Stage: "s1", ChangeID: "c1"}

	t.Run("its marker proves the commit: APPLIED is recorded without running it again, and the marker is cleared", func(t *testing.T) {
		e, exec := interrupted(t)
		tg := e.target()
		tg.AssumeTransactions()
		if err := tg.WriteMarkerOutsideTx(t.Context(), pipeline.Marker{Key: key, ExecutionID: exec}); err != nil {
			t.Fatal(err)
		}
		res, err := e.runner(t, tg, decl{id: "c1", order: 1, apply: never(t)}).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c1=recovered"}, statuses(res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"STARTED SEPARATE_TX", "APPLIED SEPARATE_TX"}, e.history(t, "c1")); diff != "" {
			t.Errorf("c1 entries (-want +got):\n%s", diff)
		}
		if ok, err := tg.HasMarker(t.Context(), pipeline.Marker{Key: key, ExecutionID: exec}); err != nil || ok {
			t.Errorf("HasMarker after recovery = %v, %v; want the marker cleared", ok, err)
		}
	})

	tests := []struct {
		name   string
		marker string // execution id of a marker to write; empty for none
		nonTx  bool   // the change is now declared transactional=false
		want   pipeline.Action
		reason string
	}{
		{"without its marker the transaction did not commit, so the change is applied again",
			"", false, pipeline.ActionApply, `no marker in target "appdb", so its transaction did not commit`},
		{"another execution's marker proves nothing, so the change is applied again",
			"another-execution", false, pipeline.ActionApply, `no marker in target "appdb", so its transaction did not commit`},
		{"once the change is declared transactional=false nothing can tell, so under recovery=manual it is an issue",
			"", true, pipeline.ActionIssue, "no longer keeps markers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, exec := interrupted(t)
			tg := e.target()
			tg.AssumeTransactions()
			if tt.marker != "" {
				if err := tg.WriteMarkerOutsideTx(t.Context(), pipeline.Marker{Key: key, ExecutionID: tt.marker}); err != nil {
					t.Fatal(err)
				}
			} else if tt.nonTx {
				// Even a marker of the very execution would not be read.
				if err := tg.WriteMarkerOutsideTx(t.Context(), pipeline.Marker{Key: key, ExecutionID: exec}); err != nil {
					t.Fatal(err)
				}
			}
			p, err := e.runner(t, tg, decl{id: "c1", order: 1, nonTx: tt.nonTx, apply: never(t)}).Plan(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Changes[0]; got.Action != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("plan of c1: %s (%s); want %s, saying %q", got.Action, got.Reason, tt.want, tt.reason)
			}
		})
	}
}
