package linkittest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/linkitworks/customers/api"
)

// openAPI is the served document, loaded, validated and routed once.
var openAPI = sync.OnceValues(func() (routers.Router, error) {
	raw, err := api.OpenAPI()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is not valid OpenAPI: %w", err)
	}
	return gorillamux.NewRouter(doc)
})

// OpenAPIDocument returns the API's document, loaded and validated by
// kin-openapi.
func OpenAPIDocument() (*openapi3.T, error) {
	raw, err := api.OpenAPI()
	if err != nil {
		return nil, err
	}
	return openapi3.NewLoader().LoadFromData(raw)
}

// CheckOpenAPI fails t unless r, the answer to method path (query
// included), is one the OpenAPI document describes: the operation, the
// status (or default) and the body against its schema.
func CheckOpenAPI(t testing.TB, method, path string, r Response) {
	t.Helper()
	if err := ValidateOpenAPI(method, path, r); err != nil {
		t.Errorf("%s %s answered %d, not as the OpenAPI document says: %v\nbody: %s", method, path, r.Status, err, r.Raw)
	}
}

// ValidateOpenAPI is CheckOpenAPI returning the mismatch.
func ValidateOpenAPI(method, path string, r Response) error {
	router, err := openAPI()
	if err != nil {
		return err
	}
	u, err := url.Parse("http://linkit.test" + path)
	if err != nil {
		return err
	}
	req := &http.Request{Method: method, URL: u, Header: http.Header{}}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no operation: %w", err)
	}
	header := r.Header
	if header == nil {
		header = http.Header{"Content-Type": {"application/json"}}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			// Authentication is the server's business, not the document's.
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: r.Status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader([]byte(r.Raw))),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}
