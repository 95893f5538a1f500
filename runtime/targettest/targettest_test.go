package targettest_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/sqlite"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
	"github.com/flamingock/flamingock-go/runtime/sqltarget"
	"github.com/flamingock/flamingock-go/runtime/targettest"
)

// memory is an in-memory system without transactions: a set of keys.
type memory struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (m *memory) set(id string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		m.keys[id] = true
	} else {
		delete(m.keys, id)
	}
}

func (m *memory) has(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[id]
}

// openStore opens a SQLite audit store in a directory of t's.
func openStore(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func TestNonTransactional(t *testing.T) {
	targettest.Run(t, targettest.Harness[*memory]{
		New: func(t *testing.T) targettest.Fixture[*memory] {
			m := &memory{keys: map[string]bool{}}
			return targettest.Fixture[*memory]{
				Target: pipeline.NonTransactional(m),
				Store:  openStore(t, t.TempDir()),
				Apply:  func(_ context.Context, h *memory, id string) error { h.set(id, true); return nil },
				Undo:   func(_ context.Context, h *memory, id string) error { h.set(id, false); return nil },
				Has:    func(_ context.Context, id string) (bool, error) { return m.has(id), nil },
			}
		},
		Transactional:    audit.StrategyNonTx,
		NonTransactional: audit.StrategyNonTx,
	})
}

// sqlFixture is a fixture of a database/sql target on db whose effects
// are rows of table effects.
func sqlFixture(t *testing.T, tg pipeline.Target[*sql.Tx], store audit.Store, db *sql.DB) targettest.Fixture[*sql.Tx] {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE effects (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return targettest.Fixture[*sql.Tx]{
		Target: tg,
		Store:  store,
		Apply: func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO effects (id) VALUES (?)`, id)
			return err
		},
		Undo: func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM effects WHERE id = ?`, id)
			return err
		},
		Has: func(ctx context.Context, id string) (bool, error) {
			var n int
			err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM effects WHERE id = ?`, id).Scan(&n)
			return n > 0, err
		},
		Disconnect: func() { db.Close() },
	}
}

// targetDB opens a SQLite database for a separate-transaction target.
func targetDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(dir, "target.db"))+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLTargetSharedOnSQLite(t *testing.T) {
	targettest.Run(t, targettest.Harness[*sql.Tx]{
		New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
			store := openStore(t, t.TempDir())
			fx := sqlFixture(t, sqltarget.Shared(store), store, store.DB())
			fx.Disconnect = nil // closing the store's DB would close the store under its cleanup
			return fx
		},
		Transactional: audit.StrategySharedTx,
	})
}

func TestSQLTargetSeparateOnSQLite(t *testing.T) {
	targettest.Run(t, targettest.Harness[*sql.Tx]{
		New: func(t *testing.T) targettest.Fixture[*sql.Tx] {
			dir := t.TempDir()
			db := targetDB(t, dir)
			return sqlFixture(t, sqltarget.New(db), openStore(t, dir), db)
		},
		Transactional: audit.StrategySeparateTx,
	})
}
