// Package goname turns the ids of flamingock directives into Go names. The
// generator names the fields of a stage's Targets struct with it, and the
// runtime names the same field when it says which one to set: one
// function, so that the two never disagree.
package goname

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field returns the exported Go field name of target id: its parts between
// '-', '_' and '.' capitalized and joined, "app-db" and "app.db" giving
// AppDb, and a T in front when that would not start with a letter ("1db"
// gives T1db).
func Field(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		b.WriteString(UpperFirst(part))
	}
	s := b.String()
	if r, _ := utf8.DecodeRuneInString(s); s == "" || !unicode.IsLetter(r) {
		s = "T" + s
	}
	return s
}

// UpperFirst returns s with its first letter in upper case.
func UpperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
