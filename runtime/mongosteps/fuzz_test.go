package mongosteps_test

import (
	"bytes"
	"errors"
	"regexp"
	"testing"

	"github.com/flamingock/flamingock-go/runtime/mongosteps"
)

// FuzzParse checks that Parse never panics, and that it returns a file or
// an ErrorList whose every error is positioned inside the input: a line
// of it, a column no further than one past that line's end.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		example,
		"steps:\n  - insert: {collection: a, documents: [{_id: {$oid: \"65b9f0c2a1b2c3d4e5f60718\"}, at: {$date: \"2024-01-31T10:00:00Z\"}}]}\n",
		"transactional: false\nsteps:\n  - createIndex: {collection: a, keys: {a: 1, b: text}, expireAfterSeconds: 5}\n",
		"steps:\n  - update: {collection: a, filter: {}, update: [{$set: {a: 1}}], multi: true}\nundo:\n  - delete: {collection: a, filter: {}}\n",
		"steps:\n\t- x\n",
		"steps: [\n",
		"a: &x [*x]\n",
		"---\n---\n",
		"\xff\xfe",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := mongosteps.Parse("f.yaml", data)
		if err == nil {
			if file == nil {
				t.Fatal("no file and no error")
			}
			return
		}
		if file != nil {
			t.Fatal("a file with an error")
		}
		var list mongosteps.ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %v (%T), want a non-empty ErrorList", err, err)
		}
		lines := yamlLines(data)
		for _, e := range list {
			if e.File != "f.yaml" || e.Line < 1 || e.Line > len(lines) || e.Col < 1 || e.Col > len(lines[e.Line-1])+1 {
				t.Fatalf("error %q at %d:%d, outside the input of %d lines", e.Msg, e.Line, e.Col, len(lines))
			}
		}
	})
}

// yamlLines splits data into lines as YAML does: at LF, CRLF, CR, NEL, LS
// and PS, a byte order mark not part of the first.
func yamlLines(data []byte) []string {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	return regexp.MustCompile("\r\n|[\r\n\u0085\u2028\u2029]").Split(string(data), -1)
}
