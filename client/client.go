package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// New returns a client of the API at baseURL ("http://localhost:8080")
// that sends key as its Bearer token ("" sends none). opts come after the
// key's editor: WithHTTPClient, WithRequestEditorFn, WithUserAgent.
func New(baseURL, key string, opts ...ClientOption) (*ClientWithResponses, error) {
	all := make([]ClientOption, 0, len(opts)+1)
	if key != "" {
		all = append(all, WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+key)
			return nil
		}))
	}
	return NewClientWithResponses(strings.TrimRight(baseURL, "/"), append(all, opts...)...)
}

// WithUserAgent names the program in every request's User-Agent.
func WithUserAgent(agent string) ClientOption {
	return WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("User-Agent", agent)
		return nil
	})
}

// Header returns an editor setting one request header, for the calls that
// take per-request editors (Content-Encoding of a gzipped upload, Expect…).
func Header(name, value string) RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set(name, value)
		return nil
	}
}

// APIError is an answer other than 2xx. Body is the documented error
// shape ({"code", "error", "details"}); the location-scoped routes' shape
// ({"success": false, "message", "errors"}) fills the same fields.
type APIError struct {
	Status int   // the HTTP status
	Body   Error // Body.Error: the message; Body.Details: field → problem, or what was not found
	// RetryAfter is the answer's Retry-After (0 when absent), sent with 429 and 503.
	RetryAfter time.Duration
	Raw        []byte // the body as received (at most 64 KiB)
}

func (e *APIError) Error() string {
	return fmt.Sprintf("API error %d: %s", e.Status, e.Message())
}

// Message is the answer's message (else the status text) followed by the
// fields its details name, sorted: "Validation error (email: must be …)".
func (e *APIError) Message() string {
	msg := e.Body.Error
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	var fields map[string]any
	if json.Unmarshal(e.Body.Details, &fields) == nil && len(fields) > 0 {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s: %v", k, fields[k])
		}
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	return msg
}

// Transient reports whether retrying later may succeed: a 5xx or a 429.
func (e *APIError) Transient() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// maxErrorBody bounds what an error answer may make a client read.
const maxErrorBody = 64 << 10

// newError builds the APIError of an answer with status, header and body.
func newError(status int, header http.Header, body []byte) *APIError {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	e := &APIError{Status: status, Body: Error{Code: status}, Raw: body}
	var b struct {
		Error   string          `json:"error"`
		Message string          `json:"message"`
		Details json.RawMessage `json:"details"`
		Errors  json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &b) == nil {
		e.Body.Error = b.Error
		if e.Body.Error == "" {
			e.Body.Error = b.Message
		}
		e.Body.Details = b.Details
		if len(e.Body.Details) == 0 {
			e.Body.Details = b.Errors
		}
	}
	if secs, err := strconv.Atoi(header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}

// Check returns nil for a 2xx answer; otherwise it reads (at most 64 KiB
// of) the body, closes it and returns the *APIError. For the plain Client's
// methods, which return the *http.Response unread: a streamed download, an
// upload that decodes its answer itself.
func Check(res *http.Response) error {
	if res.StatusCode/100 == 2 {
		return nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	return newError(res.StatusCode, res.Header, body)
}

// OK passes on a ...WithResponse method's answer when it is 2xx, else
// returns an *APIError made of it:
//
//	r, err := client.OK(c.GetImportWithResponse(ctx, id))
//	if err != nil { … }
//	im := r.JSON200.Data
func OK[R any](r *R, err error) (*R, error) {
	if err != nil {
		return r, err
	}
	res, body := answer(r)
	if res == nil {
		return r, fmt.Errorf("client: %T carries no HTTP response", r)
	}
	if res.StatusCode/100 != 2 {
		return r, newError(res.StatusCode, res.Header, body)
	}
	return r, nil
}

// answer reads the HTTPResponse and Body fields every generated
// ...Response struct has.
func answer(r any) (*http.Response, []byte) {
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, nil
	}
	v = v.Elem()
	res, _ := fieldOf(v, "HTTPResponse").(*http.Response)
	body, _ := fieldOf(v, "Body").([]byte)
	return res, body
}

func fieldOf(v reflect.Value, name string) any {
	f := v.FieldByName(name)
	if !f.IsValid() || !f.CanInterface() {
		return nil
	}
	return f.Interface()
}

// Ptr returns a pointer to v, for the generated types' optional fields:
// client.CustomerInput{Email: client.Ptr("sarah@example.com")}.
func Ptr[T any](v T) *T { return &v }

// Deref returns *p, or the zero value when p is nil: a nullable field's value
// ("" for an optional text field that answered null).
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
