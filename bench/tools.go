package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/mysql"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/runtime/pgxtarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// tool brings a database up to date with a change set, the way an
// application does at start.
type tool struct {
	name string
	// open returns the connection handles the tool uses; they connect on
	// first use.
	open func(ctx context.Context, e endpoint) (*handles, error)
	// up builds the tool on h and applies whatever is pending. It returns
	// how many changes it applied, and a function that closes what it
	// built: closing is not timed, since an application keeps it open.
	up func(ctx context.Context, h *handles, s *changeSet) (applied int, close func(), err error)
}

// startTools are the tools of part (a), in the order of each round.
func startTools() []tool {
	return []tool{
		{name: "flamingock", open: openPool, up: flamingockUp},
		{name: "goose", open: openDB, up: gooseUp},
		{name: "migrate", open: openDB, up: migrateUp},
	}
}

// applyTools are the tools of part (b), in the order of each round.
func applyTools() []tool {
	return []tool{
		{name: "flamingock", open: openPool, up: flamingockUp},
		{name: "goose", open: openDB, up: gooseUp},
		{name: "floor", open: openPool, up: floorUp},
	}
}

// mysqlStartTools are the tools of part (a) on MySQL.
func mysqlStartTools() []tool {
	return []tool{
		{name: "flamingock", open: openMySQLStore, up: flamingockMySQLUp},
		{name: "goose", open: openMySQLDB, up: gooseMySQLUp},
	}
}

// mysqlApplyTools are the tools of part (b) on MySQL.
func mysqlApplyTools() []tool {
	return append(mysqlStartTools(), tool{name: "floor", open: openMySQLDB, up: floorMySQLUp})
}

// handles are a tool's connections to the database: a pgx pool, or
// database/sql on pgx's stdlib driver, as the tool takes them; on MySQL,
// database/sql on go-sql-driver, or flamingock's audit store, which opens
// its own.
type handles struct {
	pool  *pgxpool.Pool
	db    *sql.DB
	store *mysql.Store
}

func openPool(ctx context.Context, e endpoint) (*handles, error) {
	cfg, err := pgxpool.ParseConfig(e.dsn)
	if err != nil {
		return nil, err
	}
	e.configure(&cfg.ConnConfig.Config)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &handles{pool: pool}, nil
}

func openDB(_ context.Context, e endpoint) (*handles, error) {
	cfg, err := pgx.ParseConfig(e.dsn)
	if err != nil {
		return nil, err
	}
	e.configure(&cfg.Config)
	return &handles{db: stdlib.OpenDB(*cfg)}, nil
}

// connect makes sure every handle holds one open connection.
func (h *handles) connect(ctx context.Context) error {
	if h.pool != nil {
		if err := h.pool.Ping(ctx); err != nil {
			return err
		}
	}
	if h.store != nil {
		if err := h.store.DB().PingContext(ctx); err != nil {
			return err
		}
	}
	if h.db != nil {
		return h.db.PingContext(ctx)
	}
	return nil
}

func (h *handles) close() {
	if h.db != nil {
		h.db.Close()
	}
	if h.pool != nil {
		h.pool.Close()
	}
	if h.store != nil {
		h.store.Close()
	}
}

// flamingockUp opens the PostgreSQL audit store on the pool, builds the
// stage as flamingock-gen's Stage function does (its digest a constant, its
// changes, one NewChange each, built only when the run needs them), and
// runs the pipeline. The target is pgxtarget.Shared(store), so every change
// commits in one transaction with its APPLIED entry.
func flamingockUp(ctx context.Context, h *handles, s *changeSet) (int, func(), error) {
	store, err := postgres.New(ctx, h.pool)
	if err != nil {
		return 0, nil, err
	}
	target := pipeline.Target[pgx.Tx](pgxtarget.Shared(store))
	build := func() []pipeline.Change {
		changes := make([]pipeline.Change, s.len())
		for i, stmt := range s.statements {
			apply := func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, stmt)
				return err
			}
			if s.scripts != nil {
				script := s.scripts[i]
				apply = func(ctx context.Context, tx pgx.Tx) error { return script.Exec(ctx, pgxtarget.Exec(tx)) }
			}
			changes[i] = pipeline.NewChange(pipeline.Meta{
				ID: s.ids[i], Order: audit.OrderOf(uint64(i + 1)), Author: "bench", Target: "appdb",
				Recovery: audit.RecoveryManual, Checksum: s.checksums[i], Source: s.sources[i],
			}, target, apply, nil)
		}
		return changes
	}
	r, err := pipeline.New(store, []pipeline.Stage{{Name: "bench", Generated: &pipeline.Generated{
		Digest: s.digest, Len: s.len(), Changes: build,
		Targets: []pipeline.TargetUse{pipeline.Uses("appdb", target, true)},
	}}})
	if err != nil {
		return 0, nil, err
	}
	res, err := r.Run(ctx)
	if err != nil {
		return 0, nil, err
	}
	// Len, not Skipped: listing the skipped changes of an up-to-date start
	// builds them, which the application does not ask for. The database is
	// checked for exactly N rows after each run.
	if got := res.Len(); got != s.len() {
		return 0, nil, fmt.Errorf("flamingock: %d changes applied or skipped, want %d", got, s.len())
	}
	return len(res.Applied()), func() { store.Close() }, nil
}

// gooseUp runs goose's Provider.Up over the SQL files of s, with goose's
// defaults (no lock).
func gooseUp(ctx context.Context, h *handles, s *changeSet) (int, func(), error) {
	p, err := goose.NewProvider(goose.DialectPostgres, h.db, s.gooseFS)
	if err != nil {
		return 0, nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return 0, nil, err
	}
	return len(res), func() {}, nil
}

// migrateUp runs golang-migrate's Up over the SQL files of s, with its
// pgx/v5 driver and an iofs source. migrate does not say how many it
// applied: from an empty database it is all of them, and the benchmark only
// asks it to apply onto an empty one.
func migrateUp(_ context.Context, h *handles, s *changeSet) (int, func(), error) {
	drv, err := migratepgx.WithInstance(h.db, &migratepgx.Config{})
	if err != nil {
		return 0, nil, err
	}
	src, err := iofs.New(s.migrateFS, ".")
	if err != nil {
		return 0, nil, err
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return 0, nil, err
	}
	closeM := func() { m.Close() }
	switch err := m.Up(); {
	case errors.Is(err, migrate.ErrNoChange):
		return 0, closeM, nil
	case err != nil:
		closeM()
		return 0, nil, err
	}
	return s.len(), closeM, nil
}

// floorUp is the least any tool can do: each statement in its own
// transaction on one connection, with no bookkeeping.
func floorUp(ctx context.Context, h *handles, s *changeSet) (int, func(), error) {
	conn, err := h.pool.Acquire(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Release()
	for _, stmt := range s.statements {
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, stmt)
			return err
		}); err != nil {
			return 0, nil, err
		}
	}
	return s.len(), func() {}, nil
}
