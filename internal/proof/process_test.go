package proof_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/internal/testenv"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runChild(cfg))
	}
	os.Exit(m.Run())
}

// patience bounds every wait of the tests: generous, since a loaded
// machine is slow, but finite, so that a hung child fails the test instead
// of hanging it.
const patience = 3 * time.Minute

// childPoolSize is each child's connection pool: one connection for the
// changes and audit writes, one for the lease refresher.
const childPoolSize = 2

// lockKey is the pipeline's lock key (the runner's default).
const lockKey = "flamingock"

// database is the test's own schema in the test database, or on MySQL
// the test's own database on the server (see newMySQLDatabase).
type database struct {
	dsn    string // of the test database; on MySQL, the store URL of the test's database
	tag    string // random, in the schema's name and the children's application_name
	schema string
	admin  *pgxpool.Pool
	// mysql is the administrator's handle on the test's MySQL database,
	// nil on PostgreSQL.
	mysql *sql.DB
}

// newDatabase creates the test's database on store (storePostgres or
// storeMySQL), with a counters table holding one row at zero for each of
// changes changes, and drops it when t ends. It skips (or fails) t without
// a configured server.
func newDatabase(t *testing.T, store string, changes int) *database {
	t.Helper()
	if store == storeMySQL {
		return newMySQLDatabase(t, changes)
	}
	return newPostgresDatabase(t, changes)
}

// newPostgresDatabase creates a schema for t, with a counters table holding
// one row at zero for each of changes changes, and drops it when t ends. It
// skips (or fails) t without a configured PostgreSQL.
func newPostgresDatabase(t *testing.T, changes int) *database {
	t.Helper()
	dsn := testenv.Postgres(t)
	adminDSN, err := withParams(dsn, "pool_max_conns", strconv.Itoa(childPoolSize))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgxpool.New(t.Context(), adminDSN)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(admin.Close)
	var tag [4]byte
	if _, err := rand.Read(tag[:]); err != nil {
		t.Fatal(err)
	}
	db := &database{dsn: dsn, tag: hex.EncodeToString(tag[:]), admin: admin}
	db.schema = schemaName(t, db.tag)
	schema := pgx.Identifier{db.schema}.Sanitize()
	db.exec(t, "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		// t.Context is done during cleanup. The children are dead by now:
		// their cleanups were registered later, so they ran first.
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", db.schema, err)
		}
	})
	// No unique constraint and no primary key: nothing but the lock keeps
	// a change from running twice.
	db.exec(t, "CREATE TABLE "+db.counters()+" (change text NOT NULL, n integer NOT NULL DEFAULT 0, runners text[] NOT NULL DEFAULT '{}')")
	db.exec(t, "INSERT INTO "+db.counters()+" (change) SELECT format('change-%s', lpad(i::text, 3, '0')) FROM generate_series(1, $1) AS i", changes)
	return db
}

func (db *database) counters() string { return pgx.Identifier{db.schema, countersTable}.Sanitize() }

func (db *database) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	var err error
	if db.mysql != nil {
		_, err = db.mysql.ExecContext(t.Context(), sql, args...)
	} else {
		_, err = db.admin.Exec(t.Context(), sql, args...)
	}
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// counts returns every counter as "n by runner,runner…" (just "0" when no
// change ran), by change.
func (db *database) counts(t *testing.T) map[string]string {
	t.Helper()
	if db.mysql != nil {
		return db.mysqlCounts(t)
	}
	rows, err := db.admin.Query(t.Context(), "SELECT change, n, runners FROM "+db.counters())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var (
			change  string
			n       int
			runners []string
		)
		if err := rows.Scan(&change, &n, &runners); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[change]; dup {
			t.Fatalf("two counter rows for %s", change)
		}
		got[change] = counted(n, runners...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// counted renders a counter as counts does.
func counted(n int, runners ...string) string {
	if n == 0 && len(runners) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d by %s", n, strings.Join(runners, ","))
}

// store opens the audit store of the test's schema on the admin pool, to
// read what the children left.
func (db *database) store(t *testing.T) audit.Store {
	t.Helper()
	if db.mysql != nil {
		return db.mysqlStore(t)
	}
	s, err := postgres.New(t.Context(), db.admin, postgres.WithSchema(db.schema))
	if err != nil {
		t.Fatalf("open the audit store: %v", err)
	}
	return s
}

// history returns the whole audit trail.
func history(t *testing.T, s audit.Store) []audit.Entry {
	t.Helper()
	h, err := s.History(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatalf("read the audit trail: %v", err)
	}
	return h
}

// trail returns the audit trail as "STATE by runner" entries, by change.
func trail(t *testing.T, s audit.Store) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for _, e := range history(t, s) {
		if e.Stage != stageName {
			t.Errorf("entry of unexpected stage: %+v", e)
		}
		got[e.ChangeID] = append(got[e.ChangeID], fmt.Sprintf("%s by %s", e.State, e.RunnerID))
	}
	return got
}

// childConfig returns the configuration of a child running, as runner,
// the test's pipeline of changes changes on target.
func (db *database) childConfig(t *testing.T, runner, target string, changes int, lease time.Duration) childConfig {
	t.Helper()
	if db.mysql != nil {
		return childConfig{
			Store: storeMySQL, DSN: db.dsn, Runner: runner, Changes: changes, Target: target,
			Lease: lease, LockWait: patience, LockPoll: 20 * time.Millisecond,
		}
	}
	// A small pool, so that 20 children stay far from max_connections,
	// and a name that pg_stat_activity shows.
	dsn, err := withParams(db.dsn, "pool_max_conns", strconv.Itoa(childPoolSize))
	if err == nil {
		dsn, err = withParams(dsn, "application_name", db.appName(runner))
	}
	if err != nil {
		t.Fatal(err)
	}
	return childConfig{
		DSN: dsn, Schema: db.schema, Runner: runner, Changes: changes, Target: target,
		Lease: lease, LockWait: patience, LockPoll: 20 * time.Millisecond,
	}
}

// appName is the application_name of runner's connections.
func (db *database) appName(runner string) string { return "proof-" + db.tag + "-" + runner }

// sessions describes the database sessions of the test's children, with
// what blocks them, for the message of a child that hangs.
func (db *database) sessions(t *testing.T) string {
	t.Helper()
	rows, err := db.admin.Query(context.Background(), `SELECT application_name, pid, state,
	coalesce(wait_event_type || ':' || wait_event, '-'), pg_blocking_pids(pid), left(regexp_replace(query, '\s+', ' ', 'g'), 100)
FROM pg_stat_activity WHERE application_name LIKE $1 ORDER BY application_name, pid`, "proof-"+db.tag+"-%")
	if err != nil {
		return fmt.Sprintf("(cannot read pg_stat_activity: %v)", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var (
			app, state, wait, query string
			pid                     int32
			blockers                []int32
		)
		if err := rows.Scan(&app, &pid, &state, &wait, &blockers, &query); err != nil {
			return fmt.Sprintf("(cannot read pg_stat_activity: %v)", err)
		}
		fmt.Fprintf(&b, "  %s pid %d: %s, waiting %s, blocked by %v: %s\n", app, pid, state, wait, blockers, query)
	}
	return b.String()
}

// waitLeaseExpired polls the lock until it is no longer held by the
// database's clock and returns what it last read.
func waitLeaseExpired(t *testing.T, s audit.Store) audit.LockInfo {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		info, err := s.Lock(t.Context(), lockKey)
		if err != nil {
			t.Fatalf("read the lock: %v", err)
		}
		if !info.Held() {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lease of %s (epoch %d) did not expire within %s", info.Owner, info.Epoch, patience)
		}
		// The database says when it expires; the local clock only paces
		// the polling, the decision is the database's.
		time.Sleep(min(info.ExpiresAt.Sub(info.Now)+10*time.Millisecond, time.Second))
	}
}

// withParams sets a parameter in a URL or keyword/value DSN. value must
// not need quoting.
func withParams(dsn, key, value string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("%s is not a valid URL: %w", testenv.PostgresEnv, err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " " + key + "=" + value, nil
}

// schemaName is a schema name that says which test left it.
func schemaName(t *testing.T, tag string) string {
	slug := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			return r
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, t.Name())
	if len(slug) > 40 {
		slug = slug[:40]
	}
	return "proof_" + slug + "_" + tag
}

// child is a child process: this test binary re-executed as a runner of
// the proof pipeline.
type child struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, closed at its end
	stderr *syncBuffer
	report *childReport // the "result" line, once read
	waited bool
}

// startChild starts a child with cfg. It is killed when t ends, if it is
// still running.
func startChild(t *testing.T, cfg childConfig) *child {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// TestMain runs the child before parsing flags; -test.run=^$ only
	// makes sure no test runs if it ever did not.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	c := &child{t: t, name: cfg.Runner, cmd: cmd, lines: make(chan string), stderr: &syncBuffer{}}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child %s: %v", c.name, err)
	}
	go func() {
		defer close(c.lines)
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if c.waited {
			return
		}
		_ = cmd.Process.Kill() // also ends a stopped process
		for range c.lines {
		}
		_ = cmd.Wait()
	})
	return c
}

// await reads the child's stdout until it says line.
func (c *child) await(line string) {
	c.t.Helper()
	timer := time.NewTimer(patience)
	defer timer.Stop()
	for {
		select {
		case got, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("%s ended without saying %q; its stderr:\n%s", c.name, line, c.stderr.tail())
			}
			if got == line {
				return
			}
			c.note(got)
		case <-timer.C:
			c.t.Fatalf("%s did not say %q within %s; its stderr:\n%s", c.name, line, patience, c.stderr.tail())
		}
	}
}

func (c *child) note(line string) {
	js, ok := strings.CutPrefix(line, "result ")
	if !ok {
		return
	}
	var r childReport
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		c.t.Errorf("%s printed a bad result line %q: %v", c.name, line, err)
		return
	}
	c.report = &r
}

// send writes line to the child's stdin: it goes on from where it waits.
func (c *child) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("write to %s: %v", c.name, err)
	}
}

// signal sends sig to the child.
func (c *child) signal(sig os.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v to %s: %v", sig, c.name, err)
	}
}

// exit is how a child ended.
type exit struct {
	code   int // -1 when killed by a signal
	report childReport
}

// wait reads the rest of the child's stdout, waits for it to exit and
// returns its exit code and report. It fails t when the child does not
// end in time or ends without a report.
func (c *child) wait() exit {
	c.t.Helper()
	return c.waitWithin(patience, nil)
}

// waitWithin is wait with a bound of its own. When the child does not end
// within it, the failure says what diagnose returns, if it is not nil.
func (c *child) waitWithin(bound time.Duration, diagnose func() string) exit {
	c.t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for open := true; open; {
		select {
		case line, ok := <-c.lines:
			if open = ok; ok {
				c.note(line)
			}
		case <-timer.C:
			why := ""
			if diagnose != nil {
				why = diagnose()
			}
			c.t.Fatalf("%s did not end within %s; %s\nits stderr:\n%s", c.name, bound, why, c.stderr.tail())
		}
	}
	err := c.cmd.Wait()
	c.waited = true
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.t.Fatalf("wait for %s: %v", c.name, err)
	}
	if c.report == nil {
		c.t.Fatalf("%s exited with code %d without a result; its stderr:\n%s",
			c.name, c.cmd.ProcessState.ExitCode(), c.stderr.tail())
	}
	return exit{code: c.cmd.ProcessState.ExitCode(), report: *c.report}
}

// syncBuffer is the stderr of a child, read while the child writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last lines written, enough to see why a child failed
// without drowning the test log.
func (b *syncBuffer) tail() string {
	const max = 4 << 10
	s := b.String()
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}
