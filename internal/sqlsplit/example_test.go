package sqlsplit_test

import (
	"fmt"

	"github.com/flamingock/flamingock-go/internal/sqlsplit"
)

func ExampleSplit() {
	src := `-- create the table
CREATE TABLE t (a text);
INSERT INTO t VALUES ('x;y');
CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
CREATE INDEX CONCURRENTLY t_a ON t (a)`
	stmts, err := sqlsplit.Split(src, sqlsplit.PostgreSQL)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range stmts {
		reason, noTx := sqlsplit.NoTransaction(s, sqlsplit.PostgreSQL)
		fmt.Printf("%d:%d %s (no transaction: %v %s)\n", s.Line, s.Col, s.SQL, noTx, reason)
	}
	// Output:
	// 2:1 CREATE TABLE t (a text) (no transaction: false )
	// 3:1 INSERT INTO t VALUES ('x;y') (no transaction: false )
	// 4:1 CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql (no transaction: false )
	// 5:1 CREATE INDEX CONCURRENTLY t_a ON t (a) (no transaction: true CREATE INDEX CONCURRENTLY cannot run inside a transaction block)
}

func ExampleSplit_error() {
	_, err := sqlsplit.Split("SELECT 1;\nSELECT 'oops;", sqlsplit.SQLite)
	fmt.Println(err)
	// Output:
	// 2:8: unterminated string literal
}
