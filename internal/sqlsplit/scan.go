package sqlsplit

import "strings"

type tokKind int

const (
	tEOF     tokKind = iota
	tWord            // keyword or unquoted identifier
	tQuoted          // string literal, quoted identifier, dollar-quoted string
	tComment         // -- … , # … , /* … */
	tSemi            // ;
	tOther           // number, operator, punctuation, parameter
)

type token struct {
	kind       tokKind
	start, end int
}

type scanError struct {
	off int
	msg string
}

// scanner cuts a script into tokens, skipping blanks.
type scanner struct {
	src string
	d   Dialect
	i   int
}

func isBlank(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

func isWordStart(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b == '_' || b >= 0x80
}

func (s *scanner) isWordPart(b byte) bool {
	return isWordStart(b) || '0' <= b && b <= '9' || b == '$' && s.d != SQLite
}

func (s *scanner) next() (token, *scanError) {
	src := s.src
	for s.i < len(src) && isBlank(src[s.i]) {
		s.i++
	}
	start := s.i
	if start >= len(src) {
		return token{kind: tEOF, start: start, end: start}, nil
	}
	tok := func(k tokKind) (token, *scanError) { return token{kind: k, start: start, end: s.i}, nil }
	c := src[start]
	var c1 byte
	if start+1 < len(src) {
		c1 = src[start+1]
	}
	switch {
	case c == ';':
		s.i++
		return tok(tSemi)
	case c == '-' && c1 == '-' && (s.d != MySQL || start+2 < len(src) && src[start+2] <= ' '):
		s.lineComment()
		return tok(tComment)
	case c == '#' && s.d == MySQL:
		s.lineComment()
		return tok(tComment)
	case c == '/' && c1 == '*':
		if err := s.blockComment(); err != nil {
			return token{}, err
		}
		if s.d == MySQL && start+2 < len(src) && src[start+2] == '!' {
			// An executable comment: SQL that MySQL runs.
			return tok(tQuoted)
		}
		return tok(tComment)
	case c == '\'':
		if err := s.quoted('\'', s.d == MySQL, "unterminated string literal"); err != nil {
			return token{}, err
		}
		return tok(tQuoted)
	case c == '"':
		if s.d == MySQL {
			if err := s.quoted('"', true, "unterminated string literal"); err != nil {
				return token{}, err
			}
		} else if err := s.quoted('"', false, "unterminated quoted identifier"); err != nil {
			return token{}, err
		}
		return tok(tQuoted)
	case c == '`' && s.d != PostgreSQL:
		if err := s.quoted('`', false, "unterminated quoted identifier"); err != nil {
			return token{}, err
		}
		return tok(tQuoted)
	case c == '[' && s.d == SQLite:
		end := strings.IndexByte(src[start+1:], ']')
		if end < 0 {
			return token{}, &scanError{start, "unterminated quoted identifier"}
		}
		s.i = start + 1 + end + 1
		return tok(tQuoted)
	case c == '$' && s.d == PostgreSQL:
		if '0' <= c1 && c1 <= '9' { // $1, a parameter
			s.i++
			for s.i < len(src) && '0' <= src[s.i] && src[s.i] <= '9' {
				s.i++
			}
			return tok(tOther)
		}
		if tag, ok := s.dollarTag(start); ok {
			end := strings.Index(src[start+len(tag):], tag)
			if end < 0 {
				return token{}, &scanError{start, "unterminated dollar-quoted string " + tag}
			}
			s.i = start + len(tag) + end + len(tag)
			return tok(tQuoted)
		}
		s.i++
		return tok(tOther)
	case (c == 'E' || c == 'e') && c1 == '\'' && s.d == PostgreSQL:
		s.i++
		if err := s.quoted('\'', true, "unterminated string literal"); err != nil {
			err.off = start
			return token{}, err
		}
		return tok(tQuoted)
	case isWordStart(c):
		s.i++
		for s.i < len(src) && s.isWordPart(src[s.i]) {
			s.i++
		}
		return tok(tWord)
	case '0' <= c && c <= '9':
		s.i++
		for s.i < len(src) && (s.isWordPart(src[s.i]) || src[s.i] == '.') {
			s.i++
		}
		return tok(tOther)
	}
	s.i++
	return tok(tOther)
}

func (s *scanner) lineComment() {
	if nl := strings.IndexByte(s.src[s.i:], '\n'); nl >= 0 {
		s.i += nl
	} else {
		s.i = len(s.src)
	}
}

// blockComment consumes a /* */ comment, nested in PostgreSQL.
func (s *scanner) blockComment() *scanError {
	start := s.i
	s.i += 2
	depth := 1
	for s.i < len(s.src) {
		switch {
		case s.src[s.i] == '*' && s.i+1 < len(s.src) && s.src[s.i+1] == '/':
			s.i += 2
			depth--
			if depth == 0 {
				return nil
			}
		case s.src[s.i] == '/' && s.i+1 < len(s.src) && s.src[s.i+1] == '*' && s.d == PostgreSQL:
			s.i += 2
			depth++
		default:
			s.i++
		}
	}
	return &scanError{start, "unterminated block comment"}
}

// quoted consumes a literal opened by q at s.i: a doubled q stands for
// itself and, when backslash is true, a backslash escapes the next byte.
func (s *scanner) quoted(q byte, backslash bool, msg string) *scanError {
	start := s.i
	s.i++
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case '\\':
			if backslash {
				s.i++
			}
		case q:
			if s.i+1 < len(s.src) && s.src[s.i+1] == q {
				s.i++
			} else {
				s.i++
				return nil
			}
		}
		s.i++
	}
	return &scanError{start, msg}
}

// dollarTag returns the opening $tag$ of a dollar-quoted string at off.
func (s *scanner) dollarTag(off int) (string, bool) {
	src := s.src
	i := off + 1
	if i < len(src) && src[i] == '$' {
		return "$$", true
	}
	if i >= len(src) || !isWordStart(src[i]) {
		return "", false
	}
	for i < len(src) && (isWordStart(src[i]) || '0' <= src[i] && src[i] <= '9') {
		i++
	}
	if i < len(src) && src[i] == '$' {
		return src[off : i+1], true
	}
	return "", false
}
