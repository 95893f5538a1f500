package redact_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/internal/redact"
)

func TestDSN(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"a SQLite URL is kept", "sqlite:/var/lib/app.db", "sqlite:/var/lib/app.db"},
		{"a URL without a password is kept", "postgres://ops@db:5432/app?sslmode=require", "postgres://ops@db:5432/app?sslmode=require"},
		{"a URL with only a host is kept", "mongodb+srv://cluster.example.com", "mongodb+srv://cluster.example.com"},
		{"the password of the user information is hidden", "postgres://ops:s3cret@db:5432/app", "postgres://ops:xxxxx@db:5432/app"},
		{"a percent-encoded password is hidden", "postgres://ops:s3%40cret%2F@db/app", "postgres://ops:xxxxx@db/app"},
		{"a password with an unencoded # is hidden whole", "postgres://ops:pa#ss@db/app?sslmode=disable", "postgres://ops:xxxxx@db/app?sslmode=disable"},
		{"a password with an unencoded ? is hidden whole", "postgres://ops:pa?ss=1@db/app", "postgres://ops:xxxxx@db/app"},
		{"a password with an unencoded / is hidden up to the last @", "postgres://ops:pa/ss@db/app", "postgres://ops:xxxxx@db/app"},
		{"a password holding @ and : is hidden whole", "postgresql://ops:p@ss:w@db/app", "postgresql://ops:xxxxx@db/app"},
		{"an @ in a query value hides what comes before it", "postgres://ops:pw@db/app?application_name=a@b", "postgres://ops:xxxxx@b"},
		{"secret parameters are hidden, the others kept in order",
			"postgres://db/app?sslmode=verify-full&password=s3cret&sslpassword=k3y&application_name=x",
			"postgres://db/app?sslmode=verify-full&password=xxxxx&sslpassword=xxxxx&application_name=x"},
		{"a parameter name is matched in any case and encoding", "postgres://db/app?PassWord=a&pass%77ord=b", "postgres://db/app?PassWord=xxxxx&pass%77ord=xxxxx"},
		{"a password parameter holding & and # is hidden up to the next parameter",
			"postgres://db/app?password=a&b#c&sslmode=disable", "postgres://db/app?password=xxxxx&sslmode=disable"},
		{"MongoDB secrets in options are hidden",
			"mongodb://ops:s3cret@h1:27017,h2:27017/app?replicaSet=rs0&authMechanismProperties=AWS_SESSION_TOKEN:t0k;tlsCertificateKeyFilePassword=k3y&proxyPassword=p",
			"mongodb://ops:xxxxx@h1:27017,h2:27017/app?replicaSet=rs0&authMechanismProperties=xxxxx;tlsCertificateKeyFilePassword=xxxxx&proxyPassword=xxxxx"},
		{"a keyword/value password is hidden", "host=db port=5433 user=app password=s3cret dbname=orders", "host=db port=5433 user=app password=xxxxx dbname=orders"},
		{"a quoted keyword/value password is hidden with its quotes",
			`host=db password='it\'s a secret' dbname=orders`, "host=db password=xxxxx dbname=orders"},
		{"spaces around = are allowed", "host=db password = s3cret dbname=orders", "host=db password = xxxxx dbname=orders"},
		{"an escaped space stays inside the password", `password=a\ b dbname=orders`, "password=xxxxx dbname=orders"},
		{"an unescaped space leaves the rest of the password hidden", "host=db password=my secret dbname=orders", "host=db password=xxxxx dbname=orders"},
		{"an unterminated quote hides everything after it", "host=db password='s3cret dbname=orders", "host=db password=xxxxx"},
		{"a URL in a keyword/value string is redacted", "dbname='postgres://ops:s3cret@db/app' sslmode=disable", "dbname='postgres://ops:xxxxx@db/app' sslmode=disable"},
		{"an empty password shows nothing to hide", "postgres://ops:@db/app", "postgres://ops:@db/app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact.DSN(tt.in); got != tt.want {
				t.Errorf("DSN(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAmbiguous(t *testing.T) {
	tests := []struct {
		dsn  string
		want bool
	}{
		{"postgres://ops:pa#ss?w@db/app", false},
		{"postgres://ops@db/app?application_name=x", false},
		{"host=db password=a@b@c", false},
		{"postgres://ops:p@ss@db/app", true},
		{"postgres://ops:pa/ss@db/app", true},
		{"postgres://db/app?application_name=a@b", true},
	}
	for _, tt := range tests {
		if got := redact.Ambiguous(tt.dsn); got != tt.want {
			t.Errorf("Ambiguous(%q) = %v, want %v", tt.dsn, got, tt.want)
		}
	}
}

func TestErrorScrubsWhatADriverQuotes(t *testing.T) {
	const dsn = "postgres://ops:hunter2@db.internal:5432/app"
	inner := errors.New(`lookup db.internal: failed to connect to "hunter2@db.internal:5432" with password hunter2`)
	err := redact.Error(inner, dsn)
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Error kept the password: %v", err)
	}
	if !errors.Is(err, inner) {
		t.Errorf("Error lost the chain: %v does not match the driver's error", err)
	}
	if redact.Error(nil, dsn) != nil {
		t.Error("Error(nil) is not nil")
	}
	clean := errors.New("connection refused")
	if got := redact.Error(clean, dsn); got != clean {
		t.Errorf("Error of a message without secrets = %#v, want the error itself", got)
	}

	// A driver that misread an unencoded '@' prints the password's pieces
	// as a host: they go too, as written, decoded and quoted.
	secrets := redact.SecretsOf("mongodb://ops:p@ss%2Fword@h/app")
	for _, msg := range []string{"lookup ss%2Fword", "lookup ss/word", `host "p@ss/word"`, "word"} {
		if got := secrets.String(msg); strings.Contains(got, "word") {
			t.Errorf("String(%q) = %q, keeps part of the password", msg, got)
		}
	}
	if got := redact.SecretsOf("postgres://ops:sab@db/app").String("sslmode=disable: sab"); got != "sslmode=disable: xxxxx" {
		t.Errorf("String replaced a piece inside a longer word, or missed it alone: %q", got)
	}
}
