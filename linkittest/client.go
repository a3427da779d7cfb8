package linkittest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/client"
)

// Client calls a running API (a Stack's, or a linkit process's) with an API key.
type Client struct {
	T   testing.TB
	URL string // base URL, no trailing slash
	Key string
}

// API is the generated client (package client) of this Client's URL and
// key, for tests that call the API as a Go program would.
func (c Client) API() *client.ClientWithResponses {
	c.T.Helper()
	api, err := client.New(c.URL, c.Key, client.WithHTTPClient(noRedirects))
	if err != nil {
		c.T.Fatal(err)
	}
	return api
}

// noRedirects lets tests see a 3xx as the API sent it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Do sends a request with the client's key; body may be a string or []byte
// (sent as is) or any value (sent as JSON); headers are name, value pairs.
func (c Client) Do(method, path string, body any, headers ...string) Response {
	c.T.Helper()
	return c.DoKey(c.Key, method, path, body, headers...)
}

// DoKey is Do with another key ("" sends none).
func (c Client) DoKey(key, method, path string, body any, headers ...string) Response {
	c.T.Helper()
	auth := ""
	if key != "" {
		auth = "Bearer " + key
	}
	return Call(c.T, method, c.URL+path, auth, body, headers...)
}

// Call sends one request to url with the given Authorization header ("":
// none) and decodes the answer; see Client.Do for body and headers.
func Call(t testing.TB, method, url, auth string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return Send(t, req)
}

// Send sends req as it is and decodes the answer.
func Send(t testing.TB, req *http.Request) Response {
	t.Helper()
	r, err := Fetch(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Fetch is Send for goroutines that may not fail the test: it returns the
// transport error.
func Fetch(req *http.Request) (Response, error) {
	res, err := noRedirects.Do(req)
	if err != nil {
		return Response{}, err
	}
	return decode(res)
}

// decode reads and closes res's body into a Response.
func decode(res *http.Response) (Response, error) {
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return Response{}, fmt.Errorf("read %s %s: %w", res.Request.Method, res.Request.URL.Path, err)
	}
	out := Response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out, nil
}

// Answer decodes an answer of the generated client's plain methods into a
// Response: s.Answer(s.API().GetImport(ctx, id)).Want(t, 200).
func (c Client) Answer(res *http.Response, err error) Response {
	c.T.Helper()
	if err != nil {
		c.T.Fatal(err)
	}
	r, err := decode(res)
	if err != nil {
		c.T.Fatal(err)
	}
	return r
}

// Upload posts a file to path: as multipart (field "file", named fileName)
// when contentType is empty, else as the raw body of that type.
func (c Client) Upload(path, fileName, contentType string, body []byte) Response {
	c.T.Helper()
	var buf bytes.Buffer
	ct := contentType
	if contentType == "" {
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormFile("file", fileName)
		if err != nil {
			c.T.Fatal(err)
		}
		_, _ = fw.Write(body)
		_ = mw.Close()
		ct = mw.FormDataContentType()
	} else {
		buf.Write(body)
	}
	req, err := http.NewRequest("POST", c.URL+path, &buf)
	if err != nil {
		c.T.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+c.Key)
	return Send(c.T, req)
}

// ImportCSV uploads a CSV file to path (the imports endpoint and its
// options), expects it accepted (202) and returns the import once it ends.
func (c Client) ImportCSV(path string, file []byte) map[string]any {
	c.T.Helper()
	id, _ := c.Upload(path, "", "text/csv", file).Want(c.T, http.StatusAccepted).Data()["id"].(string)
	return c.WaitImport(id, time.Minute)
}

// WaitImport polls an import until it is completed, failed or cancelled.
func (c Client) WaitImport(id string, within time.Duration) map[string]any {
	c.T.Helper()
	api := c.API()
	get := func(ctx context.Context) (*http.Response, error) { return api.GetImport(ctx, id) }
	return c.wait("/api/v1/imports/"+id, get, "status", within, "completed", "failed", "cancelled")
}

// WaitJob polls a job until it is completed or failed.
func (c Client) WaitJob(id string, within time.Duration) map[string]any {
	c.T.Helper()
	api := c.API()
	get := func(ctx context.Context) (*http.Response, error) { return api.GetJob(ctx, id) }
	return c.wait("/api/v1/jobs/"+id, get, "state", within, "completed", "failed")
}

// wait polls with get (a generated call) until the answer's field is one
// of final; path names it in the failure.
func (c Client) wait(path string, get func(context.Context) (*http.Response, error), field string, within time.Duration, final ...string) map[string]any {
	c.T.Helper()
	deadline := time.Now().Add(within)
	var last Response
	for time.Now().Before(deadline) {
		res, err := get(context.Background())
		if err != nil {
			c.T.Fatalf("GET %s: %v", path, err)
		}
		if last, err = decode(res); err != nil {
			c.T.Fatal(err)
		}
		if last.Status == http.StatusServiceUnavailable {
			// A pooled connection the database dropped answers 503 once;
			// clients retry, and so does this poll.
			time.Sleep(25 * time.Millisecond)
			continue
		}
		data := last.Want(c.T, http.StatusOK).Data()
		for _, f := range final {
			if data[field] == f {
				return data
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	c.T.Fatalf("%s did not end within %s: %s", path, within, last.Raw)
	return nil
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Data is body["data"] as an object.
func (r Response) Data() map[string]any {
	m, _ := r.Body["data"].(map[string]any)
	return m
}

// List is body["data"] as a list of objects.
func (r Response) List() []map[string]any {
	var out []map[string]any
	items, _ := r.Body["data"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// Meta is body["meta"].
func (r Response) Meta() map[string]any {
	m, _ := r.Body["meta"].(map[string]any)
	return m
}

// Details is body["details"] of an error answer.
func (r Response) Details() map[string]any {
	m, _ := r.Body["details"].(map[string]any)
	return m
}

// Want fails the test when the status differs, showing the body.
func (r Response) Want(t testing.TB, status int) Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Raw)
	}
	return r
}

// WantError checks an error answer's documented shape and the fields named.
func (r Response) WantError(t testing.TB, status int, fields ...string) Response {
	t.Helper()
	r.Want(t, status)
	if code, _ := r.Body["code"].(float64); int(code) != status {
		t.Fatalf("body code = %v, want %d; body: %s", r.Body["code"], status, r.Raw)
	}
	if msg, _ := r.Body["error"].(string); msg == "" {
		t.Fatalf("error message missing; body: %s", r.Raw)
	}
	for _, f := range fields {
		if _, ok := r.Details()[f]; !ok {
			t.Fatalf("details do not name %q; body: %s", f, r.Raw)
		}
	}
	return r
}
