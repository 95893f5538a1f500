package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/examples/mongo/changes"
	"github.com/flamingock/flamingock-go/generator"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

// withDatabase returns uri naming database db in its path, keeping its
// hosts and options.
func withDatabase(uri, db string) string {
	scheme, rest, _ := strings.Cut(uri, "://")
	hosts, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hosts, tail = rest[:i], rest[i:]
	}
	var query string
	if i := strings.Index(tail, "?"); i >= 0 {
		query = tail[i:]
	}
	return scheme + "://" + hosts + "/" + db + query
}

func TestMongoExampleAppliesEverythingOnceThenNothing(t *testing.T) {
	uri := testenv.Mongo(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	// FerretDB accepts only letters, digits, "_" and "-" in database names.
	name := "example_test_" + hex.EncodeToString(b[:])
	client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	db := client.Database(name)
	t.Cleanup(func() { // before the disconnection: cleanups run last first
		if err := db.Drop(context.Background()); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	url := withDatabase(uri, name)

	var first bytes.Buffer
	if err := run(t.Context(), url, &first); err != nil {
		t.Fatalf("first run: %v\n%s", err, &first)
	}
	if !strings.Contains(first.String(), "applied 3 change(s), 0 already applied") {
		t.Errorf("first run output:\n%s\nwant 3 applied", &first)
	}
	lines := strings.Split(first.String(), "\n")
	for _, id := range []string{"create-users", "import-users", "normalise-emails"} {
		if !slices.ContainsFunc(lines, func(l string) bool {
			f := strings.Fields(l)
			return len(f) > 2 && f[0] == "changes" && f[1] == id && f[2] == "APPLIED"
		}) {
			t.Errorf("first run summary lacks %s APPLIED:\n%s", id, &first)
		}
	}

	cur, err := db.Collection(changes.Users).Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
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
	if diff := cmp.Diff([]string{"ada.lovelace@example.com", "alan.turing@example.com", "grace.hopper@example.com"}, emails); diff != "" {
		t.Errorf("emails after the first run (-want +got):\n%s", diff)
	}
	specs, err := db.Collection(changes.Users).Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(specs, func(s mongodriver.IndexSpecification) bool {
		return s.Name == "email_unique" && s.Unique != nil && *s.Unique
	}) {
		t.Errorf("indexes of %s: %+v; want the unique email_unique", changes.Users, specs)
	}

	var second bytes.Buffer
	if err := run(t.Context(), url, &second); err != nil {
		t.Fatalf("second run: %v\n%s", err, &second)
	}
	if !strings.Contains(second.String(), "applied 0 change(s), 3 already applied") {
		t.Errorf("second run output:\n%s\nwant nothing applied", &second)
	}
}

func TestMongoExampleRefusesAStoreItCannotRunOn(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"no store at all", "", "pass --store or set FLAMINGOCK_STORE"},
		{"a SQLite store", "sqlite:app.db", `store "sqlite:app.db": the MongoDB example needs a mongodb:// or mongodb+srv:// URL`},
		{"a PostgreSQL store, named without its password", "postgres://app:secret@localhost/app",
			`store "postgres://app:xxxxx@localhost/app": the MongoDB example needs a mongodb:// or mongodb+srv:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.url, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v; want an error containing %q", tt.url, err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("run(%q) printed %q; want nothing", tt.url, &out)
			}
		})
	}
}

func TestMongoExampleRegistryIsUpToDate(t *testing.T) {
	res, err := generator.Generate(context.Background(), generator.Config{Dir: "changes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errs {
		t.Error(e.Format("."))
	}
	if t.Failed() {
		return
	}
	diff, err := res.Diff()
	if err != nil {
		t.Fatal(err)
	}
	if diff != nil {
		t.Errorf("changes/flamingock_gen.go or its ledger is stale: run go generate ./examples/...\n%s", diff)
	}
}
