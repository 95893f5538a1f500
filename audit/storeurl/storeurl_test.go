package storeurl_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/audit/storeurl"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"a SQLite URL is kept", "sqlite:/var/lib/app.db", "sqlite:/var/lib/app.db"},
		{"a URL without a password is kept", "postgres://ops@db:5432/app?sslmode=require", "postgres://ops@db:5432/app?sslmode=require"},
		{"the password of the user information is hidden", "postgres://ops:s3cret@db:5432/app", "postgres://ops:xxxxx@db:5432/app"},
		{"a password holding @ and : is hidden whole", "postgresql://ops:p@ss:w@db/app", "postgresql://ops:xxxxx@db/app"},
		{"secret parameters are hidden, the others kept in order", "postgres://db/app?sslmode=verify-full&password=s3cret&sslpassword=k3y&application_name=x",
			"postgres://db/app?sslmode=verify-full&password=xxxxx&sslpassword=xxxxx&application_name=x"},
		{"MongoDB secrets in options are hidden", "mongodb://ops:s3cret@h1:27017,h2:27017/app?replicaSet=rs0&authMechanismProperties=AWS_SESSION_TOKEN:t0k&tlsCertificateKeyFilePassword=k3y",
			"mongodb://ops:xxxxx@h1:27017,h2:27017/app?replicaSet=rs0&authMechanismProperties=xxxxx&tlsCertificateKeyFilePassword=xxxxx"},
		{"a URL with only a host is kept", "mongodb+srv://cluster.example.com", "mongodb+srv://cluster.example.com"},
		{"a password with an unencoded # is hidden whole", "postgres://ops:pa#ss@db/app?sslmode=disable", "postgres://ops:xxxxx@db/app?sslmode=disable"},
		{"a password with an unencoded ? is hidden whole", "postgres://ops:pa?ss=w@db/app", "postgres://ops:xxxxx@db/app"},
		{"a password with an unencoded / is hidden whole", "postgres://ops:pa/ss@db/app", "postgres://ops:xxxxx@db/app"},
		{"a password parameter holding # is hidden whole", "postgres://ops@db/app?password=pa#ss&sslmode=disable", "postgres://ops@db/app?password=xxxxx&sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := storeurl.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		url     string
		opts    storeurl.Options
		wantErr error
		want    string
	}{
		{"an empty URL", "", storeurl.Options{}, storeurl.ErrInvalid, "name the audit store as sqlite:PATH, postgres://…, mysql://… or mongodb://…"},
		{"a file name without a scheme", "app.db", storeurl.Options{}, storeurl.ErrInvalid, "use sqlite:app.db for a SQLite file"},
		{"an unknown scheme, whose password stays hidden", "mssql://ops:s3cret@db/app", storeurl.Options{}, storeurl.ErrInvalid,
			`mssql://ops:xxxxx@db/app: unknown scheme "mssql": use sqlite:PATH, postgres://…, mysql://… or mongodb://…`},
		{"a schema for a MySQL store", "mysql://ops:s3cret@127.0.0.1:1/app", storeurl.Options{Schema: "ops"}, storeurl.ErrInvalid, "a MySQL store's database is the path of its URL"},
		{"a MySQL URL without a database", "mysql://ops:s3cret@127.0.0.1:1/", storeurl.Options{}, nil, "no database: name it"},
		{"a schema for a MongoDB store", "mongodb://ops:s3cret@127.0.0.1:1/app", storeurl.Options{Schema: "ops"}, storeurl.ErrInvalid, "a MongoDB store's database is the path of its URI"},
		{"sqlite: without a path", "sqlite:", storeurl.Options{}, storeurl.ErrInvalid, "no path: write sqlite:PATH"},
		{"sqlite:// with a host", "sqlite://app.db", storeurl.Options{}, storeurl.ErrInvalid, "not sqlite://"},
		{"a schema for a SQLite store", "sqlite:" + filepath.Join(dir, "a.db"), storeurl.Options{Schema: "ops"}, storeurl.ErrInvalid, "a schema applies to PostgreSQL stores only"},
		{"a SQLite file that does not exist, when it must", "sqlite:" + filepath.Join(dir, "missing.db"), storeurl.Options{Existing: true}, fs.ErrNotExist, "check the path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := storeurl.Open(t.Context(), tt.url, tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tt.url)
			}
			if (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) = %v, want an error matching %v that says %q", tt.url, err, tt.wantErr, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open(%q) error shows the password: %v", tt.url, err)
			}
		})
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		t.Errorf("refused Opens left files in %s: %v %v", dir, entries, err)
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	for _, url := range []string{"sqlite:" + path, "sqlite://" + path} {
		t.Run(url, func(t *testing.T) {
			s, err := storeurl.Open(t.Context(), url, storeurl.Options{TablePrefix: "ops"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, want := fmt.Sprint(s), "sqlite:"+path; got != want {
				t.Errorf("store is %s, want %s", got, want)
			}
		})
	}
	t.Run("the table prefix reaches the store", func(t *testing.T) {
		// Tables of another shape under the default prefix do not matter
		// to a store with its own prefix, and an invalid prefix is refused
		// by the store.
		s, err := storeurl.Open(t.Context(), "sqlite:"+path, storeurl.Options{TablePrefix: "bad prefix"})
		if err == nil {
			s.Close()
			t.Fatal("Open with an invalid table prefix succeeded")
		}
		if !strings.Contains(err.Error(), `invalid table prefix "bad prefix"`) {
			t.Errorf("Open with an invalid table prefix: %v", err)
		}
	})
	t.Run("an existing file opens when it must exist", func(t *testing.T) {
		s, err := storeurl.Open(t.Context(), "sqlite:"+path, storeurl.Options{TablePrefix: "ops", Existing: true})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
}

func TestOpenHidesThePasswordOfAnUnreachableServer(t *testing.T) {
	// Nothing listens on port 1 of the loopback interface. A store may
	// connect when it opens or at its first operation.
	for _, url := range []string{
		"postgres://ops:s3cret-Pa55@127.0.0.1:1/app?sslmode=disable&connect_timeout=5",
		"mongodb://ops:s3cret-Pa55@127.0.0.1:1/app?serverSelectionTimeoutMS=500",
	} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			s, err := storeurl.Open(ctx, url, storeurl.Options{})
			if err == nil {
				defer s.Close()
				if strings.Contains(fmt.Sprint(s), "s3cret-Pa55") {
					t.Errorf("store is named %s, with its password", s)
				}
				_, err = s.Snapshot(ctx)
			}
			if err == nil {
				t.Fatal("a store on an unreachable server answered")
			}
			t.Log(err)
			if strings.Contains(err.Error(), "s3cret-Pa55") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestOpenRefusesAPasswordThatEndsTheUserInformationEarly(t *testing.T) {
	// Drivers read these as other hosts or databases, and would print them.
	for _, url := range []string{
		"postgres://ops:pa/ss-w0rd@127.0.0.1:1/app?sslmode=disable",
		"postgres://ops:p@ss-w0rd@127.0.0.1:1/app?sslmode=disable",
		"mongodb://ops:p@ss-w0rd@127.0.0.1:1/app?serverSelectionTimeoutMS=1",
		"mongodb://ops:pa/ss-w0rd@127.0.0.1:1/app?serverSelectionTimeoutMS=1",
	} {
		s, err := storeurl.Open(t.Context(), url, storeurl.Options{})
		if err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded", url)
		}
		if !strings.Contains(err.Error(), "percent-encode") && !strings.Contains(err.Error(), "not percent-encoded") {
			t.Errorf("Open(%q) = %v, want it to ask for the password to be percent-encoded", url, err)
		}
		if strings.Contains(err.Error(), "ss-w0rd") {
			t.Errorf("Open(%q) error shows the password: %v", url, err)
		}
	}
}

func TestOpenPostgres(t *testing.T) {
	dsn := testenv.Postgres(t)
	admin, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close) // after the schema is dropped
	schema := "storeurl_" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	s, err := storeurl.Open(t.Context(), dsn, storeurl.Options{Schema: schema, TablePrefix: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	var owner string
	if err := admin.QueryRow(t.Context(), "SELECT owner FROM "+pgx.Identifier{schema, "ops_lock"}.Sanitize()).Scan(&owner); err != nil || owner != "runner-a" {
		t.Errorf("lock row in %s.ops_lock: owner %q, %v; want runner-a", schema, owner, err)
	}
}

func TestOpenMySQL(t *testing.T) {
	url := mysqlURL(t)
	s, err := storeurl.Open(t.Context(), url, storeurl.Options{TablePrefix: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	var owner string
	if err := mysqlAdmin(t, url).QueryRowContext(t.Context(), "SELECT owner FROM ops_lock").Scan(&owner); err != nil || owner != "runner-a" {
		t.Errorf("lock row in ops_lock: owner %q, %v; want runner-a", owner, err)
	}
}

func TestOpenMongo(t *testing.T) {
	uri := testenv.Mongo(t)
	base, query, _ := strings.Cut(uri, "?")
	database := "storeurl_" + strings.ToLower(rand.Text()[:10])
	url := strings.TrimSuffix(base, "/") + "/" + database
	if query != "" {
		url += "?" + query
	}
	client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if err := client.Database(database).Drop(ctx); err != nil {
			t.Errorf("drop database %s: %v", database, err)
		}
		client.Disconnect(ctx)
	})
	s, err := storeurl.Open(t.Context(), url, storeurl.Options{TablePrefix: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Acquire(t.Context(), "k", "runner-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	names, err := client.Database(database).ListCollectionNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "ops_audit") {
		t.Errorf("collections of %s: %v, want ops_audit", database, names)
	}
}

func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("a database without a trail is not an audit store", func(t *testing.T) {
		_, err := storeurl.Open(t.Context(), "sqlite:"+empty, storeurl.Options{ReadOnly: true})
		if !errors.Is(err, storeurl.ErrNotStore) {
			t.Fatalf("Open = %v, want an error matching ErrNotStore", err)
		}
		want := "sqlite:" + empty + ` is not an audit store: the database has no table "flamingock_audit": check the path and the table prefix`
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Open = %v, want it to start %q", err, want)
		}
		if b, err := os.ReadFile(empty); err != nil || len(b) != 0 {
			t.Errorf("Open wrote %d bytes into the empty file (%v)", len(b), err)
		}
	})
	t.Run("a path that does not exist is not created", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.db")
		if _, err := storeurl.Open(t.Context(), "sqlite:"+missing, storeurl.Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open = %v, want an error matching fs.ErrNotExist", err)
		}
		if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open created %s", missing)
		}
	})
	t.Run("a store reads", func(t *testing.T) {
		path := filepath.Join(dir, "audit.db")
		w, err := storeurl.Open(t.Context(), "sqlite:"+path, storeurl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		r, err := storeurl.Open(t.Context(), "sqlite:"+path, storeurl.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if latest, err := r.Snapshot(t.Context()); err != nil || len(latest) != 0 {
			t.Errorf("Snapshot of an empty store = %v, %v", latest, err)
		}
	})
	t.Run("a MySQL database without the tables", func(t *testing.T) {
		url := mysqlURL(t)
		_, err := storeurl.Open(t.Context(), url, storeurl.Options{ReadOnly: true})
		if !errors.Is(err, storeurl.ErrNotStore) || !errors.Is(err, mysql.ErrNotStore) {
			t.Fatalf("Open = %v, want an error matching ErrNotStore", err)
		}
		if want := url + " is not an audit store: the database has no table `flamingock_audit`"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Open = %v, want it to start %q", err, want)
		}
		var tables int
		if err := mysqlAdmin(t, url).QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables); err != nil || tables != 0 {
			t.Errorf("a read-only Open left %d tables (%v)", tables, err)
		}
	})
	t.Run("a PostgreSQL schema without the tables, its password hidden", func(t *testing.T) {
		dsn := testenv.Postgres(t)
		scheme, rest, _ := strings.Cut(dsn, "://")
		user, host, ok := strings.Cut(rest, "@")
		if !ok {
			t.Skipf("%s has no user information", dsn)
		}
		withPassword := scheme + "://" + strings.SplitN(user, ":", 2)[0] + ":pa#ss?w0rd@" + host
		schema := "storeurl_ro_" + strings.ToLower(rand.Text()[:10])
		_, err := storeurl.Open(t.Context(), withPassword, storeurl.Options{Schema: schema, ReadOnly: true})
		if !errors.Is(err, storeurl.ErrNotStore) || !errors.Is(err, postgres.ErrNotStore) {
			t.Fatalf("Open = %v, want an error matching ErrNotStore", err)
		}
		if strings.Contains(err.Error(), "w0rd") || !strings.Contains(err.Error(), ":xxxxx@") {
			t.Errorf("Open = %v, want the store named without its password", err)
		}
	})
}

// TestLocatorsRoundTrip opens every store through Open, with and without
// the options its URL does not carry, and checks that its Locator opens
// the same trail and lock again: what resolution commands print reaches
// the tables the application writes to.
func TestLocatorsRoundTrip(t *testing.T) {
	type store struct {
		name string
		url  func(t *testing.T) string
		opts storeurl.Options
		want audit.Locator // URL "" for the url itself
	}
	sqliteURL := func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "audit.db") }
	pgSchema := func(t *testing.T) string {
		dsn := testenv.Postgres(t)
		admin, err := pgxpool.New(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		schema := "storeurl_loc_" + strings.ToLower(rand.Text()[:10])
		t.Cleanup(func() {
			defer admin.Close()
			if _, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
		return schema
	}
	mongoURL := func(t *testing.T) string {
		uri := testenv.Mongo(t)
		base, query, _ := strings.Cut(uri, "?")
		database := "storeurl_loc_" + strings.ToLower(rand.Text()[:10])
		url := strings.TrimSuffix(base, "/") + "/" + database
		if query != "" {
			url += "?" + query
		}
		t.Cleanup(func() {
			client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
			if err != nil {
				t.Error(err)
				return
			}
			defer client.Disconnect(context.Background())
			if err := client.Database(database).Drop(context.Background()); err != nil {
				t.Errorf("drop database %s: %v", database, err)
			}
		})
		return url
	}
	tests := []store{
		{"sqlite, default tables", sqliteURL, storeurl.Options{}, audit.Locator{}},
		{"sqlite, a table prefix", sqliteURL, storeurl.Options{TablePrefix: "billing"}, audit.Locator{TablePrefix: "billing"}},
		{"sqlite, the default prefix named", sqliteURL, storeurl.Options{TablePrefix: "flamingock"}, audit.Locator{}},
		{"postgres, default tables", func(t *testing.T) string { return testenv.Postgres(t) }, storeurl.Options{}, audit.Locator{}},
		{"mysql, default tables", mysqlURL, storeurl.Options{}, audit.Locator{}},
		{"mysql, a table prefix", mysqlURL, storeurl.Options{TablePrefix: "billing"}, audit.Locator{TablePrefix: "billing"}},
		{"mongo, default collection", mongoURL, storeurl.Options{}, audit.Locator{}},
		{"mongo, a collection prefix", mongoURL, storeurl.Options{TablePrefix: "billing"}, audit.Locator{TablePrefix: "billing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			s, err := storeurl.Open(t.Context(), url, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if tt.want.URL == "" {
				tt.want.URL = storeurl.Redact(url)
			}
			checkRoundTrip(t, s, tt.want)
		})
	}
	t.Run("postgres, a schema and a table prefix", func(t *testing.T) {
		schema := pgSchema(t)
		dsn := testenv.Postgres(t)
		s, err := storeurl.Open(t.Context(), dsn, storeurl.Options{Schema: schema, TablePrefix: "billing"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		checkRoundTrip(t, s, audit.Locator{URL: storeurl.Redact(dsn), Schema: schema, TablePrefix: "billing"})
	})
	t.Run("sqlite, a database the application opened", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.db")
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s, err := sqlite.New(t.Context(), db, sqlite.WithTablePrefix("billing"))
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, s, audit.Locator{URL: "sqlite:" + path, TablePrefix: "billing"})
	})
	t.Run("postgres, a pool the application opened", func(t *testing.T) {
		schema := pgSchema(t)
		dsn := testenv.Postgres(t)
		pool, err := pgxpool.New(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		s, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		checkRoundTrip(t, s, audit.Locator{URL: storeurl.Redact(dsn), Schema: schema})
	})
	t.Run("mongo, WithDatabase", func(t *testing.T) {
		url := mongoURL(t) // its database is dropped at the end
		base, _, _ := strings.Cut(url, "?")
		database := base[strings.LastIndex(base, "/")+1:]
		s, err := mongo.Open(t.Context(), testenv.Mongo(t), mongo.WithDatabase(database), mongo.WithCollectionPrefix("billing"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		checkRoundTrip(t, s, audit.Locator{URL: storeurl.Redact(url), TablePrefix: "billing"})
	})
}

// checkRoundTrip checks that s's Locator is want and reaches s's lock
// through storeurl.Open.
func checkRoundTrip(t *testing.T, s audit.Store, want audit.Locator) {
	t.Helper()
	// The default tables of a server are shared with other tests: a lock
	// key of its own, released at the end.
	key, owner := "locator-"+rand.Text()[:8], "runner-"+rand.Text()[:8]
	lease, err := s.Acquire(t.Context(), key, owner, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release(context.Background(), lease)
	loc := audit.Extend(s).Locator()
	if loc != want {
		t.Errorf("Locator = %+v, want %+v", loc, want)
	}
	again, err := storeurl.Open(t.Context(), loc.URL, storeurl.Options{Schema: loc.Schema, TablePrefix: loc.TablePrefix, ReadOnly: true})
	if err != nil {
		t.Fatalf("open the Locator's store: %v", err)
	}
	defer again.Close()
	if info, err := again.Lock(t.Context(), key); err != nil || info.Owner != owner {
		t.Errorf("lock %s through the Locator %+v: %+v, %v; want it held by %s", key, loc, info, err, owner)
	}
}
