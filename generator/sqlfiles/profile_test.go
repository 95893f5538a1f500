package sqlfiles

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAFlamingockHeaderDeclaresProfiles(t *testing.T) {
	chs, _ := load(t, "sqlite", map[string]string{
		"1_seed.sql":   "-- flamingock:change profile=dev,test\nINSERT INTO t VALUES (1)",
		"2_sample.sql": "-- flamingock:change \"profile=!prod\"\nINSERT INTO t VALUES (2)",
		"3_all.sql":    "-- flamingock:change\nINSERT INTO t VALUES (3)",
		"4_goose.sql":  "-- +goose Up\nINSERT INTO t VALUES (4);",
	})
	var got [][]string
	for _, c := range chs {
		got = append(got, c.Profiles)
	}
	if diff := cmp.Diff([][]string{{"dev", "test"}, {"!prod"}, nil, nil}, got); diff != "" {
		t.Errorf("profiles (-want +got):\n%s", diff)
	}
}

func TestAFlamingockHeaderReportsProfileProblemsAtTheirNames(t *testing.T) {
	_, _, errs := Load(mapFS(map[string]string{
		"1_a.sql": "-- flamingock:change profile=dev,,dev\nSELECT 1",
		"2_b.sql": "-- flamingock:change \"profile=a b\"\nSELECT 1",
	}), Options{Dialect: "sqlite"})
	checkErrs(t, errs, []string{
		`1_a.sql:1:34: empty profile name in "dev,,dev": write names separated by single commas, as in profile=dev,test`,
		`1_a.sql:1:35: profile "dev" is listed twice`,
		`2_b.sql:1:22: invalid profile "a b": a profile name is ASCII letters, digits, '-' and '_', at most 64 bytes`,
	})
}
