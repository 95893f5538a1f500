package crashproof_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// apiServer stands for an HTTP API's configuration, in the parent test
// process (children reach it by its URL): JSON documents under
// /<prefix>/docs/… (GET, PUT, DELETE, with strong ETags and If-Match /
// If-None-Match), and events under /<prefix>/events/<id> (POST
// {"delta": n}, each one a new resource with an id the server assigns).
// It counts every request by method and path, and the writes that changed
// nothing: a PUT of the document already there, a DELETE of one absent.
type apiServer struct {
	srv *httptest.Server

	mu       sync.Mutex
	docs     map[string]string // canonical JSON by path
	versions map[string]int    // by path, for ETags
	sums     map[string]int    // the events' deltas by path
	lastID   int
	requests map[string]int // by "METHOD path"
	noops    map[string]int // by path
}

func newAPIServer(t *testing.T) *apiServer {
	s := &apiServer{docs: map[string]string{}, versions: map[string]int{}, sums: map[string]int{},
		requests: map[string]int{}, noops: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// canonical returns b as compact JSON with sorted keys.
func canonical(b []byte) (string, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}

func (s *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := r.URL.Path
	s.requests[r.Method+" "+path]++
	switch {
	case strings.Contains(path, "/docs/"):
		s.doc(w, r, path, body)
	case strings.Contains(path, "/events/") && r.Method == http.MethodPost:
		var e struct{ Delta json.Number }
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "bad event: "+err.Error(), http.StatusBadRequest)
			return
		}
		n, err := strconv.Atoi(e.Delta.String())
		if err != nil {
			http.Error(w, "bad delta: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.sums[path] += n
		s.lastID++
		w.Header().Set("Location", fmt.Sprintf("%s/%d", path, s.lastID))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id": %d}`, s.lastID)
	default:
		http.NotFound(w, r)
	}
}

func (s *apiServer) doc(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	have, exists := s.docs[path]
	etag := fmt.Sprintf(`"v%d"`, s.versions[path])
	if m := r.Header.Get("If-Match"); m != "" && (!exists || m != etag) {
		http.Error(w, "precondition failed", http.StatusPreconditionFailed)
		return
	}
	if r.Header.Get("If-None-Match") == "*" && exists && r.Method != http.MethodGet {
		http.Error(w, "precondition failed", http.StatusPreconditionFailed)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if !exists {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, have)
	case http.MethodPut:
		doc, err := canonical(body)
		if err != nil {
			http.Error(w, "not JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		if exists && doc == have {
			s.noops[path]++
		}
		s.docs[path] = doc
		s.versions[path]++
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, s.versions[path]))
		if exists {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
	case http.MethodDelete:
		if !exists {
			s.noops[path]++
			http.NotFound(w, r)
			return
		}
		delete(s.docs, path)
		s.versions[path]++
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// holds reports whether the document at path is there with the JSON
// want.
func (s *apiServer) holds(path, want string) bool {
	c, err := canonical([]byte(want))
	if err != nil {
		panic(err) // the tests' own documents
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	have, ok := s.docs[path]
	return ok && have == c
}

// events returns the sum of the deltas POSTed to path.
func (s *apiServer) events(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sums[path]
}

// noopsUnder returns the writes under prefix that changed nothing.
func (s *apiServer) noopsUnder(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for path, c := range s.noops {
		if strings.HasPrefix(path, prefix) {
			n += c
		}
	}
	return n
}

// postEvent POSTs an event with delta to url: a new resource each time.
func postEvent(ctx context.Context, c *http.Client, url, delta string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"delta": `+delta+`}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, b)
	}
	return nil
}
