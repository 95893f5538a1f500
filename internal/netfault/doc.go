// Package netfault holds the network-fault tests of flamingock-go (issue 4,
// item 3): the runtime, the PostgreSQL audit store and pgxtarget talk to the
// test server through internal/faultproxy, which cuts their connections
// mid-change, at COMMIT (before the server sees it, and after it committed
// but before the client hears back), during audit writes and during lease
// refreshes. After each fault the pipeline runs again through the same
// proxy, and the tests check that it reaches the state DESIGN §6 requires:
// the audit row decides in a shared transaction, the marker in a separate
// one, an issue (recovery manual) otherwise; side effects are counted in a
// table without a unique constraint, so a change applied twice shows.
//
// The MySQL store's connections go through faultproxy.NewMySQL, which
// reads the MySQL client protocol, its DSN naming the proxy's port: connections cut
// mid-change, during audit writes (STARTED and APPLIED, before the server
// sees them and after it stored them), during the snapshot read and
// during lease refreshes, and every connection at once while a change is
// inside its body: changes without a transaction there
// (mysql_test.go).
//
// The MySQL target (mysqltarget_test.go) is cut the same way, both ways it
// runs a transactional change: sqltarget.Shared(store), the change and its
// entries in one transaction of the proxied store's *sql.DB, and
// sqltarget.New(db, sqltarget.WithMySQL()), db proxied too, with markers.
// Each runs a change of DML alone and a change that runs DDL first, whose
// implicit commit makes its STARTED entry (or its begun marker) durable.
// The connection is cut at the STARTED append inside the transaction (and
// at the STARTED entry before it, with markers), at the begun marker, at
// the DDL (before the server ran it and after), inside the change after
// the DDL, at the probe after the change (the read of the trail, or of the
// begun marker, that tells whether the database committed by itself), at
// the marker, at the APPLIED append and at COMMIT. The run after the cut,
// under recovery manual and retry, must find the truth, counted on the
// server through a connection of its own: applied exactly once, or pending
// and then applied once, or an issue when the change partly committed
// (after its DDL); never APPLIED for a change that did not commit, never a
// silent second run of one that did.
//
// The package has tests only; they need FLAMINGOCK_TEST_POSTGRES and
// FLAMINGOCK_TEST_MYSQL.
package netfault
