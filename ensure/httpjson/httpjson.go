package httpjson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/flamingock/flamingock-go/ensure"
)

// MaxDocumentSize bounds the body a GET may return: a larger document is an
// error rather than memory spent on something that is hardly a
// configuration document.
const MaxDocumentSize = 16 << 20

// excerptSize bounds the part of a response body an error quotes.
const excerptSize = 200

// Put moves the JSON document at url from one state to the other; nil
// stands for the absent document (from nil: create; to nil: delete). Found
// in state `to`, it writes nothing and returns ensure.Unchanged; found in
// state `from`, it PUTs `to` (DELETEs, if to is nil) and returns
// ensure.Created, ensure.Updated or ensure.Deleted; found in any other
// state, or changed by someone else between the GET and the write (412), it
// returns a *ensure.ConflictError. A DELETE answered 404 gives
// ensure.Absent. A nil c means http.DefaultClient.
func Put(ctx context.Context, c *http.Client, url string, from, to []byte) (ensure.Outcome, error) {
	fromDoc, err := parseArg("from", from)
	if err != nil {
		return ensure.Unchanged, err
	}
	toDoc, err := parseArg("to", to)
	if err != nil {
		return ensure.Unchanged, err
	}
	return put(ctx, c, url, fromDoc, toDoc, to)
}

// Ensure creates the JSON document at url holding want if it is absent
// (ensure.Created), and verifies it otherwise: a document equal to want
// gives ensure.Unchanged, any other a *ensure.ConflictError, with nothing
// written. want must not be nil.
func Ensure(ctx context.Context, c *http.Client, url string, want []byte) (ensure.Outcome, error) {
	if want == nil {
		return ensure.Unchanged, errors.New("httpjson: want is nil; use Put with to nil to remove a document")
	}
	wantDoc, err := parseArg("want", want)
	if err != nil {
		return ensure.Unchanged, err
	}
	return put(ctx, c, url, nil, wantDoc, want)
}

// doc is a parsed document; a nil *doc is the absent document.
type doc struct{ v any }

func parseArg(name string, b []byte) (*doc, error) {
	if b == nil {
		return nil, nil
	}
	v, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("httpjson: %s is not valid JSON: %w", name, err)
	}
	return &doc{v}, nil
}

func put(ctx context.Context, c *http.Client, rawURL string, from, to *doc, body []byte) (ensure.Outcome, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not quoted: the text of a URL that does not parse may hold a
		// password that redact cannot find.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return ensure.Unchanged, fmt.Errorf("httpjson: the document's URL does not parse: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return ensure.Unchanged, fmt.Errorf("httpjson: document %s: the URL's scheme is not http or https", redact(u))
	}
	// Checked here so that a cancelled call sends nothing, whatever the
	// client's transport does with a done context.
	if err := ctx.Err(); err != nil {
		return ensure.Unchanged, fmt.Errorf("document %s: %w", redact(u), err)
	}
	s := store{c: keepMethod(c), u: u}
	have, etag, err := s.get(ctx)
	if err != nil {
		return ensure.Unchanged, err
	}
	if equalDocs(have, to) {
		return ensure.Unchanged, nil
	}
	if !equalDocs(have, from) {
		return ensure.Unchanged, &ensure.ConflictError{Resource: "document " + redact(u), Diffs: diffs(have, from, to)}
	}
	if to == nil {
		return s.write(ctx, http.MethodDelete, nil, etag, ensure.Deleted)
	}
	if from == nil {
		return s.write(ctx, http.MethodPut, body, "", ensure.Created)
	}
	return s.write(ctx, http.MethodPut, body, etag, ensure.Updated)
}

// keepMethod returns a copy of c (http.DefaultClient if nil) that does not
// follow a redirect changing the method: answered 301, 302 or 303, a PUT or
// a DELETE would be followed as a GET, and its 200 taken for a write that
// never happened. Such an answer is reported as an unexpected status
// instead; 307 and 308, which keep the method and the body, are followed as
// c would.
func keepMethod(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	cc := *c
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Method != via[0].Method {
			return http.ErrUseLastResponse
		}
		if c.CheckRedirect != nil {
			return c.CheckRedirect(req, via)
		}
		// The default policy of http.Client.
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// store sends the requests of one call to the document at u.
type store struct {
	c *http.Client
	u *url.URL
}

// get returns the document (nil if absent) and its strong ETag, if the
// server gave one.
func (s store) get(ctx context.Context) (*doc, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.u.String(), nil)
	if err != nil {
		return nil, "", s.fail(http.MethodGet, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.c.Do(req)
	if err != nil {
		return nil, "", s.fail(http.MethodGet, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		drain(resp.Body)
		return nil, "", nil
	case resp.StatusCode != http.StatusOK:
		return nil, "", s.status(http.MethodGet, resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, "", s.fail(http.MethodGet, fmt.Errorf("reading the body: %w", err))
	}
	if len(b) > MaxDocumentSize {
		return nil, "", s.fail(http.MethodGet, fmt.Errorf("the document is larger than %d bytes", MaxDocumentSize))
	}
	v, err := decode(b)
	if err != nil {
		return nil, "", s.fail(http.MethodGet, fmt.Errorf("the body is not valid JSON (%s): %w", excerpt(b), err))
	}
	etag := resp.Header.Get("ETag")
	if strings.HasPrefix(etag, "W/") {
		etag = ""
	}
	return &doc{v}, etag, nil
}

// write sends a PUT of body, or a DELETE, conditional on etag if there is
// one, else for a create on the document being absent still. It returns
// done on success.
func (s store) write(ctx context.Context, method string, body []byte, etag string, done ensure.Outcome) (ensure.Outcome, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.u.String(), r)
	if err != nil {
		return ensure.Unchanged, s.fail(method, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case etag != "":
		req.Header.Set("If-Match", etag)
	case done == ensure.Created:
		req.Header.Set("If-None-Match", "*")
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return ensure.Unchanged, s.fail(method, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		drain(resp.Body)
		return done, nil
	case resp.StatusCode == http.StatusPreconditionFailed:
		drain(resp.Body)
		return ensure.Unchanged, &ensure.ConflictError{
			Resource: "document " + redact(s.u),
			Diffs:    []string{method + " answered 412 Precondition Failed: the document changed after it was read"},
		}
	case resp.StatusCode == http.StatusNotFound && method == http.MethodDelete:
		// Removed by someone else after our GET: the state the change
		// leads to holds, though not by its doing.
		drain(resp.Body)
		return ensure.Absent, nil
	}
	return ensure.Unchanged, s.status(method, resp)
}

// fail wraps err with the method and the redacted URL. The client's
// *url.Error is unwrapped, as its message repeats the URL with the user
// name in it.
func (s store) fail(method string, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("%s %s: %w", method, redact(s.u), err)
}

// status reports an unexpected status with the start of the body, which
// usually says why.
func (s store) status(method string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, excerptSize+1))
	drain(resp.Body)
	msg := fmt.Sprintf("%s %s: %s", method, redact(s.u), resp.Status)
	if len(bytes.TrimSpace(b)) > 0 {
		msg += ": " + excerpt(b)
	}
	return errors.New(msg)
}

// drain reads a bounded rest of a body so that the connection can be
// reused.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }

// excerpt quotes at most excerptSize bytes of b.
func excerpt(b []byte) string {
	if len(b) > excerptSize {
		return strings.ToValidUTF8(string(b[:excerptSize]), "\uFFFD") + "…"
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// redact drops the userinfo from u: errors end up in logs and in the audit
// trail.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
