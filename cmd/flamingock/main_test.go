package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rogpeppe/go-internal/testscript"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/mysqltest"
	"github.com/flamingock/flamingock-go/internal/scriptcmd"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"flamingock": main,
		"deploy":     deployMain,
		"seed":       seedMain,
		"holdlock":   holdLockMain,
	})
}

// TestScripts runs testdata/script/*.txtar against a SQLite store and, when
// FLAMINGOCK_TEST_POSTGRES, FLAMINGOCK_TEST_MONGO and FLAMINGOCK_TEST_MYSQL
// are set, against PostgreSQL, MongoDB and MySQL, each script on a store of
// its own (a file, a schema, a database; on MySQL a database created on the
// server for the script). The scripts see the store in FLAMINGOCK_STORE (and
// FLAMINGOCK_SCHEMA), and in STORE_ARGS the global flags the CLI prints in
// the commands it suggests. Set FLAMINGOCK_UPDATE_SCRIPTS=1 to rewrite the
// scripts' expected files from what the commands print.
func TestScripts(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testscript.Run(t, scriptParams("sqlite", func(e *testscript.Env) error {
			url := "sqlite:" + filepath.Join(e.WorkDir, "audit.db")
			e.Setenv("FLAMINGOCK_STORE", url)
			e.Setenv("STORE_ARGS", storeArgs("--store", url))
			return nil
		}))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testenv.Postgres(t)
		admin, err := pgxpool.New(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(admin.Close)
		testscript.Run(t, scriptParams("postgres", func(e *testscript.Env) error {
			schema := "cli_" + strings.ToLower(rand.Text()[:12])
			e.Setenv("FLAMINGOCK_STORE", dsn)
			e.Setenv("FLAMINGOCK_SCHEMA", schema)
			e.Setenv("STORE_ARGS", storeArgs("--store", dsn, "--schema", schema))
			// The same store with passwords pgx takes as they are written
			// (the test server trusts loopback, so they are sent and
			// unused), and a database that does not exist.
			u, err := url.Parse(dsn)
			if err != nil {
				return fmt.Errorf("%s: the scripts need a URL: %v", dsn, err)
			}
			host := u.Host + u.EscapedPath()
			e.Setenv("SECRET_STORE", u.Scheme+"://"+u.User.Username()+":"+scriptPassword+"@"+host+"?"+u.RawQuery)
			e.Setenv("SECRET_QUERY_STORE", u.Scheme+"://"+u.User.Username()+"@"+host+"?"+u.RawQuery+"&password="+scriptPassword)
			e.Setenv("SECRET_MISSING_DB", u.Scheme+"://"+u.User.Username()+":"+scriptPassword+"@"+u.Host+"/no_such_db_flamingock?"+u.RawQuery)
			e.Defer(func() {
				if _, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
					e.T().Fatal(fmt.Sprintf("drop schema %s: %v", schema, err))
				}
			})
			return nil
		}))
	})
	t.Run("mongo", func(t *testing.T) {
		uri := testenv.Mongo(t)
		client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Disconnect(context.Background()) })
		testscript.Run(t, scriptParams("mongo", func(e *testscript.Env) error {
			database := "cli_" + strings.ToLower(rand.Text()[:12])
			base, query, _ := strings.Cut(uri, "?")
			url := strings.TrimSuffix(base, "/") + "/" + database
			if query != "" {
				url += "?" + query
			}
			e.Setenv("FLAMINGOCK_STORE", url)
			e.Setenv("STORE_ARGS", storeArgs("--store", url))
			e.Defer(func() {
				if err := client.Database(database).Drop(context.Background()); err != nil {
					e.T().Fatal(fmt.Sprintf("drop database %s: %v", database, err))
				}
			})
			return nil
		}))
	})
	t.Run("mysql", func(t *testing.T) {
		server := mysqltest.New(t)
		testscript.Run(t, scriptParams("mysql", func(e *testscript.Env) error {
			database, drop, err := server.Create(context.Background(), "cli_")
			if err != nil {
				return err
			}
			url := server.URL(database)
			e.Setenv("FLAMINGOCK_STORE", url)
			e.Setenv("STORE_ARGS", storeArgs("--store", url))
			// The same store with a password the server refuses (the
			// test server's user takes none), and a database that does
			// not exist.
			if server.User == "" {
				return fmt.Errorf("%s: the scripts need a user in the URL", server.URL(""))
			}
			user, _, _ := strings.Cut(server.User, ":")
			refused := mysqltest.Server{User: user + ":s3cretw0rd", Host: server.Host}
			e.Setenv("SECRET_STORE", refused.URL(database))
			e.Setenv("MISSING_DB", server.URL("no_such_db_flamingock"))
			e.Defer(func() {
				if err := drop(context.Background()); err != nil {
					e.T().Fatal(err.Error())
				}
			})
			return nil
		}))
	})
}

// scriptPassword is the password of the scripts' SECRET_ stores: it holds
// what ends a URL's user information, a query or a fragment for other
// parsers than pgx's, which takes it as written.
const scriptPassword = "pa#ss?w0rd"

// scriptParams runs the scripts on the store of kind (sqlite, postgres,
// mongo or mysql), which is also the condition that holds in them: [sqlite], …
func scriptParams(kind string, setup func(*testscript.Env) error) testscript.Params {
	return testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       os.Getenv("FLAMINGOCK_UPDATE_SCRIPTS") == "1",
		RequireExplicitExec: true,
		Setup:               setup,
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "sqlite", "postgres", "mongo", "mysql":
				return cond == kind, nil
			case "rodir": // a directory can be made read-only (readonly)
				return canMakeReadOnly(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":       scriptcmd.Exits,
			"json":        scriptcmd.JSON,
			"foreigndb":   cmdForeignDB,
			"journalmode": cmdJournalMode,
			"readonly":    cmdReadOnly,
			"storetables": cmdStoreTables,
			"createdb":    cmdCreateDB,
			"sleep":       scriptcmd.Sleep,
		},
	}
}

// storeArgs renders global flags as the CLI prints them in the commands it
// suggests, quoted by the same function.
func storeArgs(args ...string) string {
	cmd := audit.Resolutions("x", args...)[0].Command
	_, rendered, _ := strings.Cut(cmd, `"describe what you checked" `)
	return rendered
}
