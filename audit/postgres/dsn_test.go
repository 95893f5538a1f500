package postgres

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestRedactDSN(t *testing.T) {
	tests := []struct {
		name, dsn, want string
	}{
		{"a URL keeps everything, the password shown as xxxxx",
			"postgres://app:s3cret@db.example.com:5433/orders?sslmode=require&application_name=api",
			"postgres://app:xxxxx@db.example.com:5433/orders?sslmode=require&application_name=api"},
		{"the postgresql scheme is kept",
			"postgresql://app:s3cret@db/orders", "postgresql://app:xxxxx@db/orders"},
		{"a percent-encoded password is hidden too",
			"postgres://app:s3%40cret%2F@db/orders", "postgres://app:xxxxx@db/orders"},
		{"password parameters are hidden, in any spelling",
			"postgres://app@db/orders?password=s3cret&sslmode=disable&PassWord=s3cret&pass%77ord=s3cret",
			"postgres://app@db/orders?password=xxxxx&sslmode=disable&PassWord=xxxxx&pass%77ord=xxxxx"},
		{"the client key's password is hidden",
			"postgres://app@db/orders?sslpassword=s3cret&application_name=api", "postgres://app@db/orders?sslpassword=xxxxx&application_name=api"},
		{"a URL without credentials is unchanged",
			"postgres://db:5432/orders", "postgres://db:5432/orders"},
		{"an IPv6 host keeps its brackets",
			"postgres://app:s3cret@[::1]:5432/orders", "postgres://app:xxxxx@[::1]:5432/orders"},
		{"a keyword/value string becomes a URL",
			"host=db port=5433 user=app password=s3cret dbname=orders",
			"postgres://app:xxxxx@db:5433/orders"},
		{"a keyword/value string without a password becomes a URL without one",
			"host=db port=5433 user=app dbname=orders", "postgres://app@db:5433/orders"},
		{"a quoted keyword/value password is hidden",
			"host=db user=app password='s3 cret' dbname=orders", "postgres://app:xxxxx@db:5432/orders"},
		{"a unix socket becomes the host parameter",
			"host=/var/run/postgresql user=app password=s3cret dbname=orders",
			"postgres://app:xxxxx@:5432/orders?host=%2Fvar%2Frun%2Fpostgresql"},
		{"an unescaped # in the password is hidden with it",
			"postgres://app:s3#cret@db/orders", "postgres://app:xxxxx@db/orders"},
		{"an unescaped ? in the password is hidden with it",
			"postgres://app:s3?cret@db/orders", "postgres://app:xxxxx@db/orders"},
		{"a multi-host URL keeps its hosts",
			"postgres://app:s3cret@db1:5432,db2:5433/orders", "postgres://app:xxxxx@db1:5432,db2:5433/orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := pgconn.ParseConfig(tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			got := redactDSN(tt.dsn, cfg)
			if got != tt.want {
				t.Errorf("redactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
			if strings.Contains(got, "s3") {
				t.Errorf("redactDSN(%q) = %q keeps the password", tt.dsn, got)
			}
		})
	}
}

func TestPoolDSN(t *testing.T) {
	const dsn = "postgres://app:s3cret@db:5432/orders?sslmode=disable"
	t.Run("describes the pool by the string it was parsed from", func(t *testing.T) {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := poolDSN(cfg), "postgres://app:xxxxx@db:5432/orders?sslmode=disable"; got != want {
			t.Errorf("poolDSN = %q, want %q", got, want)
		}
	})
	t.Run("describes a reconfigured pool by its configuration", func(t *testing.T) {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.Host = "replica"
		if got, want := poolDSN(cfg), "postgres://app:xxxxx@replica:5432/orders"; got != want {
			t.Errorf("poolDSN = %q, want %q", got, want)
		}
	})
}
