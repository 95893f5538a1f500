package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// options are the command's flags.
type options struct {
	dsn     string
	runs    int
	part    string // "a", "b" or "ab"
	stmt    statementKind
	quick   bool
	startNs []int // part (a)
	applyN  int   // part (b)
	// files makes part (b)'s flamingock changes SQL files: goose's files,
	// read and split by generator/sqlfiles (as flamingock-gen does, untimed)
	// and run with sqlscript, as the generated code runs them.
	files bool
	// mysql is a DSN of scheme mysql://: MySQL or MariaDB, flamingock on
	// audit/mysql against goose (golang-migrate is not measured there).
	mysql bool
}

// run is the whole command; main only wires it to the process. Exit
// status: 0 whatever the targets say, 1 when the benchmark could not run
// (or a tool misbehaved), 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	rep, err := measure(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	rep.print(stdout)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{startNs: []int{100, 1000, 10000}, applyN: 1000}
	var stmt string
	fs.StringVar(&o.dsn, "dsn", os.Getenv("FLAMINGOCK_TEST_POSTGRES"), "PostgreSQL DSN, or mysql://user@host:3306/db for MySQL or MariaDB; its user must be allowed to create databases (default $FLAMINGOCK_TEST_POSTGRES)")
	fs.IntVar(&o.runs, "runs", 5, "timed rounds per cell; the median is reported")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: N = 100 for both parts, 3 rounds (unless -apply-n or -runs is given)")
	fs.StringVar(&o.part, "part", "ab", "parts to run: a (start with nothing pending), b (apply N changes) or ab")
	fs.StringVar(&stmt, "stmt", string(insert), "statement of each change in part b: insert or create-table")
	fs.IntVar(&o.applyN, "apply-n", o.applyN, "N of part b: how many changes each tool applies")
	fs.BoolVar(&o.files, "files", false, "part b: flamingock runs goose's SQL files as SQL-file changes, as flamingock-gen generates them")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		o.startNs = []int{100}
		if !set["apply-n"] {
			o.applyN = 100
		}
		if !set["runs"] {
			o.runs = 3
		}
	}
	o.stmt = statementKind(stmt)
	o.mysql = isMySQL(o.dsn)
	switch {
	case o.dsn == "":
		return options{}, errors.New("no PostgreSQL: pass -dsn or set FLAMINGOCK_TEST_POSTGRES (scripts/postgres-up prints one), or pass -dsn mysql://user@host:3306/db")
	case o.mysql && o.files:
		return options{}, errors.New("-files: not on MySQL (the SQL files are split for PostgreSQL)")
	case o.applyN < 1:
		return options{}, fmt.Errorf("-apply-n %d: want at least 1", o.applyN)
	case o.runs < 1:
		return options{}, fmt.Errorf("-runs %d: want at least 1", o.runs)
	case o.part != "a" && o.part != "b" && o.part != "ab":
		return options{}, fmt.Errorf("-part %q: want a, b or ab", o.part)
	case !o.stmt.valid():
		return options{}, fmt.Errorf("-stmt %q: want %s or %s", stmt, createTable, insert)
	}
	return o, nil
}

// measurement is what one timed run measured.
type measurement struct {
	wall    time.Duration
	cpu     usage
	traffic traffic // only when the run was counted
}

// cell is one measured quantity of a scenario, such as one tool's start:
// a sample per round, and the traffic of the counted run.
type cell struct {
	samples []measurement
	traffic traffic
}

func (c *cell) median() time.Duration {
	return median(c.samples, func(m measurement) time.Duration { return m.wall })
}

func (c *cell) spread() (lo, hi time.Duration) {
	for i, m := range c.samples {
		if i == 0 || m.wall < lo {
			lo = m.wall
		}
		hi = max(hi, m.wall)
	}
	return lo, hi
}

// cpu returns the median CPU times of the cell's samples; server is
// negative when the server's processes could not be read.
func (c *cell) cpu() (client, server time.Duration) {
	client = median(c.samples, func(m measurement) time.Duration { return m.cpu.client })
	server = median(c.samples, func(m measurement) time.Duration { return m.cpu.server })
	for _, m := range c.samples {
		if !m.cpu.serverKnown {
			server = -1
		}
	}
	return client, server
}

func median(ms []measurement, of func(measurement) time.Duration) time.Duration {
	if len(ms) == 0 {
		return 0
	}
	s := make([]time.Duration, len(ms))
	for i, m := range ms {
		s[i] = of(m)
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// scenario is every measurement at one N.
type scenario struct {
	n     int
	cells map[string]*cell
}

// cell returns the cell of key, creating it.
func (s *scenario) cell(key string) *cell {
	if s.cells == nil {
		s.cells = map[string]*cell{}
	}
	c := s.cells[key]
	if c == nil {
		c = &cell{}
		s.cells[key] = c
	}
	return c
}

// Keys of the cells beyond one per tool.
const (
	// connectKey is opening one connection and running SELECT 1: the part
	// of a start that is the same whatever the tool.
	connectKey = "connect"
	// connectedSuffix marks a start on a connection opened beforehand.
	connectedSuffix = " connected"
)

// bench is one benchmark run.
type bench struct {
	o        options
	srv      *server
	progress io.Writer
}

func measure(ctx context.Context, o options, progress io.Writer) (rep *report, err error) {
	srv, err := connectServer(ctx, o.dsn)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, srv.close(ctx)) }()
	b := &bench{o: o, srv: srv, progress: progress}
	rep = &report{o: o, server: srv.version, loadBefore: loadAverage(), cpus: runtime.NumCPU()}
	if strings.Contains(o.part, "a") {
		for _, n := range o.startNs {
			s, err := b.start(ctx, n)
			if err != nil {
				return nil, fmt.Errorf("(a) N=%d: %w", n, err)
			}
			rep.start = append(rep.start, s)
		}
	}
	if strings.Contains(o.part, "b") {
		rep.apply, err = b.apply(ctx, o.applyN)
		if err != nil {
			return nil, fmt.Errorf("(b) N=%d: %w", o.applyN, err)
		}
	}
	rep.loadAfter = loadAverage()
	return rep, nil
}

// start measures part (a) at n: every tool starting against a database
// where its n changes are applied already, first from nothing (cold), then
// on a connection opened beforehand (connected).
func (b *bench) start(ctx context.Context, n int) (*scenario, error) {
	tools := startTools()
	if b.o.mysql {
		tools = mysqlStartTools()
	}
	set := newChangeSet(insert, n)
	templates := map[string]database{}
	defer func() {
		for _, db := range templates {
			b.srv.drop(context.WithoutCancel(ctx), db)
		}
	}()
	for _, t := range tools {
		b.logf("(a) N=%d: %s applies the %d changes (untimed)", n, t.name, n)
		db, err := b.srv.create(ctx, fmt.Sprintf("a%d_%s", n, t.name), "")
		if err != nil {
			return nil, err
		}
		templates[t.name] = db
		if err := b.prepare(ctx, db, set.kind); err != nil {
			return nil, err
		}
		// Untimed, so durability does not matter: skip the flush per commit
		// (PostgreSQL; MySQL's is a global setting, left as it is).
		apply := endpoint{dsn: db.dsn}
		if !b.o.mysql {
			apply.dsn = withSetting(db.dsn, "synchronous_commit", "off")
		}
		if _, err := b.timed(ctx, t, db, apply, set, false, n); err != nil {
			return nil, fmt.Errorf("%s: apply %d changes: %w", t.name, n, err)
		}
		// An application's database has long been vacuumed and analysed:
		// plans and visibility should not depend on how fresh the copy is.
		analyse := "VACUUM ANALYZE"
		if b.o.mysql {
			analyse = "SELECT 1" // InnoDB samples its statistics by itself
		}
		if err := b.exec(ctx, db, analyse); err != nil {
			return nil, err
		}
	}
	one := func(round int, t tool, counted bool) (map[string]measurement, error) {
		out := map[string]measurement{}
		db, err := b.srv.create(ctx, fmt.Sprintf("a%d_%s_%d", n, t.name, round), templates[t.name].name)
		if err != nil {
			return nil, err
		}
		defer b.srv.drop(context.WithoutCancel(ctx), db)
		// Warm-up: the first connection to a new database builds its
		// relation cache, and the first read pulls its pages.
		if _, err := b.timed(ctx, t, db, endpoint{dsn: db.dsn}, set, false, 0); err != nil {
			return nil, fmt.Errorf("%s (warm-up): %w", t.name, err)
		}
		if out[connectKey], err = b.connect(ctx, db); err != nil {
			return nil, err
		}
		for _, connected := range []bool{false, true} {
			key := t.name
			if connected {
				key += connectedSuffix
			}
			e := endpoint{dsn: db.dsn}
			if counted {
				e.counter = &counter{}
			}
			if out[key], err = b.timed(ctx, t, db, e, set, connected, 0); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
		return out, b.check(ctx, db, set.kind, n)
	}
	return b.rounds(ctx, fmt.Sprintf("(a) N=%d", n), n, tools, one)
}

// apply measures part (b) at n: every tool applying n changes to an empty
// database.
func (b *bench) apply(ctx context.Context, n int) (*scenario, error) {
	tools := applyTools()
	if b.o.mysql {
		tools = mysqlApplyTools()
	}
	set := newChangeSet(b.o.stmt, n)
	if b.o.files {
		if err := set.loadFiles(); err != nil {
			return nil, err
		}
	}
	one := func(round int, t tool, counted bool) (map[string]measurement, error) {
		db, err := b.srv.create(ctx, fmt.Sprintf("b%d_%s_%d", n, t.name, round), "")
		if err != nil {
			return nil, err
		}
		defer b.srv.drop(context.WithoutCancel(ctx), db)
		// prepare also warms up: it is the new database's first connection.
		if err := b.prepare(ctx, db, set.kind); err != nil {
			return nil, err
		}
		e := endpoint{dsn: db.dsn}
		if counted {
			e.counter = &counter{}
		}
		m, err := b.timed(ctx, t, db, e, set, false, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		return map[string]measurement{t.name: m}, b.check(ctx, db, set.kind, n)
	}
	return b.rounds(ctx, fmt.Sprintf("(b) N=%d", n), n, tools, one)
}

// rounds runs the timed rounds, each tool once per round in turn, then one
// counted run per tool.
func (b *bench) rounds(ctx context.Context, what string, n int, tools []tool,
	one func(round int, t tool, counted bool) (map[string]measurement, error)) (*scenario, error) {
	s := &scenario{n: n}
	for round := 1; round <= b.o.runs; round++ {
		for _, t := range tools {
			got, err := one(round, t, false)
			if err != nil {
				return nil, err
			}
			var line []string
			for _, k := range slices.Sorted(maps.Keys(got)) {
				s.cell(k).samples = append(s.cell(k).samples, got[k])
				line = append(line, k+" "+ms(got[k].wall))
			}
			b.logf("%s round %d/%d: %s", what, round, b.o.runs, strings.Join(line, ", "))
		}
	}
	for _, t := range tools {
		got, err := one(0, t, true)
		if err != nil {
			return nil, fmt.Errorf("counted run: %w", err)
		}
		for k, m := range got {
			s.cell(k).traffic = m.traffic
		}
	}
	return s, nil
}

// timed opens t's handles on database db through e, connects them first
// when connected is set, and times t.up, not counting closing what it
// opened. It fails unless the tool applied exactly want changes.
func (b *bench) timed(ctx context.Context, t tool, db database, e endpoint, set *changeSet, connected bool, want int) (measurement, error) {
	var m measurement
	h, err := t.open(ctx, e)
	if err != nil {
		return m, err
	}
	defer h.close()
	if connected {
		if err := h.connect(ctx); err != nil {
			return m, err
		}
		e.counter.reset()
	}
	before, err := b.srv.usage(ctx, db.name)
	if err != nil {
		return m, err
	}
	start := time.Now()
	applied, closeTool, err := t.up(ctx, h, set)
	m.wall = time.Since(start)
	m.traffic = e.counter.traffic()
	if err != nil {
		return m, err
	}
	after, err := b.srv.usage(ctx, db.name)
	closeTool()
	if err != nil {
		return m, err
	}
	m.cpu = after.since(before)
	if applied != want {
		return m, fmt.Errorf("applied %d changes, want %d", applied, want)
	}
	return m, nil
}

// connect times opening one connection to db and running SELECT 1.
func (b *bench) connect(ctx context.Context, db database) (measurement, error) {
	before, err := b.srv.usage(ctx, db.name)
	if err != nil {
		return measurement{}, err
	}
	start := time.Now()
	if b.o.mysql {
		h, err := mysqlDB(db.dsn)
		if err != nil {
			return measurement{}, err
		}
		defer h.Close()
		if _, err := h.ExecContext(ctx, "SELECT 1"); err != nil {
			return measurement{}, err
		}
	} else {
		conn, err := pgx.Connect(ctx, db.dsn)
		if err != nil {
			return measurement{}, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			return measurement{}, err
		}
	}
	m := measurement{wall: time.Since(start)}
	after, err := b.srv.usage(ctx, db.name)
	m.cpu = after.since(before)
	return m, err
}

// prepare creates what the changes of kind need in db before they run.
func (b *bench) prepare(ctx context.Context, db database, kind statementKind) error {
	return b.exec(ctx, db, cmp.Or(kind.setupSQL(), "SELECT 1"))
}

// check verifies that db holds the effects of exactly n changes: a tool
// that skipped a change, or ran one twice, fails the benchmark.
func (b *bench) check(ctx context.Context, db database, kind statementKind, n int) error {
	got, err := b.count(ctx, db, kind.countSQL(b.o.mysql))
	if err != nil {
		return fmt.Errorf("count the changes' effects in %s: %w", db.name, err)
	}
	if got != n {
		return fmt.Errorf("%s holds the effects of %d changes, want %d", db.name, got, n)
	}
	return nil
}

// count runs query, which counts something, in db.
func (b *bench) count(ctx context.Context, db database, query string) (int, error) {
	var got int
	if b.srv.my != nil {
		h, err := mysqlDB(db.dsn)
		if err != nil {
			return 0, err
		}
		defer h.Close()
		return got, h.QueryRowContext(ctx, query).Scan(&got)
	}
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return got, conn.QueryRow(ctx, query).Scan(&got)
}

func (b *bench) exec(ctx context.Context, db database, sql string) error {
	if b.srv.my != nil {
		h, err := mysqlDB(db.dsn)
		if err != nil {
			return err
		}
		defer h.Close()
		if _, err := h.ExecContext(ctx, sql); err != nil {
			return fmt.Errorf("%s in %s: %w", sql, db.name, err)
		}
		return nil
	}
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s in %s: %w", sql, db.name, err)
	}
	return nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, format+"\n", args...)
}

// loadAverage is the 1-minute load average, or "?" where /proc has none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
