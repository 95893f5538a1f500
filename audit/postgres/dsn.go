package postgres

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flamingock/flamingock-go/internal/redact"
)

// redactDSN names the store of connString without its secrets, for
// messages and String. A URL keeps its shape and every parameter, its
// password shown as xxxxx (internal/redact); a keyword/value string is
// rendered from the parsed configuration as a URL the flamingock CLI takes,
// postgres://user:xxxxx@host:port/db (":xxxxx" only when a password is set).
func redactDSN(connString string, cfg *pgconn.Config) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		return redact.DSN(connString)
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

// configDSN renders the connection target of cfg as a URL without secrets.
func configDSN(cfg *pgconn.Config) string {
	u := url.URL{Scheme: "postgres", Path: "/" + cfg.Database}
	switch {
	case cfg.Password != "":
		u.User = url.UserPassword(cfg.User, redact.Mask)
	case cfg.User != "":
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

// parseError rewrites an error of pgx's ParseConfig so that it quotes
// nothing of the DSN: pgx quotes it with a best-effort redaction that lets
// parts of a password through (an unencoded '/' or '#' in it, a quote
// escaped inside a keyword/value password). What remains, pgx's reason, is
// scrubbed of the DSN's secrets too: it may quote a misread part of one.
func parseError(err error, secrets redact.Secrets) error {
	var pce *pgconn.ParseConfigError
	if !errors.As(err, &pce) {
		return secrets.Error(err)
	}
	bare := *pce
	bare.ConnString = ""
	reason := strings.TrimPrefix(bare.Error(), "cannot parse ``: ")
	return &parseConfigError{msg: secrets.String(reason), err: pce.Unwrap()}
}

// parseConfigError is pgx's reason for refusing a DSN, without the DSN. It
// wraps pgx's cause, not the *pgconn.ParseConfigError, which holds the DSN.
type parseConfigError struct {
	msg string
	err error
}

func (e *parseConfigError) Error() string { return e.msg }
func (e *parseConfigError) Unwrap() error { return e.err }
