package pipeline_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// New refuses what no store takes (audit.MaxIDLen, audit.MaxAuthorLen),
// before anything runs, rather than every run failing at the first append.
func TestNewRefusesIdentitiesLongerThanEveryStoreTakes(t *testing.T) {
	e := newEnv(t)
	var c calls
	long := func(n int) string { return strings.Repeat("x", n) }
	// wide is 131 bytes, its 32nd byte in the middle of an "é": the message
	// cuts it before that character.
	wide := "a" + strings.Repeat("é", 65)
	stage := func(name string, m pipeline.Meta) []pipeline.Stage {
		return []pipeline.Stage{{Name: name, Changes: []pipeline.Change{
			pipeline.NewChange(m, pipeline.NonTransactional(&c), noop, nil),
		}}}
	}
	meta := func(edit func(*pipeline.Meta)) pipeline.Meta {
		m := pipeline.Meta{ID: "a", Order: audit.OrderOf(1), Author: "alice", Target: "flags", Source: "a.go:3"}
		if edit != nil {
			edit(&m)
		}
		return m
	}
	tests := []struct {
		name   string
		stages []pipeline.Stage
		want   []string // the lines after "invalid pipeline:"; none when New accepts
	}{
		{"everything at its bound is accepted",
			stage(long(audit.MaxIDLen), meta(func(m *pipeline.Meta) {
				m.ID, m.Target, m.Author = long(audit.MaxIDLen), long(audit.MaxIDLen), long(audit.MaxAuthorLen)
			})), nil},
		{"a stage name one byte over is refused",
			stage(long(audit.MaxIDLen+1), meta(nil)),
			[]string{`stage "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": name of 129 bytes is longer than the 128 every store takes`}},
		{"a change id one byte over is refused, named by its source",
			stage("s", meta(func(m *pipeline.Meta) { m.ID = long(audit.MaxIDLen + 1) })),
			[]string{`stage "s": change "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" (a.go:3): id of 129 bytes is longer than the 128 every store takes`}},
		{"a long id of multibyte characters is cut on a character",
			stage("s", meta(func(m *pipeline.Meta) { m.ID = wide })),
			[]string{`stage "s": change "aééééééééééééééé…" (a.go:3): id of 131 bytes is longer than the 128 every store takes`}},
		{"a target id one byte over is refused",
			stage("s", meta(func(m *pipeline.Meta) { m.Target = long(audit.MaxIDLen + 1) })),
			[]string{`stage "s": change "a" (a.go:3): target id of 129 bytes is longer than the 128 every store takes`}},
		{"an author one byte over is refused",
			stage("s", meta(func(m *pipeline.Meta) { m.Author = long(audit.MaxAuthorLen + 1) })),
			[]string{`stage "s": change "a" (a.go:3): author of 257 bytes is longer than the 256 every store takes`}},
		{"every field over its bound is reported at once",
			stage(long(200), meta(func(m *pipeline.Meta) {
				m.ID, m.Target, m.Author, m.Source = long(3000), long(129), long(1000), ""
			})),
			[]string{
				`stage "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": name of 200 bytes is longer than the 128 every store takes`,
				`stage "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": change "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": id of 3000 bytes is longer than the 128 every store takes`,
				`stage "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": change "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": target id of 129 bytes is longer than the 128 every store takes`,
				`stage "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": change "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": author of 1000 bytes is longer than the 256 every store takes`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pipeline.New(e.store, tt.stages)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted it")
			}
			if diff := cmp.Diff(append([]string{"invalid pipeline:"}, tt.want...), strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("New error lines (-want +got):\n%s", diff)
			}
		})
	}
}
