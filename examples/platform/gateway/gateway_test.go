package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoutesSurviveARestartAndHonourIfMatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.json")
	srv := start(t, path)

	type step struct {
		method, path, ifMatch, body string
		want                        int
	}
	var etag string
	do := func(s step) *http.Response {
		t.Helper()
		req, err := http.NewRequest(s.method, srv.URL+s.path, strings.NewReader(s.body))
		if err != nil {
			t.Fatal(err)
		}
		if s.ifMatch != "" {
			req.Header.Set("If-Match", s.ifMatch)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != s.want {
			t.Errorf("%s %s (If-Match %q): %s, want %d", s.method, s.path, s.ifMatch, resp.Status, s.want)
		}
		return resp
	}
	for _, s := range []step{
		{method: "GET", path: "/routes/orders", want: 404},
		{method: "DELETE", path: "/routes/orders", want: 404},
		{method: "PUT", path: "/routes/orders", ifMatch: `"stale"`, body: `{"a":1}`, want: 412},
		{method: "PUT", path: "/routes/orders", body: `not json`, want: 400},
		{method: "PUT", path: "/routes/orders", body: `{"a":1}`, want: 201},
	} {
		do(s)
	}
	if etag = do(step{method: "GET", path: "/routes/orders", want: 200}).Header.Get("ETag"); etag == "" {
		t.Fatal("GET gave no ETag")
	}

	// A restart reads the state file the first server wrote.
	srv.Close()
	srv = start(t, path)
	if got := do(step{method: "GET", path: "/routes/orders", want: 200}).Header.Get("ETag"); got != etag {
		t.Errorf("ETag after a restart %s, want %s", got, etag)
	}
	for _, s := range []step{
		{method: "PUT", path: "/routes/orders", ifMatch: `"stale"`, body: `{"a":2}`, want: 412},
		{method: "PUT", path: "/routes/orders", ifMatch: etag, body: `{"a":2}`, want: 200},
		{method: "DELETE", path: "/routes/orders", ifMatch: etag, want: 412},
		{method: "DELETE", path: "/routes/orders", want: 204},
		{method: "GET", path: "/routes/orders", want: 404},
	} {
		do(s)
	}
}

func start(t *testing.T, path string) *httptest.Server {
	t.Helper()
	api, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}
