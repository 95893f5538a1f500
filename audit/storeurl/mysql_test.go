package storeurl_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"strings"
	"testing"

	driver "github.com/go-sql-driver/mysql"

	"github.com/flamingock/flamingock-go/internal/testenv"
)

// mysqlURL returns the store URL of a database of its own on the MySQL
// server of FLAMINGOCK_TEST_MYSQL (mysql://root@127.0.0.1:3306/test),
// dropped when t ends; it skips t without one (fails it when
// FLAMINGOCK_REQUIRE_SERVICES=1).
func mysqlURL(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("FLAMINGOCK_TEST_MYSQL")
	if raw == "" {
		if os.Getenv(testenv.RequireServicesEnv) == "1" {
			t.Fatalf("MySQL is required (%s=1) but FLAMINGOCK_TEST_MYSQL is not set", testenv.RequireServicesEnv)
		}
		t.Skip("MySQL not configured: set FLAMINGOCK_TEST_MYSQL to run this test")
	}
	base, ok := strings.CutPrefix(raw, "mysql://")
	if !ok {
		t.Fatalf("FLAMINGOCK_TEST_MYSQL=%q: want mysql://user@host:port/db", raw)
	}
	userHost, _, _ := strings.Cut(base, "/")
	name := "storeurl_" + strings.ToLower(rand.Text()[:10])
	admin := mysqlAdmin(t, "mysql://"+userHost+"/")
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return "mysql://" + userHost + "/" + name
}

// mysqlAdmin opens a handle on the database of the store URL url, closed
// when t ends.
func mysqlAdmin(t *testing.T, url string) *sql.DB {
	t.Helper()
	userHost, db, _ := strings.Cut(strings.TrimPrefix(url, "mysql://"), "/")
	user, host, ok := strings.Cut(userHost, "@")
	if !ok {
		user, host = "", userHost
	}
	cfg := driver.NewConfig()
	cfg.User, cfg.Passwd, _ = strings.Cut(user, ":")
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", host, db
	h, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
