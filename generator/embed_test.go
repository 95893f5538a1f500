package generator

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// embedPackage declares one change per way of reaching embedded files.
const embedPackage = `package m

import (
	"context"
	"database/sql"
	"embed"
)

//go:embed sql/users.sql
var usersSQL string

//go:embed sql/orders.sql
var ordersSQL []byte

// ordersQuery reaches ordersSQL through a variable's initializer.
var ordersQuery = string(ordersSQL)

//go:embed sql
var dir embed.FS

//go:embed all:sql
var everything embed.FS

//flamingock:change id=users order=1 target=appdb
func Users(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, usersSQL)
	return err
}

//flamingock:change id=orders order=2 target=appdb
func Orders(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, ordersQuery)
	return err
}

//flamingock:change id=named order=3 target=appdb
func Named(ctx context.Context, tx *sql.Tx) error { return exec(ctx, tx, "users.sql") }

//flamingock:change id=computed order=4 target=appdb
func Computed(ctx context.Context, tx *sql.Tx) error {
	for _, name := range []string{"users", "orders"} {
		if err := exec(ctx, tx, name+".sql"); err != nil {
			return err
		}
	}
	return nil
}

//flamingock:change id=hidden order=5 target=appdb
func Hidden(ctx context.Context, tx *sql.Tx) error {
	_, err := everything.ReadFile("sql/_draft.sql")
	return err
}

//flamingock:change id=plain order=6 target=appdb
func Plain(ctx context.Context, tx *sql.Tx) error { return nil }

func exec(ctx context.Context, tx *sql.Tx, name string) error {
	q, err := dir.ReadFile("sql/" + name)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, string(q))
	return err
}
`

// checksums generates the package in dir and returns each change's
// checksum, by id.
func checksums(t *testing.T, dir string) map[string]string {
	t.Helper()
	res := generate(t, Config{Dir: dir, AllowLedgerRewrite: true})
	if len(res.Errs) > 0 {
		t.Fatalf("Generate: %v", res.Errs)
	}
	sums := map[string]string{}
	for _, ch := range res.changes {
		sums[ch.ann.ID] = ch.checksum
	}
	return sums
}

func TestChecksumCoversTheFilesAChangeEmbeds(t *testing.T) {
	dir := tempModule(t, map[string]string{
		"changes.go":     embedPackage,
		"sql/users.sql":  "CREATE TABLE users (id INT);\n",
		"sql/orders.sql": "CREATE TABLE orders (id INT);\n",
		"sql/_draft.sql": "-- not embedded by sql, embedded by all:sql\n",
		// A .sql file beside the Go files would be a change file.
		"docs/README.md": "notes\n",
	})
	base := checksums(t, dir)
	for _, tt := range []struct {
		name    string
		file    string // edited, or created when new
		changed []string
	}{
		{"a string variable's file", "sql/users.sql", []string{"users", "named", "computed"}},
		{"a []byte variable's file, through an initializer", "sql/orders.sql", []string{"orders", "computed"}},
		{"a file that only all: embeds", "sql/_draft.sql", []string{"hidden"}},
		{"a new file of an FS read with computed names", "sql/new.sql", []string{"computed"}},
		{"a file that nothing embeds", "docs/notes.sql", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, filepath.FromSlash(tt.file))
			old, err := os.ReadFile(path)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, append(old, "-- edited\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if old == nil {
					os.Remove(path)
				} else {
					os.WriteFile(path, old, 0o644)
				}
			})
			var changed []string
			for id, sum := range checksums(t, dir) {
				if sum != base[id] {
					changed = append(changed, id)
				}
			}
			if strings.Join(sortedCopy(changed), ",") != strings.Join(sortedCopy(tt.changed), ",") {
				t.Errorf("editing %s changed the checksums of %q, want %q", tt.file, sortedCopy(changed), sortedCopy(tt.changed))
			}
		})
	}
}

func TestChecksumOfAChangeThatEmbedsNothingIsItsSourceAlone(t *testing.T) {
	// Checksums recorded in audit trails before embedded files counted must
	// stay valid for the changes that embed nothing.
	dir := tempModule(t, map[string]string{"changes.go": oneChange})
	const recorded = "6fc4dd4003f3f911003175acb145ce456741863ad6ed8534f15616066b73abbf"
	if got := checksums(t, dir)["create-users"]; got != recorded {
		t.Errorf("checksum = %s, want %s as before", got, recorded)
	}
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }
