package pipeline

import "testing"

func TestDigestTellsPipelinesApart(t *testing.T) {
	change := func(id, checksum string) Change { return Change{meta: Meta{ID: id, Checksum: checksum}} }
	stage := func(name string, changes ...Change) Stage { return Stage{Name: name, Changes: changes} }
	base := []Stage{stage("s1", change("a", "x"), change("b", "y"))}
	others := map[string][]Stage{
		"another checksum":     {stage("s1", change("a", "x"), change("b", "z"))},
		"another id":           {stage("s1", change("a", "x"), change("c", "y"))},
		"another stage":        {stage("s1", change("a", "x")), stage("s2", change("b", "y"))},
		"another stage name":   {stage("s2", change("a", "x"), change("b", "y"))},
		"another order":        {stage("s1", change("b", "y"), change("a", "x"))},
		"one change more":      {stage("s1", change("a", "x"), change("b", "y"), change("c", ""))},
		"one change less":      {stage("s1", change("a", "x"))},
		"id and checksum swap": {stage("s1", change("x", "a"), change("b", "y"))},
	}
	d := pipelineDigest(base, nil)
	if d != pipelineDigest([]Stage{stage("s1", change("a", "x"), change("b", "y"))}, nil) {
		t.Fatal("the same pipeline has two digests")
	}
	for name, o := range others {
		if pipelineDigest(o, nil) == d {
			t.Errorf("%s: same digest as the base pipeline", name)
		}
	}
	// A generated stage brings the digest of its changes: the checkpoint
	// of a pipeline is the same whether a stage is generated or listed.
	changes := base[0].Changes
	generated := []Stage{{Name: "s1", Generated: &Generated{Digest: stageDigest(changes), Len: len(changes),
		Changes: func() []Change { return changes }}}}
	if pipelineDigest(generated, nil) != d {
		t.Error("a generated stage and the same changes listed have two digests")
	}
}
