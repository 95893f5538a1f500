package annotations

import (
	"errors"
	"go/ast"
	"go/token"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flamingock/flamingock-go/audit"
)

// parseLine parses text as a comment whose "//" is at position 1, so that
// a token.Pos in the result is the 1-based column in text.
func parseLine(text string) (Change, bool, error) {
	return ParseComment(&ast.Comment{Slash: 1, Text: text})
}

func TestParseCommentAcceptsValidDirectives(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Change
	}{
		{
			name: "every attribute is read",
			text: `//flamingock:change id=create-users order=1 target=appdb author=alice rollback=DropUsers recovery=retry transactional=false compensate=true`,
			want: Change{ID: "create-users", Order: audit.OrderOf(1), HasOrder: true, Target: "appdb", Author: "alice",
				Rollback: "DropUsers", Recovery: audit.RecoveryRetry, Transactional: false, Compensate: true},
		},
		{
			name: "defaults are manual recovery and transactional",
			text: `//flamingock:change id=a target=t order=3`,
			want: Change{ID: "a", Order: audit.OrderOf(3), HasOrder: true, Target: "t", Recovery: audit.RecoveryManual, Transactional: true},
		},
		{
			name: "order is optional so the file name can give it",
			text: `//flamingock:change id=a target=t`,
			want: Change{ID: "a", Target: "t", Recovery: audit.RecoveryManual, Transactional: true},
		},
		{
			name: "order is a decimal number with leading zeros allowed",
			text: `//flamingock:change id=a target=t order=010`,
			want: Change{ID: "a", Order: audit.OrderOf(10), HasOrder: true, Target: "t", Recovery: audit.RecoveryManual, Transactional: true},
		},
		{
			name: "an order has any number of digits",
			text: `//flamingock:change id=a target=t order=20150101000001000000123`,
			want: Change{ID: "a", Order: audit.MustParseOrder("20150101000001000000123"), HasOrder: true, Target: "t", Recovery: audit.RecoveryManual, Transactional: true},
		},
		{
			name: "a quoted whole attribute may contain spaces and quotes",
			text: `//flamingock:change id=a target=t "author=Alice \"Al\" Smith" ` + "`order=2`",
			want: Change{ID: "a", Order: audit.OrderOf(2), HasOrder: true, Target: "t", Author: `Alice "Al" Smith`,
				Recovery: audit.RecoveryManual, Transactional: true},
		},
		{
			name: "ids may use dots underscores and dashes after the first character",
			text: "//flamingock:change\tid=0.users_v2-x   target=app.db transactional=true",
			want: Change{ID: "0.users_v2-x", Target: "app.db", Recovery: audit.RecoveryManual, Transactional: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseLine(tt.text)
			if !ok || err != nil {
				t.Fatalf("ParseComment(%q) = ok %v, err %v; want ok, no error", tt.text, ok, err)
			}
			tt.want.Pos = 1
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(Change{})); diff != "" {
				t.Errorf("ParseComment(%q) mismatch (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestAttrPosPointsAtTheAttributeOrTheDirective(t *testing.T) {
	text := `//flamingock:change id=a order=1 target=t`
	ch, _, err := parseLine(text)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]token.Pos{
		"id":       token.Pos(strings.Index(text, "id=") + 1),
		"order":    token.Pos(strings.Index(text, "order=") + 1),
		"target":   token.Pos(strings.Index(text, "target=") + 1),
		"rollback": 1, // absent: the directive itself
	} {
		if got := ch.AttrPos(name); got != want {
			t.Errorf("AttrPos(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestParseCommentIgnoresOtherComments(t *testing.T) {
	for _, text := range []string{
		"// CreateUsers creates the users table.",
		"//go:generate go tool flamingock-gen",
		"/* //flamingock:change id=a target=t */",
		"//flamingockx:change id=a target=t",
		"// flamingock: the migrations of the app",
		"//flamingock",
		"",
	} {
		t.Run(text, func(t *testing.T) {
			if _, ok, err := parseLine(text); ok || err != nil {
				t.Errorf("ParseComment(%q) = ok %v, err %v; want not a directive", text, ok, err)
			}
		})
	}
}

// wantErr is one expected error: the column it points at and its message.
type wantErr struct {
	col int
	msg string
}

func TestParseCommentReportsEveryProblemAtItsArgument(t *testing.T) {
	const quoteHint = `a value with quotes or spaces is written by quoting the whole attribute, as in "author=Alice Smith"`
	tests := []struct {
		name string
		text string
		want []wantErr
	}{
		{
			name: "a space after the slashes is reported, not ignored",
			text: `// flamingock:change id=a target=t`,
			want: []wantErr{{1, `malformed directive: write "//flamingock:change" with no space after "//" or ":"`}},
		},
		{
			name: "a space after the colon is reported",
			text: `//flamingock: change id=a target=t`,
			want: []wantErr{{1, `malformed directive: write "//flamingock:change" with no space after "//" or ":"`}},
		},
		{
			name: "a misspelled directive name suggests change",
			text: `//flamingock:chnage id=a target=t`,
			want: []wantErr{{1, `unknown directive //flamingock:chnage (did you mean //flamingock:change?)`}},
		},
		{
			name: "an unrelated directive name is unknown",
			text: `//flamingock:template id=a`,
			want: []wantErr{{1, `unknown directive //flamingock:template; flamingock's directives are //flamingock:change, //flamingock:sql and //flamingock:yaml`}},
		},
		{
			name: "a misspelled attribute suggests the closest known one",
			text: `//flamingock:change id=a ordr=1 target=t`,
			want: []wantErr{{26, `unknown attribute "ordr" (did you mean "order"?)`}},
		},
		{
			name: "an attribute name is case sensitive",
			text: `//flamingock:change ID=a target=t`,
			want: []wantErr{{21, `unknown attribute "ID" (did you mean "id"?)`}, {1, `missing id: add id=… (a unique change id)`}},
		},
		{
			name: "an unrelated attribute lists the known ones",
			text: `//flamingock:change id=a target=t color=red`,
			want: []wantErr{{35, `unknown attribute "color"; known attributes are id, order, target, author, rollback, recovery, transactional, compensate, profile`}},
		},
		{
			name: "a repeated attribute is reported at its second use",
			text: `//flamingock:change id=a target=t id=b`,
			want: []wantErr{{35, `repeated attribute "id"`}},
		},
		{
			name: "a word without an equals sign is malformed",
			text: `//flamingock:change id=a target=t create-users`,
			want: []wantErr{{35, `malformed attribute "create-users": want name=value`}},
		},
		{
			name: "an attribute without a name is malformed",
			text: `//flamingock:change id=a target=t =x`,
			want: []wantErr{{35, `malformed attribute "=x": want name=value`}},
		},
		{
			name: "an empty value is reported",
			text: `//flamingock:change id=a target=t author=`,
			want: []wantErr{{35, `empty value for author`}},
		},
		{
			name: "an empty quoted value is reported",
			text: `//flamingock:change id=a target=t "author="`,
			want: []wantErr{{35, `empty value for author`}},
		},
		{
			name: "a quote inside a bare value says how to quote",
			text: `//flamingock:change id=a target=t author="Alice Smith"`,
			want: []wantErr{{35, `malformed value for author: ` + quoteHint}},
		},
		{
			name: "an unterminated quoted attribute is malformed",
			text: `//flamingock:change id=a target=t "author=Alice`,
			want: []wantErr{{35, `malformed quoted attribute: quote a whole attribute as a Go string followed by a space, as in "author=Alice Smith"`}},
		},
		{
			name: "a quoted attribute glued to the next word is malformed",
			text: `//flamingock:change id=a "target=t"order=1`,
			want: []wantErr{{26, `malformed quoted attribute: quote a whole attribute as a Go string followed by a space, as in "author=Alice Smith"`}},
		},
		{
			name: "missing id and target are reported at the directive",
			text: `//flamingock:change order=1`,
			want: []wantErr{
				{1, `missing id: add id=… (a unique change id)`},
				{1, `missing target: add target=… (the id of the system the change modifies)`},
			},
		},
		{
			name: "an id outside the charset states the rule",
			text: `//flamingock:change "id=create users" target=t`,
			want: []wantErr{{21, `invalid id "create users": it must start with an ASCII letter or digit and contain only letters, digits, '.', '_' and '-'`}},
		},
		{
			name: "an id cannot start with a dash",
			text: `//flamingock:change id=-a target=t`,
			want: []wantErr{{21, `invalid id "-a": it must start with an ASCII letter or digit and contain only letters, digits, '.', '_' and '-'`}},
		},
		{
			name: "a target outside the charset states the rule",
			text: `//flamingock:change id=a target=app/db`,
			want: []wantErr{{26, `invalid target "app/db": it must start with an ASCII letter or digit and contain only letters, digits, '.', '_' and '-'`}},
		},
		{
			name: "an id longer than every store takes is invalid",
			text: `//flamingock:change id=` + strings.Repeat("a", 3000) + ` target=t`,
			want: []wantErr{{21, `invalid id: 3000 bytes is longer than 128, the most every audit store takes`}},
		},
		{
			name: "a target longer than every store takes is invalid",
			text: `//flamingock:change id=a target=` + strings.Repeat("t", audit.MaxIDLen+1),
			want: []wantErr{{26, `invalid target: 129 bytes is longer than 128, the most every audit store takes`}},
		},
		{
			name: "an author is bounded in bytes, not characters",
			text: `//flamingock:change id=a target=t "author=` + strings.Repeat("é", audit.MaxAuthorLen/2+1) + `"`,
			want: []wantErr{{35, `invalid author: 258 bytes is longer than 256, the most every audit store takes`}},
		},
		{
			name: "compensate is true or false",
			text: `//flamingock:change id=a target=t compensate=yes`,
			want: []wantErr{{35, `invalid compensate "yes": want true or false`}},
		},
		{
			name: "a negative order is invalid",
			text: `//flamingock:change id=a target=t order=-1`,
			want: []wantErr{{35, `invalid order "-1": want a non-negative integer`}},
		},
		{
			name: "a signed order is invalid",
			text: `//flamingock:change id=a target=t order=+1`,
			want: []wantErr{{35, `invalid order "+1": want a non-negative integer`}},
		},
		{
			name: "a non-numeric order is invalid",
			text: `//flamingock:change id=a target=t order=1_000`,
			want: []wantErr{{35, `invalid order "1_000": want a non-negative integer`}},
		},
		{
			name: "an unknown recovery is invalid",
			text: `//flamingock:change id=a target=t recovery=MANUAL`,
			want: []wantErr{{35, `invalid recovery "MANUAL": want manual or retry`}},
		},
		{
			name: "a transactional value other than true or false is invalid",
			text: `//flamingock:change id=a target=t transactional=no`,
			want: []wantErr{{35, `invalid transactional "no": want true or false`}},
		},
		{
			name: "a rollback that is not an identifier is invalid",
			text: `//flamingock:change id=a target=t rollback=pkg.Drop`,
			want: []wantErr{{35, `invalid rollback "pkg.Drop": want the name of a function in this package`}},
		},
		{
			name: "a blank rollback is invalid",
			text: `//flamingock:change id=a target=t rollback=_`,
			want: []wantErr{{35, `invalid rollback "_": want the name of a function in this package`}},
		},
		{
			name: "an author with control characters is invalid",
			text: `//flamingock:change id=a target=t "author=a\nb"`,
			want: []wantErr{{35, `invalid author: control characters are not allowed`}},
		},
		{
			name: "every problem of a directive is reported at once",
			text: `//flamingock:change id=a id=b order=x recovery=later`,
			want: []wantErr{
				{26, `repeated attribute "id"`},
				{31, `invalid order "x": want a non-negative integer`},
				{39, `invalid recovery "later": want manual or retry`},
				{1, `missing target: add target=… (the id of the system the change modifies)`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := parseLine(tt.text)
			if !ok {
				t.Fatalf("ParseComment(%q) did not recognise a directive", tt.text)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("ParseComment(%q) error = %v, want an ErrorList", tt.text, err)
			}
			got := make([]wantErr, len(list))
			for i, e := range list {
				got[i] = wantErr{int(e.Pos), e.Msg}
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(wantErr{})); diff != "" {
				t.Errorf("ParseComment(%q) errors mismatch (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestErrorListJoinsMessages(t *testing.T) {
	l := ErrorList{{Pos: 1, Msg: "a"}, {Pos: 2, Msg: "b"}}
	if got, want := l.Error(), "a; b"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`//flamingock:change id=create-users order=1 target=appdb author=alice rollback=DropUsers`,
		`//flamingock:change id=a target=t "author=Alice Smith" recovery=retry transactional=false`,
		`//flamingock:change id=a target=t author="Alice Smith"`,
		`//flamingock:change id=a "target=t`,
		"//flamingock:change `id=a` order=0010",
		`//flamingock:change id=a id=a =x y`,
		`// flamingock:change`,
		`//flamingock:chnage`,
		`//flamingock:change order=99999999999999999999`,
		"//flamingock:change \"id=\\xff\"\u00a0target=t",
		`//go:generate go tool flamingock-gen`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ch, ok, err := parseLine(text)
		if err != nil {
			if !ok {
				t.Fatalf("error without a directive: %v", err)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v is not a non-empty ErrorList", err)
			}
			for _, e := range list {
				if e.Pos < 1 || int(e.Pos) > len(text) {
					t.Fatalf("error %q at %d, outside the comment (length %d)", e.Msg, e.Pos, len(text))
				}
			}
			return
		}
		if !ok {
			return
		}
		if !ValidID(ch.ID) || !ValidID(ch.Target) {
			t.Fatalf("accepted invalid id %q or target %q", ch.ID, ch.Target)
		}
		if !ch.Recovery.Valid() {
			t.Fatalf("accepted recovery %q", ch.Recovery)
		}
	})
}

func TestParseCommentAcceptsIdsAtTheBoundEveryStoreTakes(t *testing.T) {
	id, target := strings.Repeat("a", audit.MaxIDLen), strings.Repeat("t", audit.MaxIDLen)
	author := strings.Repeat("é", audit.MaxAuthorLen/2) // two bytes each
	text := `//flamingock:change id=` + id + ` target=` + target + ` "author=` + author + `"`
	ch, ok, err := ParseComment(&ast.Comment{Slash: 1, Text: text})
	if !ok || err != nil {
		t.Fatalf("ParseComment(%q) = ok %v, error %v; want a valid directive", text, ok, err)
	}
	if ch.ID != id || ch.Target != target || ch.Author != author {
		t.Errorf("ParseComment kept id %d bytes, target %d, author %d; want %d, %d, %d",
			len(ch.ID), len(ch.Target), len(ch.Author), len(id), len(target), len(author))
	}
}
