package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/flamingock/flamingock-go/internal/mysqltest"
	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"
	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	_ "modernc.org/sqlite"
)

// The scripts' commands that look at a store behind the CLI's back, to
// show that the read commands leave it as it was.

// cmdForeignDB creates another application's SQLite database, in the
// rollback journal mode SQLite starts with:
//
//	foreigndb other.db
func cmdForeignDB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: foreigndb FILE")
	}
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	for _, stmt := range []string{
		`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`INSERT INTO customers (name) VALUES ('ada'), ('grace')`,
	} {
		_, err := db.Exec(stmt)
		ts.Check(err)
	}
}

// cmdJournalMode checks the journal mode of a SQLite database, read
// without changing it:
//
//	journalmode other.db delete
func cmdJournalMode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: journalmode FILE MODE")
	}
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?mode=ro")
	ts.Check(err)
	defer db.Close()
	var mode string
	ts.Check(db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	if mode != args[1] {
		ts.Fatalf("journal mode of %s is %s, want %s", args[0], mode, args[1])
	}
}

// cmdReadOnly makes a directory read-only for the rest of the script: as
// root, where permissions do not apply, it also marks it immutable
// (chattr +i). Scripts check the condition [rodir] first.
//
//	readonly dir
func cmdReadOnly(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: readonly DIR")
	}
	dir := ts.MkAbs(args[0])
	undo, err := makeReadOnly(dir)
	ts.Defer(undo)
	ts.Check(err)
}

// makeReadOnly makes dir read-only and returns what undoes it.
func makeReadOnly(dir string) (undo func(), err error) {
	var undos []func()
	undo = func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		return undo, err
	}
	undos = append(undos, func() { os.Chmod(dir, 0o755) })
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			return undo, fmt.Errorf("as root, chattr +i %s: %v: %s", dir, err, out)
		}
		undos = append(undos, func() { exec.Command("chattr", "-i", dir).Run() })
	}
	probe := filepath.Join(dir, ".probe")
	if f, err := os.Create(probe); err == nil {
		f.Close()
		os.Remove(probe)
		return undo, fmt.Errorf("%s is still writable", dir)
	}
	return undo, nil
}

// canMakeReadOnly reports whether makeReadOnly works here: the condition
// [rodir].
var canMakeReadOnly = sync.OnceValue(func() bool {
	dir, err := os.MkdirTemp("", "rodir")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	undo, err := makeReadOnly(dir)
	undo()
	return err == nil
})

// cmdStoreTables checks whether the store in FLAMINGOCK_STORE (and
// FLAMINGOCK_SCHEMA) holds any of the store's tables (SQLite, PostgreSQL,
// MySQL) or collections (MongoDB), those named flamingock…:
//
//	storetables      there are some
//	! storetables    there are none (nor, on PostgreSQL, the schema)
func cmdStoreTables(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 0 {
		ts.Fatalf("usage: storetables")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store := ts.Getenv("FLAMINGOCK_STORE")
	var found []string
	switch {
	case strings.HasPrefix(store, "sqlite:"):
		path := strings.TrimPrefix(store, "sqlite:")
		if _, err := os.Stat(path); err != nil {
			break
		}
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		ts.Check(err)
		defer db.Close()
		rows, err := db.QueryContext(ctx, `SELECT "name" FROM sqlite_schema WHERE "name" LIKE 'flamingock%'`)
		found = names(ts, rows, err)
	case strings.HasPrefix(store, "postgres"):
		conn, err := pgx.Connect(ctx, store)
		ts.Check(err)
		defer conn.Close(context.Background())
		schema := ts.Getenv("FLAMINGOCK_SCHEMA")
		if schema == "" {
			schema = "public"
		}
		var rows []string
		err = conn.QueryRow(ctx, `SELECT coalesce(array_agg(relname::text), '{}') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND relname LIKE 'flamingock%'`, schema).Scan(&rows)
		ts.Check(err)
		found = rows
		var schemas int
		ts.Check(conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1 AND $1 <> 'public'`, schema).Scan(&schemas))
		if schemas > 0 {
			found = append(found, "schema "+schema)
		}
	case strings.HasPrefix(store, "mongodb"):
		client, err := mongodriver.Connect(options.Client().ApplyURI(store))
		ts.Check(err)
		defer client.Disconnect(context.Background())
		u, err := url.Parse(store)
		ts.Check(err)
		found, err = client.Database(strings.TrimPrefix(u.Path, "/")).ListCollectionNames(ctx, bson.D{})
		ts.Check(err)
	case strings.HasPrefix(store, "mysql://"):
		srv, err := mysqltest.Parse(store)
		ts.Check(err)
		db, err := sql.Open("mysql", srv.Config("").FormatDSN())
		ts.Check(err)
		defer db.Close()
		_, database, _ := strings.Cut(strings.TrimPrefix(store, "mysql://"), "/")
		database, _, _ = strings.Cut(database, "?")
		rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
			WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'flamingock%'`, database)
		found = names(ts, rows, err)
	default:
		ts.Fatalf("storetables: unknown store %s", store)
	}
	switch {
	case neg && len(found) > 0:
		ts.Fatalf("the store holds %s", strings.Join(found, ", "))
	case !neg && len(found) == 0:
		ts.Fatalf("the store holds none of its tables")
	}
	ts.Logf("store tables: %v", found)
}

func names(ts *testscript.TestScript, rows *sql.Rows, err error) []string {
	ts.Check(err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		ts.Check(rows.Scan(&n))
		out = append(out, n)
	}
	ts.Check(rows.Err())
	return out
}

// cmdCreateDB creates an empty PostgreSQL database on the server of
// FLAMINGOCK_STORE, dropped when the script ends, and sets VAR to its URL:
//
//	createdb OTHER_STORE
func cmdCreateDB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: createdb VAR")
	}
	ctx := context.Background()
	store := ts.Getenv("FLAMINGOCK_STORE")
	conn, err := pgx.Connect(ctx, store)
	ts.Check(err)
	defer conn.Close(ctx)
	name := "cli_other_" + strings.ToLower(rand.Text()[:10])
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	ts.Check(err)
	ts.Defer(func() {
		conn, err := pgx.Connect(ctx, store)
		if err == nil {
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
		if err != nil {
			ts.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(store)
	ts.Check(err)
	u.Path = "/" + name
	ts.Setenv(args[0], u.String())
}
