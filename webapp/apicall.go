// Calls of the JSON API in-process, as the session's organization.

package webapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/linkitworks/customers/api"
)

// apiError is the API's documented error body.
type apiError struct {
	Status  int
	Message string         `json:"error"`
	Details map[string]any `json:"details"`
}

func (e *apiError) Error() string { return fmt.Sprintf("API %d: %s", e.Status, e.Message) }

// Fields lists the details as "field: problem" lines, sorted, for pages.
func (e *apiError) Fields() []string {
	var out []string
	for k, v := range e.Details {
		switch v := v.(type) {
		case string:
			out = append(out, k+": "+v)
		case []any:
			parts := make([]string, 0, len(v))
			for _, x := range v {
				parts = append(parts, fmt.Sprint(x))
			}
			out = append(out, k+": "+strings.Join(parts, ", "))
		default:
			b, _ := json.Marshal(v)
			out = append(out, k+": "+string(b))
		}
	}
	sort.Strings(out)
	return out
}

// result is a decoded success body: {"data": …, "meta": …}.
type result struct {
	Status int
	// Location is where a 301 (a merged customer) points.
	Location string
	Data     any            `json:"data"`
	Meta     map[string]any `json:"meta"`
}

// Map is Data as an object (nil when it is not one).
func (r *result) Map() map[string]any {
	m, _ := r.Data.(map[string]any)
	return m
}

// List is Data as an array of objects.
func (r *result) List() []map[string]any {
	xs, _ := r.Data.([]any)
	out := make([]map[string]any, 0, len(xs))
	for _, x := range xs {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// buffer is the ResponseWriter of an in-process call. It unwraps to the
// browser's writer so the API's upload handler can extend the connection's
// read deadline while a forwarded file streams in.
type buffer struct {
	header http.Header
	status int
	body   bytes.Buffer
	under  http.ResponseWriter
}

func (b *buffer) Header() http.Header { return b.header }
func (b *buffer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *buffer) Unwrap() http.ResponseWriter { return b.under }

// apiRequest builds an in-process request of the API for the session.
func apiRequest(ctx context.Context, s *session, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	target := "/api/v1" + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(api.WithOrganization(ctx, s.Org, s.KeyID), method, target, body)
	if err != nil {
		return nil, fmt.Errorf("api request %s %s: %w", method, path, err)
	}
	req.RemoteAddr = "webapp"
	return req, nil
}

// call runs one API request and decodes its answer; an error answer is
// returned as *apiError.
func (a *App) call(w http.ResponseWriter, r *http.Request, s *session, method, path string, query url.Values, body any) (*result, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s body: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := apiRequest(r.Context(), s, method, path, query, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return a.do(w, req)
}

// do serves req with the API and decodes the answer.
func (a *App) do(w http.ResponseWriter, req *http.Request) (*result, error) {
	buf := &buffer{header: http.Header{}, under: w}
	a.api.ServeHTTP(buf, req)
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	if buf.status >= 400 {
		e := &apiError{Status: buf.status}
		if err := json.Unmarshal(buf.body.Bytes(), e); err != nil || e.Message == "" {
			e.Message = http.StatusText(buf.status)
		}
		return nil, e
	}
	res := &result{Status: buf.status, Location: buf.header.Get("Location")}
	if buf.status == http.StatusNoContent || buf.body.Len() == 0 {
		return res, nil
	}
	dec := json.NewDecoder(&buf.body)
	dec.UseNumber()
	if err := dec.Decode(res); err != nil {
		return nil, fmt.Errorf("decode API answer of %s: %w", req.URL.Path, err)
	}
	return res, nil
}
