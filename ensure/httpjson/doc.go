// Package httpjson brings a JSON document held at an HTTP URL (a gateway's
// route, an API's configuration) to a declared state, so that a change that
// writes it can be run again safely.
//
// The URL is taken as a document store: GET answering 200 means the
// document is present (the body), 404 that it is absent; PUT writes it and
// DELETE removes it. Put moves the document from one declared state to
// another, Ensure creates it or verifies it. Each GETs first and writes only
// if the document differs from the state it leads to:
//
//	found to    -> ensure.Unchanged: one GET, nothing written (a retry ends here)
//	found from  -> PUT to (DELETE when to is nil): ensure.Created (from nil),
//	               ensure.Deleted (to nil), ensure.Updated otherwise
//	found other -> *ensure.ConflictError, nothing written
//
// A DELETE answered 404, the document removed by someone else since the
// GET, gives ensure.Absent: the state the change leads to holds. A redirect
// that would turn a PUT or a DELETE into a GET (301, 302, 303) is not
// followed but reported as an error, as the write did not happen.
//
// # Comparing documents
//
// Documents are compared as JSON values, not as bytes: whitespace and the
// order of object keys do not matter, and numbers are compared by their
// decimal value, exactly (1, 1.0 and 10e-1 are equal; 0.1 and
// 0.10000000000000001 are not, as no float rounding takes place), because a
// server may store a document and give it back formatted its own way. The
// bodies sent are the caller's bytes, unchanged.
//
// # Concurrent writers
//
// Between the GET and the write another client may change the document. When
// the GET returned a strong ETag, the write carries If-Match with it, and a
// server that honours it answers 412 Precondition Failed, which Put reports
// as a *ensure.ConflictError; a create carries If-None-Match: * for the same
// reason. A weak ETag (W/"…") is not sent, as If-Match never matches one. A
// server that ignores these headers leaves a window between the GET and the
// write in which a concurrent change is overwritten.
//
// # Errors
//
// A status other than those above is an error naming the method, the URL
// (without its userinfo), the status and the first 200 bytes of the
// response body. Request bodies are never part of an error. A `from`, `to`
// or `want` that is not valid JSON is an error before any request.
//
// # Retry safety
//
// A change may declare recovery=retry only if running it again after it ran
// partly or fully gives the same end state and no extra effect. A change made
// of these helpers does: a retry that finds the document in the state it
// leads to writes nothing, and one that finds a state nobody declared stops
// with a conflict instead of overwriting it. A POST that creates a resource
// with an id the server assigns is not retry-safe: a retry creates another,
// and after a crash only a person can say whether the first happened; such
// a change stays recovery=manual.
//
// A change and its rollback, each one call:
//
//	//flamingock:change id=route-v2 order=6 target=gateway recovery=retry rollback=RouteV1
//	func RouteV2(ctx context.Context, c *http.Client) error {
//		_, err := httpjson.Put(ctx, c, routeURL, []byte(`{"upstream":"orders-v1"}`), []byte(`{"upstream":"orders-v2"}`))
//		return err
//	}
//
//	func RouteV1(ctx context.Context, c *http.Client) error {
//		_, err := httpjson.Put(ctx, c, routeURL, []byte(`{"upstream":"orders-v2"}`), []byte(`{"upstream":"orders-v1"}`))
//		return err
//	}
package httpjson
