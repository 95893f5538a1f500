package mongo

import (
	"errors"
	"net/url"
	"strings"

	"github.com/flamingock/flamingock-go/internal/redact"
)

// server is what the store takes from a connection URI for itself: how to
// name the server without secrets, where it is, and the database the path
// names. The driver parses the URI again, fully, in Open.
type server struct {
	// redacted is the URI with its password and secret options shown as
	// xxxxx (internal/redact).
	redacted string
	// hosts is the host list as written: "h1:27017,h2:27017", or the SRV
	// name of a mongodb+srv URI.
	hosts string
	// database is the unescaped path; empty when the URI names none.
	database string
}

// parseURI reads uri the way the driver does (go.mongodb.org/mongo-driver/v2
// x/mongo/driver/connstring), without DNS lookups. Its errors never contain
// the password: the driver's own parse errors would quote a bad escape in it,
// so the password is checked here first.
func parseURI(uri string) (server, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || (scheme != "mongodb" && scheme != "mongodb+srv") {
		return server{}, errors.New(`invalid URI: it must start with "mongodb://" or "mongodb+srv://"`)
	}
	if redact.Ambiguous(uri) {
		return server{}, errors.New("invalid URI: the password is not percent-encoded: encode '/', ':', '@' and '%' as %2F, %3A, %40 and %25 (and '@' in options)")
	}
	if at := strings.Index(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		rest = rest[at+1:]
		u, password, _ := strings.Cut(userinfo, ":")
		if _, err := url.PathUnescape(u); err != nil || strings.Contains(u, "/") {
			return server{}, errors.New("invalid URI: the user name is not percent-encoded: encode '/', ':', '@' and '%' as %2F, %3A, %40 and %25")
		}
		if _, err := url.PathUnescape(password); err != nil || strings.ContainsAny(password, ":/") {
			return server{}, errors.New("invalid URI: the password is not percent-encoded: encode '/', ':', '@' and '%' as %2F, %3A, %40 and %25")
		}
	}
	s := server{hosts: rest}
	var path string
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		s.hosts = rest[:i]
		if rest[i] == '?' {
			return server{}, errors.New("invalid URI: it needs a / between the hosts and the ?")
		}
		path = rest[i+1:]
		path, _, _ = strings.Cut(path, "?")
	}
	if s.hosts == "" {
		return server{}, errors.New("invalid URI: it names no host")
	}
	db, err := url.QueryUnescape(path)
	if err != nil {
		return server{}, errors.New("invalid URI: the database name in its path is not percent-encoded")
	}
	s.database = db
	s.redacted = redact.DSN(uri)
	return s, nil
}
