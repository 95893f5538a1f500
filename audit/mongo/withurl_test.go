package mongo_test

import (
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
)

// TestNewWithURLNamesTheStoreForTheCLI: a store built on the
// application's client cannot know the URI the client connected with;
// WithURL tells it, so that the resolution commands the runtime prints
// reach the same database, without the password.
func TestNewWithURLNamesTheStoreForTheCLI(t *testing.T) {
	srv := newServer(t)
	name := srv.database(t)
	db := srv.admin.Database(name)

	without, err := mongo.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if got := without.Locator(); got.URL != "" {
		t.Errorf("New without WithURL: Locator().URL = %q, want empty (the CLI then shows STORE_URL to replace)", got.URL)
	}

	store, err := mongo.New(t.Context(), db, mongo.WithURL("mongodb://app:s3cret@db1:27017,db2:27017/admin?replicaSet=rs0"))
	if err != nil {
		t.Fatal(err)
	}
	got := store.Locator()
	if strings.Contains(got.URL, "s3cret") {
		t.Fatalf("Locator().URL = %q holds the password", got.URL)
	}
	want := "mongodb://app:xxxxx@db1:27017,db2:27017/" + name + "?replicaSet=rs0&authSource=admin"
	if got.URL != want {
		t.Errorf("Locator().URL = %q, want %q (the store's database, the user authenticating where it did)", got.URL, want)
	}
	if args := got.Args(audit.DefaultLockKey); args[0] != "--store" || args[1] != want {
		t.Errorf("Args = %q", args)
	}
}

func TestWithURLIsRefused(t *testing.T) {
	srv := newServer(t)
	db := srv.admin.Database(srv.database(t))
	for _, tt := range []struct {
		name, uri, want string
	}{
		{"not a MongoDB URI", "postgres://db/app", `mongo: new: WithURL: invalid URI: it must start with "mongodb://" or "mongodb+srv://"`},
		{"empty", "", `mongo: new: WithURL: invalid URI: it must start with "mongodb://" or "mongodb+srv://"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := mongo.New(t.Context(), db, mongo.WithURL(tt.uri)); err == nil || err.Error() != tt.want {
				t.Errorf("New error = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := mongo.Open(t.Context(), srv.uri, mongo.WithURL(srv.uri)); err == nil || !strings.Contains(err.Error(), "WithURL applies to New only") {
		t.Errorf("Open with WithURL: error = %v, want it refused", err)
	}
}
