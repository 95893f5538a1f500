package httpjson_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flamingock/flamingock-go/ensure"
	"github.com/flamingock/flamingock-go/ensure/httpjson"
)

var (
	docA  = []byte(`{"upstream":"orders-v1","timeout_ms":500,"tags":["a","b"]}`)
	docA2 = []byte("{\n  \"tags\": [\"a\", \"b\"],\n  \"timeout_ms\": 5.0e2,\n  \"upstream\": \"orders-v1\"\n}") // docA, formatted otherwise
	docB  = []byte(`{"upstream":"orders-v2","timeout_ms":500,"tags":["a","b"]}`)
	docB2 = []byte(`{"tags":["a","b"],"upstream":"orders-v2","timeout_ms":500.00}`) // docB, formatted otherwise
	docC  = []byte(`{"upstream":"orders-v3","timeout_ms":500,"tags":["a","b"]}`)
	null  = []byte(`null`)
)

// same reports whether two documents are the same JSON value, nil being
// the absent one.
func same(t *testing.T, a, b []byte) bool {
	t.Helper()
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	// Ensure against a store holding a compares the way Put does.
	s, u := newDocStore(t, storeConfig{})
	s.set(docPath, a)
	_, err := httpjson.Ensure(t.Context(), nil, u, b)
	return err == nil
}

func TestPut(t *testing.T) {
	for _, tc := range []struct {
		name              string
		current, from, to []byte
		want              ensure.Outcome
		write             string // the method that writes, if any
		conflict          bool
	}{
		{name: "absent is created", current: nil, from: nil, to: docA, want: ensure.Created, write: http.MethodPut},
		{name: "from is updated", current: docA, from: docA, to: docB, want: ensure.Updated, write: http.MethodPut},
		{name: "from formatted otherwise is updated", current: docA2, from: docA, to: docB, want: ensure.Updated, write: http.MethodPut},
		{name: "from is deleted", current: docA, from: docA, to: nil, want: ensure.Deleted, write: http.MethodDelete},
		{name: "to is unchanged", current: docB, from: docA, to: docB, want: ensure.Unchanged},
		{name: "to formatted otherwise is unchanged", current: docB2, from: docA, to: docB, want: ensure.Unchanged},
		{name: "absent after a delete is unchanged", current: nil, from: docA, to: nil, want: ensure.Unchanged},
		{name: "absent and absent is unchanged", current: nil, from: nil, to: nil, want: ensure.Unchanged},
		{name: "another document is a conflict", current: docC, from: docA, to: docB, conflict: true},
		{name: "absent when from expected is a conflict", current: nil, from: docA, to: docB, conflict: true},
		{name: "a document when absent expected is a conflict", current: docC, from: nil, to: docB, conflict: true},
		{name: "another document on delete is a conflict", current: docC, from: docA, to: nil, conflict: true},
		{name: "null is not absent", current: null, from: nil, to: docA, conflict: true},
	} {
		for _, mode := range []struct {
			name  string
			store storeConfig
		}{
			{"with ETags", storeConfig{}},
			{"without ETags", storeConfig{noETag: true}},
		} {
			t.Run(tc.name+" "+mode.name, func(t *testing.T) {
				s, u := newDocStore(t, mode.store)
				s.set(docPath, tc.current)
				got, err := httpjson.Put(t.Context(), nil, u, tc.from, tc.to)
				if tc.conflict {
					var ce *ensure.ConflictError
					if !errors.As(err, &ce) || ce.Resource != "document "+u {
						t.Fatalf("Put = %v, %v; want a *ConflictError on document %s", got, err, u)
					}
					if diff := cmp.Diff(map[string]int{"GET": 1}, s.requests()); diff != "" {
						t.Errorf("requests (-want +got):\n%s", diff)
					}
					if !same(t, s.get(docPath), tc.current) {
						t.Errorf("after a conflict the document is %s, want it untouched", s.get(docPath))
					}
					return
				}
				if err != nil || got != tc.want {
					t.Fatalf("Put = %v, %v; want %v", got, err, tc.want)
				}
				wantReqs := map[string]int{"GET": 1}
				if tc.write != "" {
					wantReqs[tc.write] = 1
				}
				if diff := cmp.Diff(wantReqs, s.requests()); diff != "" {
					t.Errorf("requests (-want +got):\n%s", diff)
				}
				if !same(t, s.get(docPath), tc.to) {
					t.Errorf("the document is %s, want %s", s.get(docPath), tc.to)
				}
				// A retry, after a crash that came after the write: one GET, no write.
				again, err := httpjson.Put(t.Context(), nil, u, tc.from, tc.to)
				if err != nil || again != ensure.Unchanged {
					t.Fatalf("Put again = %v, %v; want unchanged", again, err)
				}
				wantReqs["GET"]++
				if diff := cmp.Diff(wantReqs, s.requests()); diff != "" {
					t.Errorf("requests after the retry (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestPutSendsTheCallersBytes(t *testing.T) {
	s, u := newDocStore(t, storeConfig{})
	if _, err := httpjson.Put(t.Context(), nil, u, nil, docA2); err != nil {
		t.Fatal(err)
	}
	if got := string(s.get(docPath)); got != string(docA2) {
		t.Errorf("stored %q, want the bytes given, %q", got, docA2)
	}
	if got := s.header(http.MethodPut, "Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
}

func TestPreconditions(t *testing.T) {
	for _, tc := range []struct {
		name           string
		store          storeConfig
		current        []byte
		from, to       []byte
		method         string
		ifMatch, ifNon string
	}{
		{name: "an update sends the ETag", current: docA, from: docA, to: docB, method: http.MethodPut, ifMatch: `"v1"`},
		{name: "a delete sends the ETag", current: docA, from: docA, to: nil, method: http.MethodDelete, ifMatch: `"v1"`},
		{name: "a create asks for absence", current: nil, from: nil, to: docA, method: http.MethodPut, ifNon: "*"},
		{name: "no ETag, no If-Match", store: storeConfig{noETag: true}, current: docA, from: docA, to: docB, method: http.MethodPut},
		{name: "a weak ETag is not sent", store: storeConfig{weakETag: true}, current: docA, from: docA, to: docB, method: http.MethodPut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, u := newDocStore(t, tc.store)
			s.set(docPath, tc.current)
			if _, err := httpjson.Put(t.Context(), nil, u, tc.from, tc.to); err != nil {
				t.Fatal(err)
			}
			if got := s.header(tc.method, "If-Match"); got != tc.ifMatch {
				t.Errorf("If-Match = %q, want %q", got, tc.ifMatch)
			}
			if got := s.header(tc.method, "If-None-Match"); got != tc.ifNon {
				t.Errorf("If-None-Match = %q, want %q", got, tc.ifNon)
			}
		})
	}
}

// Another writer changes the document between the helper's GET and its
// write: the server answers 412, and the helper reports a conflict.
func TestChangedAfterTheGet(t *testing.T) {
	for _, tc := range []struct {
		name     string
		current  []byte
		from, to []byte
		other    []byte // what the other writer stores
		method   string
	}{
		{name: "an update", current: docA, from: docA, to: docB, other: docC, method: http.MethodPut},
		{name: "a create", current: nil, from: nil, to: docB, other: docC, method: http.MethodPut},
		{name: "a delete", current: docA, from: docA, to: nil, other: docC, method: http.MethodDelete},
	} {
		t.Run(tc.name+" meets 412", func(t *testing.T) {
			s, u := newDocStore(t, storeConfig{afterGet: func(s *docStore) { s.set(docPath, tc.other) }})
			s.set(docPath, tc.current)
			got, err := httpjson.Put(t.Context(), nil, u, tc.from, tc.to)
			var ce *ensure.ConflictError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "412") {
				t.Fatalf("Put = %v, %v; want a *ConflictError saying 412", got, err)
			}
			if diff := cmp.Diff(map[string]int{"GET": 1, tc.method: 1}, s.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if !same(t, s.get(docPath), tc.other) {
				t.Errorf("the document is %s, want the other writer's %s", s.get(docPath), tc.other)
			}
		})
	}
	t.Run("a delete finding it deleted already is absent", func(t *testing.T) {
		s, u := newDocStore(t, storeConfig{noETag: true, afterGet: func(s *docStore) { s.set(docPath, nil) }})
		s.set(docPath, docA)
		got, err := httpjson.Put(t.Context(), nil, u, docA, nil)
		if err != nil || got != ensure.Absent {
			t.Fatalf("Put = %v, %v; want absent", got, err)
		}
	})
}

func TestServerErrors(t *testing.T) {
	long := "the server says: " + strings.Repeat("x", 500) + "END"
	secret := []byte(`{"upstream":"orders-v2","token":"SECRET-IN-THE-BODY"}`)
	for _, tc := range []struct {
		name     string
		fail     map[string]int
		current  []byte
		from, to []byte
		want     []string // in the error
		reqs     map[string]int
	}{
		{name: "GET answering 500", fail: map[string]int{"GET": 500}, from: nil, to: docA,
			want: []string{"GET ", docPath, "500 Internal Server Error", "the server says: xxx"}, reqs: map[string]int{"GET": 1}},
		{name: "GET answering 403", fail: map[string]int{"GET": 403}, from: nil, to: docA,
			want: []string{"GET ", "403 Forbidden"}, reqs: map[string]int{"GET": 1}},
		{name: "PUT answering 500", fail: map[string]int{"PUT": 500}, current: docA, from: docA, to: secret,
			want: []string{"PUT ", docPath, "500 Internal Server Error"}, reqs: map[string]int{"GET": 1, "PUT": 1}},
		{name: "DELETE answering 409", fail: map[string]int{"DELETE": 409}, current: docA, from: docA, to: nil,
			want: []string{"DELETE ", "409 Conflict"}, reqs: map[string]int{"GET": 1, "DELETE": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, u := newDocStore(t, storeConfig{fail: tc.fail, failBody: long})
			s.set(docPath, tc.current)
			got, err := httpjson.Put(t.Context(), nil, u, tc.from, tc.to)
			if err == nil {
				t.Fatalf("Put = %v; want an error", got)
			}
			if errors.Is(err, ensure.ErrConflict) {
				t.Errorf("Put: %v; want an error that is not a conflict", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "END") {
				t.Errorf("error %q quotes more than the start of the body", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q quotes the request body", err)
			}
			if diff := cmp.Diff(tc.reqs, s.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		status   int
		from, to []byte
		reqs     map[string]int
		wrote    bool
	}{
		{name: "a PUT answered 301 is not followed as a GET", method: "PUT", status: 301, from: docA, to: docB, reqs: map[string]int{"GET": 1, "PUT": 1}},
		{name: "a PUT answered 303 is not followed as a GET", method: "PUT", status: 303, from: docA, to: docB, reqs: map[string]int{"GET": 1, "PUT": 1}},
		{name: "a DELETE answered 302 is not followed as a GET", method: "DELETE", status: 302, from: docA, to: nil, reqs: map[string]int{"GET": 1, "DELETE": 1}},
		{name: "a PUT answered 308 is followed", method: "PUT", status: 308, from: docA, to: docB, reqs: map[string]int{"GET": 1, "PUT": 2}, wrote: true},
		{name: "a GET answered 301 is followed", method: "GET", status: 301, from: docA, to: docB, reqs: map[string]int{"GET": 2, "PUT": 1}, wrote: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, u := newDocStore(t, storeConfig{redirect: map[string]int{tc.method: tc.status}})
			s.set(docPath, docA)
			got, err := httpjson.Put(t.Context(), nil, u, tc.from, tc.to)
			switch {
			case tc.wrote && err != nil:
				t.Fatalf("Put = %v, %v; want it written", got, err)
			case !tc.wrote && (err == nil || !strings.Contains(err.Error(), tc.method) || !strings.Contains(err.Error(), http.StatusText(tc.status))):
				t.Fatalf("Put = %v, %v; want an error naming %s and %d", got, err, tc.method, tc.status)
			}
			if diff := cmp.Diff(tc.reqs, s.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			want := docA
			if tc.wrote {
				want = tc.to
			}
			if !same(t, s.get(docPath), want) {
				t.Errorf("the document is %s, want %s", s.get(docPath), want)
			}
		})
	}
}

func TestURLUserinfoIsRedacted(t *testing.T) {
	s, u := newDocStore(t, storeConfig{fail: map[string]int{"GET": 500}})
	withUser, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	withUser.User = url.UserPassword("admin", "hunter2")
	_, err = httpjson.Put(t.Context(), nil, withUser.String(), nil, docA)
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "admin") {
		t.Errorf("Put: %v; want an error without the userinfo", err)
	}
	if got := s.header(http.MethodGet, "Authorization"); got == "" {
		t.Error("the userinfo was not sent as credentials")
	}
	// Nor is it in a conflict.
	s.setFail(nil)
	s.set(docPath, docC)
	_, err = httpjson.Put(t.Context(), nil, withUser.String(), nil, docA)
	if !errors.Is(err, ensure.ErrConflict) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "admin") {
		t.Errorf("Put: %v; want a conflict without the userinfo", err)
	}
}

func TestNoRequestBeforeTheInputIsValid(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		call     func(ctx context.Context, u string) (ensure.Outcome, error)
		wantErr  error
		inTheErr string
	}{
		{name: "a malformed from", call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Put(ctx, nil, u, []byte(`{"a":`), docA)
		}, inTheErr: "from"},
		{name: "a malformed to", call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Put(ctx, nil, u, docA, []byte(`{a:1}`))
		}, inTheErr: "to"},
		{name: "an empty to", call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Put(ctx, nil, u, docA, []byte{})
		}, inTheErr: "to"},
		{name: "two values", call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Put(ctx, nil, u, docA, []byte(`{} {}`))
		}, inTheErr: "to"},
		{name: "a malformed want", call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Ensure(ctx, nil, u, []byte(`[1,]`))
		}, inTheErr: "want"},
		{name: "a nil want", call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Ensure(ctx, nil, u, nil)
		}, inTheErr: "want"},
		{name: "a URL that is not http", call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Ensure(ctx, nil, strings.Replace(u, "http:", "ftp:", 1), docA)
		}, inTheErr: "scheme"},
		{name: "a URL that does not parse", call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Ensure(ctx, nil, "http://admin:hunter2@[::1/x", docA)
		}, inTheErr: "does not parse"},
		{name: "a cancelled context", ctx: cancelled, call: func(ctx context.Context, u string) (ensure.Outcome, error) {
			return httpjson.Put(ctx, nil, u, nil, docA)
		}, wantErr: context.Canceled},
	} {
		t.Run(tc.name+" sends nothing", func(t *testing.T) {
			s, u := newDocStore(t, storeConfig{})
			ctx := tc.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			got, err := tc.call(ctx, u)
			if err == nil {
				t.Fatalf("got %v; want an error", got)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v; want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.inTheErr) {
				t.Errorf("error %q does not say %q", err, tc.inTheErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q quotes the URL's password", err)
			}
			if diff := cmp.Diff(map[string]int{}, s.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		current  []byte
		want     ensure.Outcome
		reqs     map[string]int
		conflict bool
	}{
		{name: "absent is created", current: nil, want: ensure.Created, reqs: map[string]int{"GET": 1, "PUT": 1}},
		{name: "the same document is unchanged", current: docA2, want: ensure.Unchanged, reqs: map[string]int{"GET": 1}},
		{name: "another document is a conflict", current: docB, reqs: map[string]int{"GET": 1}, conflict: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, u := newDocStore(t, storeConfig{})
			s.set(docPath, tc.current)
			got, err := httpjson.Ensure(t.Context(), &http.Client{}, u, docA)
			switch {
			case tc.conflict && !errors.Is(err, ensure.ErrConflict):
				t.Fatalf("Ensure = %v, %v; want a conflict", got, err)
			case !tc.conflict && (err != nil || got != tc.want):
				t.Fatalf("Ensure = %v, %v; want %v", got, err, tc.want)
			}
			if diff := cmp.Diff(tc.reqs, s.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConflictDiffs(t *testing.T) {
	for _, tc := range []struct {
		name              string
		current, from, to []byte
		want              []string
	}{
		{
			name:    "fields of a transition",
			current: []byte(`{"upstream":"orders-v3","timeout_ms":500,"retries":2,"tags":["a","c"],"a/b":1}`),
			from:    []byte(`{"upstream":"orders-v1"}`),
			to:      []byte(`{"upstream":"orders-v2","timeout_ms":500.0,"tags":["a","b"],"a/b":2}`),
			want: []string{
				`/a~1b: have 1, want 2`,
				`/retries: have 2, want absent`,
				`/tags/1: have "c", want "b"`,
				`/upstream: have "orders-v3", want "orders-v2"`,
				`nor the state the change starts from: {"upstream":"orders-v1"}`,
			},
		},
		{
			name:    "a create finding another document",
			current: []byte(`[1,2]`),
			to:      []byte(`{"x":1}`),
			want:    []string{`document: have [1,2], want {"x":1}`},
		},
		{
			name: "a transition finding the document absent",
			from: []byte(`{"x":1}`),
			to:   []byte(`{"x":2}`),
			want: []string{`have absent, want {"x":2}`, `nor the state the change starts from: {"x":1}`},
		},
		{
			name:    "a removal finding another document",
			current: []byte(`{"x":3}`),
			from:    []byte(`{"x":1}`),
			want:    []string{`/x: have 3, want 1`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, u := newDocStore(t, storeConfig{})
			s.set(docPath, tc.current)
			_, err := httpjson.Put(t.Context(), nil, u, tc.from, tc.to)
			var ce *ensure.ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("Put: %v; want a *ConflictError", err)
			}
			if diff := cmp.Diff(tc.want, ce.Diffs); diff != "" {
				t.Errorf("diffs (-want +got):\n%s", diff)
			}
		})
	}
}
