package httpjson_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// docStore is a small JSON document store over HTTP, standing for a
// gateway's or an API's configuration endpoint: GET, PUT and DELETE of a
// document per path, a strong ETag per version, If-Match and If-None-Match
// honoured. It counts requests by method and keeps the headers of the last
// request of each, so that tests see what a helper sent.
type docStore struct {
	storeConfig
	mu        sync.Mutex
	docs      map[string]stored
	version   int
	counts    map[string]int
	lastHeads map[string]http.Header
}

// storeConfig says how a docStore behaves.
type storeConfig struct {
	noETag   bool              // send no ETag
	weakETag bool              // send W/"…" ETags
	ignoreIf bool              // ignore If-Match and If-None-Match
	fail     map[string]int    // method -> status answered instead of serving
	failBody string            // body of those answers
	afterGet func(s *docStore) // runs after a GET is served: another writer
	redirect map[string]int    // method -> redirect status, to the same path with ?moved
}

type stored struct {
	body    []byte
	version int
}

// docPath is where the tests keep their document.
const docPath = "/routes/orders"

// newDocStore starts a store and returns it and the URL of the document at
// docPath.
func newDocStore(t *testing.T, c storeConfig) (*docStore, string) {
	t.Helper()
	s := &docStore{storeConfig: c, docs: map[string]stored{}, counts: map[string]int{}, lastHeads: map[string]http.Header{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + docPath
}

// setFail changes the statuses the store answers instead of serving.
func (s *docStore) setFail(fail map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

func (s *docStore) etag(d stored) string {
	if s.weakETag {
		return fmt.Sprintf(`W/"v%d"`, d.version)
	}
	return fmt.Sprintf(`"v%d"`, d.version)
}

// set stores body at path as another writer would (nil removes it).
func (s *docStore) set(path string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if body == nil {
		delete(s.docs, path)
		return
	}
	s.version++
	s.docs[path] = stored{body, s.version}
}

func (s *docStore) get(path string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.docs[path]; ok {
		return d.body
	}
	return nil
}

func (s *docStore) requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for m, n := range s.counts {
		out[m] = n
	}
	return out
}

func (s *docStore) header(method, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastHeads[method].Get(name)
}

func (s *docStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	served := s.serve(w, r)
	if served && r.Method == http.MethodGet && s.afterGet != nil {
		s.afterGet(s)
	}
}

func (s *docStore) serve(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[r.Method]++
	s.lastHeads[r.Method] = r.Header.Clone()
	if status, ok := s.fail[r.Method]; ok {
		http.Error(w, s.failBody, status)
		return false
	}
	if status, ok := s.redirect[r.Method]; ok && r.URL.RawQuery == "" {
		http.Redirect(w, r, r.URL.Path+"?moved", status)
		return false
	}
	d, exists := s.docs[r.URL.Path]
	if !s.ignoreIf {
		if m := r.Header.Get("If-Match"); m != "" && (!exists || m != s.etag(d)) {
			http.Error(w, "precondition failed", http.StatusPreconditionFailed)
			return false
		}
		if r.Header.Get("If-None-Match") == "*" && exists {
			http.Error(w, "precondition failed", http.StatusPreconditionFailed)
			return false
		}
	}
	switch r.Method {
	case http.MethodGet:
		if !exists {
			http.NotFound(w, r)
			return true
		}
		if !s.noETag {
			w.Header().Set("ETag", s.etag(d))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(d.body)
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		s.version++
		s.docs[r.URL.Path] = stored{body, s.version}
		if exists {
			w.WriteHeader(http.StatusNoContent)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
	case http.MethodDelete:
		if !exists {
			http.NotFound(w, r)
			return true
		}
		delete(s.docs, r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
	return true
}
