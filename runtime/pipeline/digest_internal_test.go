package pipeline

import "testing"

func TestDigestTellsPipelinesApart(t *testing.T) {
	change := func(stage, id, checksum string) *boundChange {
		return &boundChange{stage: stage, meta: Meta{ID: id, Checksum: checksum}}
	}
	base := []*boundChange{change("s1", "a", "x"), change("s1", "b", "y")}
	others := map[string][]*boundChange{
		"another checksum":     {change("s1", "a", "x"), change("s1", "b", "z")},
		"another id":           {change("s1", "a", "x"), change("s1", "c", "y")},
		"another stage":        {change("s1", "a", "x"), change("s2", "b", "y")},
		"another order":        {change("s1", "b", "y"), change("s1", "a", "x")},
		"one change more":      {change("s1", "a", "x"), change("s1", "b", "y"), change("s1", "c", "")},
		"one change less":      {change("s1", "a", "x")},
		"fields shifted":       {change("s1", "a", "xs1"), change("", "b", "y")},
		"id and checksum swap": {change("s1", "x", "a"), change("s1", "b", "y")},
	}
	d := digest(base)
	if d != digest([]*boundChange{change("s1", "a", "x"), change("s1", "b", "y")}) {
		t.Fatal("the same pipeline has two digests")
	}
	for name, o := range others {
		if digest(o) == d {
			t.Errorf("%s: same digest as the base pipeline", name)
		}
	}
}
