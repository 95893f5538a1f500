package postgres

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// redactDSN returns connString without any password, for messages and
// String. A URL keeps its shape and every other parameter; anything else
// (keyword/value strings, URLs net/url cannot parse) is rendered from the
// parsed configuration as postgres://user@host:port/db.
func redactDSN(connString string, cfg *pgconn.Config) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		if u, err := url.Parse(connString); err == nil {
			if u.User != nil {
				u.User = url.User(u.User.Username())
			}
			u.RawQuery = withoutSecrets(u.RawQuery)
			u.ForceQuery = false
			return u.String()
		}
	}
	return configDSN(cfg)
}

// poolDSN describes the target of a caller's pool. The connection string
// the pool was parsed from is the most informative, but the caller may have
// changed the configuration since, so it is used only while it still names
// the same server, database and user.
func poolDSN(cfg *pgxpool.Config) string {
	conn := &cfg.ConnConfig.Config
	if parsed, err := pgconn.ParseConfig(cfg.ConnString()); err == nil &&
		parsed.Host == conn.Host && parsed.Port == conn.Port &&
		parsed.Database == conn.Database && parsed.User == conn.User {
		return redactDSN(cfg.ConnString(), conn)
	}
	return configDSN(conn)
}

// withoutSecrets drops the password parameters from a raw query, keeping the
// order and encoding of the others.
func withoutSecrets(rawQuery string) string {
	var kept []string
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		switch strings.ToLower(key) {
		case "password", "sslpassword":
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&")
}

// configDSN renders the connection target of cfg as a URL without secrets.
func configDSN(cfg *pgconn.Config) string {
	u := url.URL{Scheme: "postgres", Path: "/" + cfg.Database}
	if cfg.User != "" {
		u.User = url.User(cfg.User)
	}
	port := strconv.Itoa(int(cfg.Port))
	if strings.HasPrefix(cfg.Host, "/") {
		// A unix socket directory cannot be a URL host; libpq takes it as
		// the host parameter.
		u.Host = ":" + port
		u.RawQuery = "host=" + url.QueryEscape(cfg.Host)
	} else {
		u.Host = net.JoinHostPort(cfg.Host, port)
	}
	return u.String()
}

// address is host:port (or the socket directory) of cfg's primary host, for
// connection error messages.
func address(cfg *pgconn.Config) string {
	if strings.HasPrefix(cfg.Host, "/") {
		return cfg.Host + "/.s.PGSQL." + strconv.Itoa(int(cfg.Port))
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}
