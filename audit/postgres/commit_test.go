package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
)

// TestCommitTx runs CommitTx in every query exec mode of pgx, since the
// mode decides how the append and COMMIT travel (a pipeline of prepared or
// unnamed statements, or one simple-protocol query): in each, a refused
// append must leave the COMMIT unrun.
func TestCommitTx(t *testing.T) {
	srv := newServer(t)
	modes := []pgx.QueryExecMode{
		pgx.QueryExecModeCacheStatement, // pgx's default
		pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeDescribeExec,
		pgx.QueryExecModeExec,
		pgx.QueryExecModeSimpleProtocol,
	}
	for _, mode := range modes {
		t.Run("in exec mode "+mode.String(), func(t *testing.T) {
			schema := srv.schema(t)
			cfg, err := pgxpool.ParseConfig(srv.dsn)
			if err != nil {
				t.Fatal(err)
			}
			// Two connections: the transaction's, and one for reading the
			// lock when the append is refused.
			cfg.MaxConns = 2
			cfg.ConnConfig.DefaultQueryExecMode = mode
			pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			s, err := postgres.New(t.Context(), pool, postgres.WithSchema(schema))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Snapshot(t.Context()); err != nil {
				t.Fatal(err)
			}
			auditTable, lockTable := tables(schema, "flamingock")
			target := pgx.Identifier{schema, "accounts"}.Sanitize()
			srv.exec(t, "CREATE TABLE "+target+" (id text)")
			// rows returns how many rows change id left in the target and
			// the trail.
			rows := func(t *testing.T, id string) (changes, entries int) {
				t.Helper()
				err := srv.admin.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM "+target+" WHERE id = $1), "+
					"(SELECT count(*) FROM "+auditTable+" WHERE change_id = $1)", id).Scan(&changes, &entries)
				if err != nil {
					t.Fatal(err)
				}
				return changes, entries
			}
			// change begins a transaction that runs change id.
			change := func(t *testing.T, id string) pgx.Tx {
				t.Helper()
				tx, err := pool.Begin(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { tx.Rollback(context.Background()) })
				if _, err := tx.Exec(t.Context(), "INSERT INTO "+target+" VALUES ($1)", id); err != nil {
					t.Fatal(err)
				}
				return tx
			}
			acquire := func(t *testing.T, key string) audit.Lease {
				t.Helper()
				lease, err := s.Acquire(t.Context(), key, "runner-a", time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				return lease
			}

			t.Run("the change and its entry commit together", func(t *testing.T) {
				lease := acquire(t, "commit")
				// Twice: the second finds the statements prepared.
				for _, id := range []string{"committed", "committed-again"} {
					tx := change(t, id)
					e := validEntry(id)
					e.Metadata = json.RawMessage(`{"ticket": "OPS-1", "n": 2}`)
					got, err := s.CommitTx(t.Context(), tx, lease, e)
					if err != nil {
						t.Fatal(err)
					}
					if c, n := rows(t, id); c != 1 || n != 1 {
						t.Errorf("%s: %d target rows and %d entries, want 1 and 1", id, c, n)
					}
					h, err := s.History(t.Context(), audit.Filter{ChangeID: id})
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff([]audit.Entry{got}, h); diff != "" {
						t.Errorf("%s: the entry CommitTx returned differs from the one stored (-returned +stored):\n%s", id, diff)
					}
					// The caller still ends the pgxpool.Tx, to release its
					// connection: harmless after the commit.
					if err := tx.Rollback(t.Context()); err != nil {
						t.Errorf("Rollback after CommitTx: %v", err)
					}
				}
			})

			t.Run("a lease taken over after the change commits nothing", func(t *testing.T) {
				lease := acquire(t, "fenced")
				tx := change(t, "fenced")
				pid := tx.Conn().PgConn().PID()
				srv.exec(t, "UPDATE "+lockTable+" SET owner = 'runner-b', epoch = epoch + 1 WHERE key = 'fenced'")

				_, err := s.CommitTx(t.Context(), tx, lease, validEntry("fenced"))

				if err := tx.Rollback(t.Context()); err != nil {
					t.Errorf("Rollback after a refused CommitTx: %v", err)
				}
				if c, n := rows(t, "fenced"); c != 0 || n != 0 {
					t.Errorf("%d target rows and %d entries, want none", c, n)
				}
				if !errors.Is(err, audit.ErrFenced) {
					t.Fatalf("CommitTx: got %v, want ErrFenced", err)
				}
				wantMessage(t, err, `taken over by "runner-b" at epoch 2`)
				// The connection went back to the pool, and works.
				conns := pool.AcquireAllIdle(t.Context())
				defer func() {
					for _, c := range conns {
						c.Release()
					}
				}()
				i := slices.IndexFunc(conns, func(c *pgxpool.Conn) bool { return c.Conn().PgConn().PID() == pid })
				if i < 0 {
					t.Fatalf("the connection of the refused transaction is not idle in the pool")
				}
				if _, err := conns[i].Exec(t.Context(), "SELECT 1"); err != nil {
					t.Errorf("the connection of the refused transaction: %v", err)
				}
			})

			t.Run("a transaction in which a statement failed commits nothing", func(t *testing.T) {
				lease := acquire(t, "failed")
				tx := change(t, "failed")
				if _, err := tx.Exec(t.Context(), "SELECT 1 FROM no_such_table"); err == nil {
					t.Fatal("a statement on a missing table succeeded")
				}

				_, err := s.CommitTx(t.Context(), tx, lease, validEntry("failed"))

				if err := tx.Rollback(t.Context()); err != nil {
					t.Errorf("Rollback after a failed CommitTx: %v", err)
				}
				if c, n := rows(t, "failed"); c != 0 || n != 0 {
					t.Errorf("%d target rows and %d entries, want none", c, n)
				}
				if err == nil || errors.Is(err, audit.ErrFenced) {
					t.Fatalf("CommitTx: got %v, want an error other than ErrFenced", err)
				}
				// The lease still holds, and the next change commits.
				if _, err := s.CommitTx(t.Context(), change(t, "after"), lease, validEntry("after")); err != nil {
					t.Fatalf("CommitTx after a failed one: %v", err)
				}
				if c, n := rows(t, "after"); c != 1 || n != 1 {
					t.Errorf("after: %d target rows and %d entries, want 1 and 1", c, n)
				}
			})

			t.Run("an entry over a bound commits nothing", func(t *testing.T) {
				lease := acquire(t, "bound")
				id := strings.Repeat("x", audit.MaxIDLen+1)
				tx := change(t, id)

				_, err := s.CommitTx(t.Context(), tx, lease, validEntry(id))

				if err := tx.Rollback(t.Context()); err != nil {
					t.Errorf("Rollback after a refused CommitTx: %v", err)
				}
				if c, n := rows(t, id); c != 0 || n != 0 {
					t.Errorf("%d target rows and %d entries, want none", c, n)
				}
				if err == nil || errors.Is(err, audit.ErrFenced) {
					t.Fatalf("CommitTx: got %v, want an error other than ErrFenced", err)
				}
				wantMessage(t, err, fmt.Sprintf("change id of %d bytes", audit.MaxIDLen+1))
			})
		})
	}

	t.Run("a nil transaction is an error", func(t *testing.T) {
		s, _ := srv.open(t)
		if _, err := s.CommitTx(t.Context(), nil, audit.Lease{}, validEntry("x")); err == nil {
			t.Error("CommitTx accepted a nil transaction")
		}
	})
}
