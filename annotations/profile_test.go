package annotations

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommentReadsProfiles(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"one profile", `//flamingock:change id=a target=t profile=dev`, []string{"dev"}},
		{"several profiles keep their order", `//flamingock:change id=a target=t profile=test,dev`, []string{"test", "dev"}},
		{"a negated profile keeps its bang", `//flamingock:change id=a target=t profile=!prod`, []string{"!prod"}},
		{"plain and negated names mix", `//flamingock:change id=a target=t profile=dev,!prod-eu`, []string{"dev", "!prod-eu"}},
		{"names take digits dashes and underscores", `//flamingock:change id=a target=t profile=qa_2,Load-Test`, []string{"qa_2", "Load-Test"}},
		{"a quoted attribute is read the same", `//flamingock:change id=a target=t "profile=dev,test"`, []string{"dev", "test"}},
		{"without profile= a change has none", `//flamingock:change id=a target=t`, nil},
		{"a name at the bound is valid", `//flamingock:change id=a target=t profile=` + strings.Repeat("p", MaxProfileLen), []string{strings.Repeat("p", MaxProfileLen)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseLine(tt.text)
			if !ok || err != nil {
				t.Fatalf("ParseComment(%q) = ok %v, err %v; want ok, no error", tt.text, ok, err)
			}
			if diff := cmp.Diff(tt.want, got.Profiles); diff != "" {
				t.Errorf("Profiles of %q mismatch (-want +got):\n%s", tt.text, diff)
			}
			if tt.want != nil && got.AttrPos("profile") == got.Pos {
				t.Errorf("AttrPos(profile) = the directive's position, want the attribute's")
			}
		})
	}
}

func TestParseCommentReportsEveryProfileProblemAtItsName(t *testing.T) {
	const head = `//flamingock:change id=a target=t profile=` // the value starts at column 43
	tests := []struct {
		name  string
		value string
		want  []wantErr
	}{
		{"an empty value", ``, []wantErr{{35, `empty value for profile`}}},
		{"a trailing comma", `dev,`, []wantErr{{47, `empty profile name in "dev,": write names separated by single commas, as in profile=dev,test`}}},
		{"two commas", `dev,,test`, []wantErr{{47, `empty profile name in "dev,,test": write names separated by single commas, as in profile=dev,test`}}},
		{"a bang alone", `dev,!`, []wantErr{{47, `"!" names no profile: write !NAME to exclude a profile, as in profile=!prod`}}},
		{"two bangs", `!!prod`, []wantErr{{43, `invalid profile "!!prod": write one '!' before a name to exclude it`}}},
		{"a dot in a name", `dev,eu.prod`, []wantErr{{47, `invalid profile "eu.prod": ` + ProfileRule}}},
		{"a name too long", strings.Repeat("p", MaxProfileLen+1), []wantErr{{43, `invalid profile "` + strings.Repeat("p", MaxProfileLen+1) + `": ` + ProfileRule}}},
		{"a name listed twice", `dev,test,dev`, []wantErr{{52, `profile "dev" is listed twice`}}},
		{"a name both plain and negated", `prod,!prod`, []wantErr{{48, `profile "!prod" contradicts "prod": a change cannot both belong to a profile and be excluded from it`}}},
		{"every problem at once", `a.b,,a.b`, []wantErr{
			{43, `invalid profile "a.b": ` + ProfileRule},
			{47, `empty profile name in "a.b,,a.b": write names separated by single commas, as in profile=dev,test`},
			{48, `invalid profile "a.b": ` + ProfileRule},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := head + tt.value
			_, ok, err := parseLine(text)
			if !ok {
				t.Fatalf("ParseComment(%q) did not recognise a directive", text)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("ParseComment(%q) error = %v, want an ErrorList", text, err)
			}
			got := make([]wantErr, len(list))
			for i, e := range list {
				got[i] = wantErr{int(e.Pos), e.Msg}
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(wantErr{})); diff != "" {
				t.Errorf("ParseComment(%q) errors mismatch (-want +got):\n%s", text, diff)
			}
		})
	}
}

func TestParseCommentPositionsAQuotedProfileProblemAtTheAttribute(t *testing.T) {
	_, _, err := parseLine(`//flamingock:change id=a target=t "profile=dev, test"`)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Pos != 35 || !strings.Contains(list[0].Msg, `invalid profile " test"`) {
		t.Fatalf("error = %v, want one invalid profile \" test\" at column 35", err)
	}
}

func TestValidProfile(t *testing.T) {
	for name, want := range map[string]bool{
		"dev": true, "Prod": true, "eu-west_1": true, "1": true, "-x": true,
		"": false, "!prod": false, "a b": false, "é": false, "a.b": false, "a,b": false,
		strings.Repeat("x", MaxProfileLen): true, strings.Repeat("x", MaxProfileLen+1): false,
	} {
		if got := ValidProfile(name); got != want {
			t.Errorf("ValidProfile(%q) = %v, want %v", name, got, want)
		}
	}
}
