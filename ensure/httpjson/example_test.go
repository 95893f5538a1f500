package httpjson_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/flamingock/flamingock-go/ensure/httpjson"
)

var (
	routeV1 = []byte(`{"upstream": "orders-v1"}`)
	routeV2 = []byte(`{"upstream": "orders-v2"}`)
)

// RouteV2 is a change that points a gateway's route at orders-v2. Run
// again, it finds the route there and writes nothing, so it may declare
// recovery=retry.
//
//flamingock:change id=route-v2 order=6 target=gateway recovery=retry rollback=RouteV1
func RouteV2(ctx context.Context, c *http.Client, routeURL string) error {
	_, err := httpjson.Put(ctx, c, routeURL, routeV1, routeV2)
	return err
}

// RouteV1 is the rollback of RouteV2.
func RouteV1(ctx context.Context, c *http.Client, routeURL string) error {
	_, err := httpjson.Put(ctx, c, routeURL, routeV2, routeV1)
	return err
}

// A change that moves a route from one upstream to another, run twice, as a
// retry after a crash would: the second run finds the route moved already.
func ExamplePut() {
	gateway := exampleGateway(`{"upstream":"orders-v1"}`)
	defer gateway.Close()
	routeURL := gateway.URL + "/routes/orders"

	for range 2 {
		outcome, err := httpjson.Put(context.Background(), nil, routeURL, routeV1, routeV2)
		fmt.Println(outcome, err)
	}
	// A route in a state the change does not know stops it.
	_, err := httpjson.Put(context.Background(), nil, routeURL, []byte(`{"upstream":"orders-v0"}`), routeV1)
	fmt.Println(err != nil)
	// Output:
	// updated <nil>
	// unchanged <nil>
	// true
}

// exampleGateway serves one JSON document per path, created with doc at
// /routes/orders: GET and PUT, no ETags.
func exampleGateway(doc string) *httptest.Server {
	var mu sync.Mutex
	docs := map[string]string{"/routes/orders": doc}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodGet:
			d, ok := docs[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, d)
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			docs[r.URL.Path] = string(b)
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	}))
}
