package pipeline_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestNewReportsADependencyLeftUnset(t *testing.T) {
	e := newEnv(t)
	var logger *slog.Logger
	var buf *bytes.Buffer
	st := e.stage("s1", spec{id: "c1", strategy: nonTx}, spec{id: "c2", order: 2, strategy: nonTx})
	st.Deps = []pipeline.Dep{
		{Name: "Deps.Logger", Value: logger, Changes: []string{"c1", "c2"}},
		{Name: "Deps.Buffer", Value: buf, Changes: []string{"c2"}},
		{Name: "Deps.Tags", Value: []string(nil), Changes: []string{"c1"}}, // empty, not unset
		{Name: "Deps.Limit", Value: 0, Changes: []string{"c1"}},
		{Name: "Deps.Set", Value: slog.Default(), Changes: []string{"c1"}},
	}
	_, err := pipeline.New(e.store, []pipeline.Stage{st})
	for _, want := range []string{
		`stage "s1": dependency Deps.Logger is not set (changes "c1", "c2" take it): set it`,
		`stage "s1": dependency Deps.Buffer is not set (change "c2" takes it): set it`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New = %v, want %q", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "Deps.Tags") || strings.Contains(err.Error(), "Deps.Limit") || strings.Contains(err.Error(), "Deps.Set")) {
		t.Errorf("New = %v, reports a dependency that is set", err)
	}
}
