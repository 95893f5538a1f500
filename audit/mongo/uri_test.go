package mongo

import (
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		name, uri    string
		wantRedacted string
		wantHosts    string
		wantDatabase string
	}{
		{"a URI without credentials is kept", "mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/", "127.0.0.1:27017", ""},
		{"a URI without a path is kept", "mongodb://db.example.com", "mongodb://db.example.com", "db.example.com", ""},
		{"the password is hidden and the user kept", "mongodb://alice:s3cret@h1:27017,h2:27017/app?replicaSet=rs0",
			"mongodb://alice:xxxxx@h1:27017,h2:27017/app?replicaSet=rs0", "h1:27017,h2:27017", "app"},
		{"an escaped password is hidden", "mongodb://alice:p%40ss%3Aw%2Fd@h/", "mongodb://alice:xxxxx@h/", "h", ""},
		{"a user without a password is kept", "mongodb://alice@h/?authMechanism=MONGODB-X509", "mongodb://alice@h/?authMechanism=MONGODB-X509", "h", ""},
		{"secret options are hidden, others kept in order", "mongodb+srv://alice:s3cret@cluster0.example.net/app?retryWrites=true&tlsCertificateKeyFilePassword=s3cret;proxyPassword=s3cret&authMechanismProperties=AWS_SESSION_TOKEN:s3cret&w=majority",
			"mongodb+srv://alice:xxxxx@cluster0.example.net/app?retryWrites=true&tlsCertificateKeyFilePassword=xxxxx;proxyPassword=xxxxx&authMechanismProperties=xxxxx&w=majority", "cluster0.example.net", "app"},
		{"option names are matched in any case", "mongodb://h/?TLSCertificateKeyFilePassword=s3cret", "mongodb://h/?TLSCertificateKeyFilePassword=xxxxx", "h", ""},
		{"the database is unescaped", "mongodb://h/my%2Ddb?w=1", "mongodb://h/my%2Ddb?w=1", "h", "my-db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseURI(tc.uri)
			if err != nil {
				t.Fatalf("parseURI(%q): %v", tc.uri, err)
			}
			if got.redacted != tc.wantRedacted || got.hosts != tc.wantHosts || got.database != tc.wantDatabase {
				t.Errorf("parseURI(%q) = %+v, want redacted %q, hosts %q, database %q", tc.uri, got, tc.wantRedacted, tc.wantHosts, tc.wantDatabase)
			}
			if strings.Contains(got.redacted, "s3cret") {
				t.Errorf("redacted URI %q holds the secret", got.redacted)
			}
		})
	}
}

func TestParseURIErrors(t *testing.T) {
	tests := []struct{ name, uri, want string }{
		{"another scheme", "postgres://alice:s3cret@h/", `must start with "mongodb://"`},
		{"no scheme", "alice:s3cret@h", `must start with "mongodb://"`},
		{"a bad escape in the password", "mongodb://alice:s3%zzcret@h/", "password is not percent-encoded"},
		{"a colon in the password", "mongodb://alice:s3:cret@h/", "password is not percent-encoded"},
		{"an @ in the password", "mongodb://alice:s3@cret@h/", "password is not percent-encoded"},
		{"a slash in the password", "mongodb://alice:s3/cret@h/", "password is not percent-encoded"},
		{"a bad escape in the user name", "mongodb://al%zzice:s3cret@h/", "user name is not percent-encoded"},
		{"no host", "mongodb://alice:s3cret@/app", "names no host"},
		{"a query without a slash", "mongodb://alice:s3cret@h?w=1", "needs a / between the hosts and the ?"},
		{"a bad escape in the database", "mongodb://alice:s3cret@h/a%zz", "database name in its path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseURI(tc.uri)
			if err == nil {
				t.Fatalf("parseURI(%q) succeeded, want an error", tc.uri)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseURI(%q): %v, want it to say %q", tc.uri, err, tc.want)
			}
			if strings.Contains(err.Error(), "s3") {
				t.Errorf("parseURI(%q): %v shows part of the password", tc.uri, err)
			}
		})
	}
}
