// Package gateway is the platform example's stand-in for an API gateway's
// configuration API: one JSON document per route, read and written over
// HTTP, kept in a JSON file so that it survives restarts (the example's
// second run must find what the first one put).
//
//	GET    /routes          every route: {"name": document, …}
//	GET    /routes/NAME     200 and the document, with its ETag; 404 when absent
//	PUT    /routes/NAME     stores the body (a JSON value): 201 created, 200 replaced
//	DELETE /routes/NAME     204; 404 when absent
//
// PUT and DELETE honour If-Match (412 when the ETag differs, or the route
// is absent), which is what lets a client that read a route write it only
// if nobody changed it in between.
package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// maxBody bounds a route document.
const maxBody = 1 << 20

// API serves the route configuration kept in one state file.
type API struct {
	path string
	mux  *http.ServeMux

	mu       sync.Mutex
	routes   map[string]json.RawMessage
	requests map[string]int
}

// Open returns the API whose state is the file at path, created on the
// first write; an existing file must hold a JSON object of routes.
func Open(path string) (*API, error) {
	a := &API{path: path, routes: map[string]json.RawMessage{}, requests: map[string]int{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("gateway state: %w", err)
	default:
		if err := json.Unmarshal(b, &a.routes); err != nil {
			return nil, fmt.Errorf("gateway state %s: %w", path, err)
		}
		// The file is indented; documents are kept compact, so that a
		// route's ETag is the same before and after a restart.
		for name, doc := range a.routes {
			a.routes[name] = compact(doc)
		}
	}
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("GET /routes", a.list)
	a.mux.HandleFunc("GET /routes/{name}", a.get)
	a.mux.HandleFunc("PUT /routes/{name}", a.put)
	a.mux.HandleFunc("DELETE /routes/{name}", a.delete)
	return a, nil
}

// ServeHTTP serves the API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests[r.Method]++
	a.mu.Unlock()
	a.mux.ServeHTTP(w, r)
}

// Requests returns how many requests the API received since Open, by
// method: what a test counts to prove that a run sent nothing.
func (a *API) Requests() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]int, len(a.requests))
	for k, v := range a.requests {
		m[k] = v
	}
	return m
}

// Routes returns a copy of the routes held.
func (a *API) Routes() map[string]json.RawMessage {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]json.RawMessage, len(a.routes))
	for k, v := range a.routes {
		m[k] = bytes.Clone(v)
	}
	return m
}

// compact returns doc, valid JSON, without insignificant white space.
func compact(doc []byte) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, doc); err != nil {
		return doc
	}
	return b.Bytes()
}

func etag(doc []byte) string {
	sum := sha256.Sum256(doc)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func (a *API) list(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	b, err := json.Marshal(a.routes)
	a.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	doc, ok := a.routes[r.PathValue("name")]
	a.mu.Unlock()
	if !ok {
		http.Error(w, "no such route", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag(doc))
	w.Write(doc)
}

func (a *API) put(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if !json.Valid(body) {
		http.Error(w, "the body is not JSON", http.StatusBadRequest)
		return
	}
	body = compact(body)
	name := r.PathValue("name")
	a.mu.Lock()
	defer a.mu.Unlock()
	old, existed := a.routes[name]
	if !a.matches(w, r, old, existed) {
		return
	}
	a.routes[name] = body
	if err := a.save(); err != nil {
		restore(a.routes, name, old, existed)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("ETag", etag(body))
	if existed {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	a.mu.Lock()
	defer a.mu.Unlock()
	old, existed := a.routes[name]
	if !a.matches(w, r, old, existed) {
		return
	}
	if !existed {
		http.Error(w, "no such route", http.StatusNotFound)
		return
	}
	delete(a.routes, name)
	if err := a.save(); err != nil {
		restore(a.routes, name, old, existed)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// matches checks the request's If-Match against the route's current
// document, answering 412 when it does not hold. Called with a.mu held.
func (a *API) matches(w http.ResponseWriter, r *http.Request, doc []byte, exists bool) bool {
	want := r.Header.Get("If-Match")
	if want == "" || want == "*" && exists || exists && want == etag(doc) {
		return true
	}
	http.Error(w, "the route changed since it was read", http.StatusPreconditionFailed)
	return false
}

func restore(routes map[string]json.RawMessage, name string, old json.RawMessage, existed bool) {
	if existed {
		routes[name] = old
	} else {
		delete(routes, name)
	}
}

// save writes the routes to the state file atomically (a temporary file
// renamed over it), so a crash leaves the old state or the new one. Called
// with a.mu held.
func (a *API) save() error {
	b, err := json.MarshalIndent(a.routes, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.path), ".gateway-*")
	if err != nil {
		return fmt.Errorf("gateway state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("gateway state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("gateway state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gateway state: %w", err)
	}
	if err := os.Rename(tmp.Name(), a.path); err != nil {
		return fmt.Errorf("gateway state: %w", err)
	}
	return nil
}
