package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/flamingock/flamingock-go/audit"
)

// privilege is what an operation needs, so that a permission error can say
// which GRANT supplies it.
type privilege int

const (
	needInspect privilege = iota
	needCreate
	needRead
	needAppend
	needLock
	needCheckpoint
)

// grants returns the statement that gives the store's user p.
func (s *Store) grants(p privilege) string {
	user := "'" + s.user + "'@'%'"
	if s.user == "" {
		user = "the store's user"
	}
	var g []string
	switch p {
	case needCreate:
		return "GRANT CREATE, SELECT, INSERT, UPDATE ON the store's database TO " + user +
			" (or open the store once as a user that may create its tables)"
	case needRead, needInspect:
		g = []string{"GRANT SELECT ON " + s.audit.quoted + ", " + s.version.quoted + ", " + s.lock.quoted + ", " + s.checkpoint.quoted}
	case needAppend:
		// LOCK IN SHARE MODE on the lease row takes SELECT only.
		g = []string{"GRANT SELECT, INSERT ON " + s.audit.quoted, "GRANT SELECT ON " + s.lock.quoted}
	case needLock:
		g = []string{"GRANT SELECT, INSERT, UPDATE ON " + s.lock.quoted}
	case needCheckpoint:
		g = []string{"GRANT SELECT ON " + s.audit.quoted, "GRANT SELECT, INSERT, UPDATE ON " + s.checkpoint.quoted}
	}
	for i := range g {
		g[i] += " TO " + user
	}
	return strings.Join(g, "; ")
}

// explain turns err, from doing what, into a message that says what to do,
// keeping err in the chain (scrubbed of the DSN's secrets).
func (s *Store) explain(what string, p privilege, err error) error {
	var st stop
	if errors.As(err, &st) {
		return st.err
	}
	var corrupt *audit.CorruptError
	if errors.As(err, &corrupt) {
		return err
	}
	err = s.secrets.Error(err)
	where := s.String()
	var me *mysqldriver.MySQLError
	if errors.As(err, &me) {
		if strings.Contains(me.Message, "max_allowed_packet") {
			// 1153, 1301, or 1105 for an argument sent in pieces
			// (mysql_send_long_data) when the driver could not interpolate it.
			return fmt.Errorf("mysql: %s: the statement is larger than the server's max_allowed_packet: "+
				"shorten what it stores (the metadata, the error message) or raise max_allowed_packet; nothing was stored: %w", what, err)
		}
		switch me.Number {
		case 1045: // ER_ACCESS_DENIED_ERROR
			return fmt.Errorf("mysql: %s: the server refused the user or password of %s: check them: %w", what, where, err)
		case 1044, 1142, 1143, 1227: // database, table, column access denied; specific privilege
			return fmt.Errorf("mysql: %s: permission denied; the store's user needs: %s: %w", what, s.grants(p), err)
		case 1049: // ER_BAD_DB_ERROR
			return fmt.Errorf("mysql: %s: the database of %s does not exist: create it (CREATE DATABASE …) or fix the DSN: %w", what, where, err)
		case 1146: // ER_NO_SUCH_TABLE
			return fmt.Errorf("mysql: %s: a table of the store is missing: %w", what, err)
		case 1153, 1301: // ER_NET_PACKET_TOO_LARGE, ER_WARN_ALLOWED_PACKET_OVERFLOWED
			return fmt.Errorf("mysql: %s: the statement is larger than the server's max_allowed_packet: "+
				"shorten what it stores (the metadata, the error message) or raise max_allowed_packet; nothing was stored: %w", what, err)
		case 1406, 1366, 1264: // data too long, incorrect string value, out of range
			return fmt.Errorf("mysql: %s: a value does not fit its column (invalid UTF-8, or too long): nothing was stored: %w", what, err)
		case 1205: // ER_LOCK_WAIT_TIMEOUT
			return audit.Unavailable(fmt.Errorf("mysql: %s: waited longer than innodb_lock_wait_timeout for a row lock (another transaction holds it); nothing was stored: %w", what, err))
		case 1290, 1836: // read-only server (--read-only), read-only transaction
			return fmt.Errorf("mysql: %s: the server %s is read-only (a replica?): point the store at the primary: %w", what, where, err)
		}
		return fmt.Errorf("mysql: %s: %w", what, err)
	}
	switch {
	case errors.Is(err, mysqldriver.ErrPktTooLarge):
		return fmt.Errorf("mysql: %s: the statement is larger than the server's max_allowed_packet, so it was not sent: "+
			"shorten what it stores (the metadata, the error message) or raise max_allowed_packet; nothing was stored: %w", what, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("mysql: %s: %w", what, err)
	case errors.Is(err, mysqldriver.ErrInvalidConn):
		return fmt.Errorf("mysql: %s: the connection to %s was lost during the call: whether a write was stored is unknown, the trail tells: %w", what, where, err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		hint := "is MySQL or MariaDB running at " + s.addr + "?"
		if errors.Is(err, syscall.ECONNREFUSED) {
			hint = "connection refused: is MySQL or MariaDB running at " + s.addr + "?"
		}
		return audit.Unavailable(fmt.Errorf("mysql: %s: cannot connect to %s: %s: %w", what, where, hint, err))
	}
	if errors.Is(err, driver.ErrBadConn) {
		return audit.Unavailable(fmt.Errorf("mysql: %s: the connection to %s failed before the request was sent: %w", what, where, err))
	}
	return fmt.Errorf("mysql: %s: %w", what, err)
}

// isMissingTable reports an error a missing table or column causes.
func isMissingTable(err error) bool {
	var me *mysqldriver.MySQLError
	return errors.As(err, &me) && (me.Number == 1146 || me.Number == 1054)
}
