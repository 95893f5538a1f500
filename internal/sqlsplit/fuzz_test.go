package sqlsplit

import (
	"strings"
	"testing"
)

// FuzzSplit checks, for every dialect, that Split does not panic and that
// when it succeeds:
//
//   - each statement is src[Offset:Offset+len(SQL)], non-empty, trimmed,
//     its Line and Col those of Offset, statements in order and apart;
//   - every gap between statements (and before the first, after the last)
//     splits, on its own, into no statement and no error: what Split
//     leaves out is only blanks, comments and semicolons, so no statement
//     text is lost;
//   - each statement, split on its own, is one statement equal to itself:
//     the boundaries do not depend on the surrounding text;
//   - the statements joined with ";" (after a line end when one ends in a
//     line comment) split into the same statements.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"SELECT 1; SELECT 2",
		"INSERT INTO t VALUES ('a;b', 'it''s');",
		"SELECT E'\\';'; SELECT $$;$$; SELECT $a$ $$ $a$;",
		"/* a /* b */ ; */ SELECT 1 -- c;\n;",
		"CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT CASE WHEN 1 THEN 1 END; END; SELECT 2",
		"CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END;",
		"SELECT `a;b`, [c;d], \"e;f\" # g;\n;",
		"SELECT 1--1;\n-- x\n",
		"DELIMITER //",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, d := range all {
			stmts, err := Split(src, d)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("%v: error %T is not an *Error", d, err)
				}
				continue
			}
			ls := newLines(src)
			prev := 0
			for i, s := range stmts {
				if s.Offset < prev || s.Offset+len(s.SQL) > len(src) || src[s.Offset:s.Offset+len(s.SQL)] != s.SQL {
					t.Fatalf("%v: statement %d %q at offset %d is not in order in the source", d, i, s.SQL, s.Offset)
				}
				if s.SQL == "" || strings.Trim(s.SQL, " \t\n\r\f\v") != s.SQL {
					t.Fatalf("%v: statement %d %q is empty or not trimmed", d, i, s.SQL)
				}
				if l, c := ls.pos(s.Offset); l != s.Line || c != s.Col {
					t.Fatalf("%v: statement %d at %d:%d, its offset is at %d:%d", d, i, s.Line, s.Col, l, c)
				}
				checkGap(t, d, src[prev:s.Offset])
				prev = s.Offset + len(s.SQL)

				alone, err := Split(s.SQL, d)
				if err != nil || len(alone) != 1 || alone[0].SQL != s.SQL {
					t.Fatalf("%v: statement %d %q split alone = %q, %v", d, i, s.SQL, sqls(alone), err)
				}
			}
			checkGap(t, d, src[prev:])

			var b strings.Builder
			for _, s := range stmts {
				b.WriteString(s.SQL)
				// A statement ending in a line comment needs a line
				// end before its ';'; one ending in "-" must not get it
				// in MySQL ("-" "-" then a line end is a comment).
				if ss, _ := Split(s.SQL+";", d); len(ss) == 1 && ss[0].Terminated {
					b.WriteString(";\n")
				} else {
					b.WriteString("\n;\n")
				}
			}
			joined := b.String()
			again, err := Split(joined, d)
			if err != nil || !equal(sqls(again), sqls(stmts)) {
				t.Fatalf("%v: the joined statements split into %q, %v; want %q", d, sqls(again), err, sqls(stmts))
			}
		}
	})
}

func checkGap(t *testing.T, d Dialect, gap string) {
	t.Helper()
	if ss, err := Split(gap, d); err != nil || len(ss) != 0 {
		t.Fatalf("%v: the text between statements %q holds statements %q, %v", d, gap, sqls(ss), err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
