package annotations

import (
	"fmt"
	"go/ast"
	"go/token"
	"strconv"
)

// The package directive of SQL files. A package of changes whose directory
// holds .sql files (goose, golang-migrate or flamingock form; see package
// generator/sqlfiles) says once, in any comment of one of its Go files,
// what they run on:
//
//	//flamingock:sql target=appdb handle=database/sql dialect=sqlite
//	//flamingock:sql target=maindb handle=pgx dialect=postgres min-postgres=12
//
// Its attributes, all but min-postgres required:
//
//	target=ID                  the target every SQL file of the package runs on: the
//	                           rules of target= in //flamingock:change
//	handle=database/sql|pgx    the handle the target gives: *sql.Tx (a sqltarget) or
//	                           pgx.Tx (a pgxtarget, dialect=postgres only); a Go
//	                           change on the same target must take the same one
//	dialect=postgres|sqlite|mysql
//	                           picks the variant files (.postgres.sql, …) and the
//	                           rules that split the files into statements
//	min-postgres=N             the oldest PostgreSQL major version the changes run
//	                           on (dialect=postgres only): below 12, ALTER TYPE … ADD
//	                           VALUE cannot run in a transaction
//
// The values are written as in //flamingock:change.

// Handles of the package directive.
const (
	HandleDatabaseSQL = "database/sql"
	HandlePgx         = "pgx"
)

const (
	attrHandle      = "handle"
	attrDialect     = "dialect"
	attrMinPostgres = "min-postgres"
)

var knownSQLAttrs = []string{attrTarget, attrHandle, attrDialect, attrMinPostgres}

// SQL is one parsed //flamingock:sql package directive.
type SQL struct {
	// Pos is the position of the directive's leading "//".
	Pos token.Pos
	// Target is the id of the target the package's SQL files run on.
	Target string
	// Handle is HandleDatabaseSQL or HandlePgx.
	Handle string
	// Dialect is postgres, sqlite or mysql.
	Dialect string
	// MinPostgres is the min-postgres= attribute, 0 when absent.
	MinPostgres int

	attrs map[string]token.Pos
}

// AttrPos returns the position of attribute name ("target", "handle", …)
// in the directive, or the directive's position when the attribute is
// absent.
func (s SQL) AttrPos(name string) token.Pos {
	if p, ok := s.attrs[name]; ok {
		return p
	}
	return s.Pos
}

// ParseSQLComment parses c when it is a //flamingock:sql package directive.
//
// ok is false when c is not one, and true when it is one or looks like a
// mistyped one ("// flamingock:sql", with a space; a misspelt name such as
// //flamingock:sqll is ParseComment's to report). err, when non-nil, is an
// ErrorList holding every problem found, and s then holds what could be
// parsed.
func ParseSQLComment(c *ast.Comment) (s SQL, ok bool, err error) {
	d, isDirective := ast.ParseDirective(c.Slash, c.Text)
	if !isDirective || d.Tool != Tool {
		if looksLikeDirective(c.Text) == sqlDirectiveName {
			return SQL{Pos: c.Slash}, true, ErrorList{{Pos: c.Slash, Msg: `malformed directive: write "//flamingock:sql" with no space after "//" or ":"`}}
		}
		return SQL{}, false, nil
	}
	if d.Name != sqlDirectiveName {
		return SQL{}, false, nil
	}
	s = SQL{Pos: d.Slash}
	var errs ErrorList
	fail := func(pos token.Pos, format string, args ...any) {
		errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
	}
	attrs, more, whole := parseAttrs(d, knownSQLAttrs, s.set)
	s.attrs = attrs
	errs = append(errs, more...)
	if whole {
		for _, m := range []struct{ name, msg string }{
			{attrTarget, "missing target: add target=… (the id of the target the package's SQL files run on)"},
			{attrHandle, "missing handle: add handle=database/sql (a sqltarget) or handle=pgx (a pgxtarget)"},
			{attrDialect, "missing dialect: add dialect=postgres, dialect=sqlite or dialect=mysql"},
		} {
			if _, ok := attrs[m.name]; !ok {
				fail(d.Slash, "%s", m.msg)
			}
		}
		if s.Handle == HandlePgx && s.Dialect != "" && s.Dialect != "postgres" {
			fail(s.AttrPos(attrHandle), "handle=pgx is for PostgreSQL, and the dialect is %s: use handle=database/sql", s.Dialect)
		}
		if _, has := attrs[attrMinPostgres]; has && s.Dialect != "" && s.Dialect != "postgres" {
			fail(s.AttrPos(attrMinPostgres), "min-postgres= is for dialect=postgres, and the dialect is %s", s.Dialect)
		}
	}
	if len(errs) > 0 {
		return s, true, errs
	}
	return s, true, nil
}

// set stores attribute name=value in s, or returns why value is invalid.
func (s *SQL) set(name, value string) string {
	switch name {
	case attrTarget:
		var c Change
		if msg := c.set(attrTarget, value); msg != "" {
			return msg
		}
		s.Target = c.Target
	case attrHandle:
		if value != HandleDatabaseSQL && value != HandlePgx {
			return fmt.Sprintf("invalid handle %q: want %s or %s", value, HandleDatabaseSQL, HandlePgx)
		}
		s.Handle = value
	case attrDialect:
		switch value {
		case "postgres", "sqlite", "mysql":
			s.Dialect = value
		default:
			return fmt.Sprintf("invalid dialect %q: want postgres, sqlite or mysql", value)
		}
	case attrMinPostgres:
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 1000 || strconv.Itoa(n) != value {
			return fmt.Sprintf("invalid min-postgres %q: want a PostgreSQL major version such as 12", value)
		}
		s.MinPostgres = n
	}
	return ""
}
