package postgres

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flamingock/flamingock-go/audit"
)

// privilege is what an operation needs from the database, so that a
// permission error can say which GRANT supplies it.
type privilege int

const (
	needInspect privilege = iota // pg_catalog is readable by every user
	needCreateSchema
	needCreateTables
	needReadTrail
	needAppend
	needLock
	needCheckpoint
	needOwner // to upgrade the tables of an earlier layout
)

// grants returns the statements that give the store's user p.
func (s *Store) grants(p privilege) string {
	user := pgx.Identifier{s.conn.User}.Sanitize()
	schema := pgx.Identifier{s.schema}.Sanitize()
	usage := "GRANT USAGE ON SCHEMA " + schema + " TO " + user
	var g []string
	switch p {
	case needCreateSchema:
		g = []string{"GRANT CREATE ON DATABASE " + pgx.Identifier{s.conn.Database}.Sanitize() + " TO " + user +
			" (or create the schema beforehand: CREATE SCHEMA " + schema + " AUTHORIZATION " + user + ")"}
	case needCreateTables:
		g = []string{"GRANT CREATE ON SCHEMA " + schema + " TO " + user +
			" (or open the store once as a user that may create them, then grant this one access)"}
	case needReadTrail:
		g = []string{usage, "GRANT SELECT ON " + s.audit.quoted + " TO " + user}
	case needAppend:
		// The fence check locks the lease row FOR SHARE, which PostgreSQL
		// only allows with UPDATE on the table.
		g = []string{usage, "GRANT SELECT, INSERT ON " + s.audit.quoted + " TO " + user,
			"GRANT SELECT, UPDATE ON " + s.lock.quoted + " TO " + user}
	case needLock:
		g = []string{usage, "GRANT SELECT, INSERT, UPDATE ON " + s.lock.quoted + " TO " + user}
	case needCheckpoint:
		g = []string{usage, "GRANT SELECT ON " + s.audit.quoted + " TO " + user,
			"GRANT SELECT, INSERT, UPDATE ON " + s.checkpoint.quoted + " TO " + user}
	case needOwner:
		// ALTER TABLE takes the table's owner; no GRANT gives it.
		return "to own " + s.audit.quoted + ", a table of an earlier layout that this release upgrades in place: " +
			"open the store once as the table's owner (the user that created it), then as this user again"
	default:
		return ""
	}
	return strings.Join(g, "; ")
}

// explain wraps err from the operation op (for example "append to …") with
// what to do about it when the cause is one users meet: the server is not
// there, the credentials or database are wrong, a privilege is missing.
// The DSN's secrets are scrubbed from the message: pgx quotes the hosts and
// database it parsed, which hold pieces of a password whose '@' or '/' was
// not percent-encoded.
//
// An error that certainly left the database untouched also matches
// audit.ErrUnavailable, so that the runtime may retry even a write: a
// connection that could not be established, or a failure pgx guarantees
// happened before any byte of the request was sent. A connection lost
// after that is not marked: the server may have run the statement.
func (s *Store) explain(op string, need privilege, err error) error {
	explained := s.secrets.Error(s.advise(op, need, err))
	if unreached(err) {
		return audit.Unavailable(explained)
	}
	return explained
}

// unreached reports whether err certainly came before the server ran
// anything of the request. A server that answered the connection attempt
// with an error (a wrong user or database) was reached and will refuse a
// retry alike, unless it said it is starting up.
func unreached(err error) bool {
	var connectErr *pgconn.ConnectError
	if !errors.As(err, &connectErr) && !pgconn.SafeToRetry(err) {
		return false
	}
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr) || pgErr.Code == "57P03" // cannot_connect_now
}

func (s *Store) advise(op string, need privilege, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		var advice string
		switch pgErr.Code {
		case "42501": // insufficient_privilege
			if g := s.grants(need); g != "" {
				advice = "the user needs: " + g
			}
		case "28P01": // invalid_password
			advice = "check the user and password of " + s.dsn
		case "28000": // invalid_authorization_specification
			advice = "check the user of " + s.dsn + " and the server's pg_hba.conf"
		case "3D000": // invalid_catalog_name
			advice = "create the database (CREATE DATABASE " + pgx.Identifier{s.conn.Database}.Sanitize() +
				") or fix the DSN " + s.dsn
		case "57P03": // cannot_connect_now
			advice = "the server is starting up or shutting down: retry shortly"
		}
		if advice != "" {
			return fmt.Errorf("postgres: %s: %w: %s", op, err, advice)
		}
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		addr := address(s.conn)
		var dnsErr *net.DNSError
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return fmt.Errorf("postgres: cannot connect to PostgreSQL at %s: connection refused: "+
				"is PostgreSQL running and listening there? (%w)", addr, err)
		case errors.As(err, &dnsErr):
			return fmt.Errorf("postgres: cannot resolve the host %q of %s: check the DSN (%w)", s.conn.Host, s.dsn, err)
		case pgconn.Timeout(err):
			return fmt.Errorf("postgres: timed out connecting to PostgreSQL at %s: "+
				"is the server reachable from here (host, port, firewall)? (%w)", addr, err)
		}
		return fmt.Errorf("postgres: cannot connect to PostgreSQL at %s: %w", addr, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
