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
// inside its body. No MySQL target shares the store's transaction, so the
// MySQL cases are those of changes without a transaction.
//
// The package has tests only; they need FLAMINGOCK_TEST_POSTGRES and
// FLAMINGOCK_TEST_MYSQL.
package netfault
