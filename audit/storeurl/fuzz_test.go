package storeurl_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/postgres"
	"github.com/flamingock/flamingock-go/audit/storeurl"
	"github.com/flamingock/flamingock-go/internal/redact"
)

// dsnShapes are the places a connection string carries a password, each
// as a driver accepts it. The servers are unreachable (nothing listens on
// port 1 of the loopback interface), so that opening and reading fail with
// the drivers' connection errors.
var dsnShapes = []struct {
	name string
	dsn  func(password string) string
}{
	{"PostgreSQL user information, percent-encoded", func(p string) string {
		return "postgres://" + url.UserPassword("ops", p).String() + "@127.0.0.1:1/app?sslmode=disable&connect_timeout=5"
	}},
	{"PostgreSQL user information, as written", func(p string) string {
		return "postgres://ops:" + p + "@127.0.0.1:1/app?sslmode=disable&connect_timeout=5"
	}},
	{"PostgreSQL password parameter", func(p string) string {
		return "postgresql://ops@127.0.0.1:1/app?sslmode=disable&password=" + queryValue(p) + "&connect_timeout=5"
	}},
	{"PostgreSQL sslpassword parameter beside a password", func(p string) string {
		return "postgres://ops:" + url.PathEscape(p) + "@127.0.0.1:1/app?sslpassword=" + queryValue(p) + "&sslmode=disable"
	}},
	{"PostgreSQL keyword/value, quoted", func(p string) string {
		return "host=127.0.0.1 port=1 user=ops password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(p) + "' dbname=app sslmode=disable"
	}},
	{"PostgreSQL keyword/value, as written", func(p string) string {
		return "host=127.0.0.1 port=1 dbname=app password=" + kvEscaper.Replace(p) + " user=ops sslmode=disable"
	}},
	{"MySQL user information, percent-encoded", func(p string) string {
		return "mysql://" + url.UserPassword("ops", p).String() + "@127.0.0.1:1/app?timeout=1s"
	}},
	{"MySQL user information, as written", func(p string) string {
		return "mysql://ops:" + p + "@127.0.0.1:1/app?timeout=1s"
	}},
	{"MongoDB user information, percent-encoded", func(p string) string {
		return "mongodb://" + url.UserPassword("ops", p).String() + "@127.0.0.1:1/app?serverSelectionTimeoutMS=1&connectTimeoutMS=1"
	}},
	{"MongoDB user information, as written", func(p string) string {
		return "mongodb://ops:" + p + "@127.0.0.1:1/app?serverSelectionTimeoutMS=1&connectTimeoutMS=1"
	}},
	{"MongoDB secret options", func(p string) string {
		return "mongodb://ops@127.0.0.1:1/app?tlsCertificateKeyFilePassword=" + queryValue(p) +
			"&authMechanismProperties=AWS_SESSION_TOKEN:" + queryValue(p) + "&proxyPassword=" + queryValue(p) + "&serverSelectionTimeoutMS=1"
	}},
}

// kvEscaper escapes what ends an unquoted keyword/value value.
var kvEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, " ", `\ `, "\t", "\\\t", "\n", "\\\n", "\v", "\\\v", "\f", "\\\f", "\r", "\\\r")

// queryValue writes p in a query as written when a driver reads it back
// whole, percent-encoded otherwise.
func queryValue(p string) string {
	if strings.ContainsAny(p, "&;=%+ ") {
		return url.QueryEscape(p)
	}
	return p
}

// FuzzPasswordsNeverPrint builds connection strings of every shape around
// an arbitrary password and checks that no sequence of three or more of
// its bytes appears in anything that names the store: Redact, the stores'
// String, the errors of opening and reading the store (which quote the
// drivers' errors) and the resolution commands an application prints.
//
// Whether a sequence leaked is told by comparison with a twin password of
// the same shape, whose letters and digits differ (see twin): a sequence
// printed for the password but not for its twin came from the password,
// not from the messages' own words or the URL's syntax.
func FuzzPasswordsNeverPrint(f *testing.F) {
	for _, p := range []string{
		"s3cret", "pa/ss/word", "pa#ss#word", "pa?ss=word", "p@ss@word", "p:ss:word", "pa%2Fss%zz", "it's a secret",
		`back\slash`, "am&per;sand", "sp ace", "päss wörd", "hunter2@db.example.com:5432/app?sslmode=disable",
		"password=hunter2", "'quoted'", "a:b@c/d?e#f", "@@@@", "////", "%41%42%43", "%00%zz",
	} {
		for shape := range dsnShapes {
			f.Add(uint8(shape), p)
		}
	}
	f.Fuzz(func(t *testing.T, shape uint8, password string) {
		s := dsnShapes[int(shape)%len(dsnShapes)]
		if len(password) < 3 {
			return
		}
		got, twinGot := printed(t, s.dsn(password)), printed(t, s.dsn(twin(password)))
		for i := 0; i+3 <= len(password); i++ {
			if w := password[i : i+3]; strings.Contains(got, w) && !strings.Contains(twinGot, w) {
				t.Fatalf("%s: %q shows %q of the password %q:\n%s", s.name, s.dsn(password), w, password, got)
			}
		}
	})
}

// printed is everything that names the store of dsn: its redacted form,
// the store's name, its Locator's flags and the errors of opening and
// reading it, and the commands printed to resolve an issue.
func printed(t *testing.T, dsn string) string {
	// A password as written may move the host to one it names: nothing
	// waits for it long.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	out := []string{storeurl.Redact(dsn), redact.DSN(dsn)}
	for _, r := range audit.Resolutions("c1", "--store", dsn) {
		out = append(out, r.Command)
	}
	// As an application opens it (the first read connects) and as the
	// CLI's read commands do (read-only: Open connects).
	for _, readOnly := range []bool{false, true} {
		open := func(ctx context.Context) (audit.Store, error) {
			return storeurl.Open(ctx, dsn, storeurl.Options{ReadOnly: readOnly})
		}
		if !strings.Contains(dsn, "://") {
			open = func(ctx context.Context) (audit.Store, error) {
				if readOnly {
					return postgres.Open(ctx, dsn, postgres.WithReadOnly())
				}
				return postgres.Open(ctx, dsn)
			}
		}
		store, err := open(ctx)
		if err == nil {
			out = append(out, fmt.Sprint(store), strings.Join(audit.Extend(store).Locator().Args(""), " "))
			_, err = store.Snapshot(ctx)
			store.Close()
		}
		if err != nil {
			out = append(out, err.Error())
		}
	}
	return strings.Join(out, "\n")
}

// twin returns p with every ASCII letter and digit but 0 replaced by
// another of its kind, hex digits by hex digits, so that a connection
// string built around it parses the same way (the same separators at the
// same places, the same percent-escapes valid or not, %00 still NUL) while
// none of p's other letters or digits is where p had it.
func twin(p string) string {
	b := []byte(p)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'f':
			b[i] = 'a' + (c-'a'+3)%6
		case 'A' <= c && c <= 'F':
			b[i] = 'A' + (c-'A'+3)%6
		case 'g' <= c && c <= 'z':
			b[i] = 'g' + (c-'g'+10)%20
		case 'G' <= c && c <= 'Z':
			b[i] = 'G' + (c-'G'+10)%20
		case '1' <= c && c <= '9':
			b[i] = '1' + (c-'1'+4)%9
		}
	}
	return string(b)
}
