package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// env is one test's running API over its own database.
type env struct {
	t     testing.TB
	srv   *httptest.Server
	store *postgres.Store
	org   string
	key   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, api.Config{})
}

// newEnvAt is newEnv with the server's clock stopped at now, for figures
// that depend on the date (order defaults, analytics periods).
func newEnvAt(t testing.TB, now time.Time) *env {
	t.Helper()
	return newEnvWith(t, api.Config{Now: func() time.Time { return now }})
}

func newEnvWith(t testing.TB, cfg api.Config) *env {
	t.Helper()
	store := postgrestest.New(t)
	cfg.AdminToken = "admin-secret"
	h := api.NewServer(cfg, api.Deps{Store: store, Checks: []api.Check{{Name: "postgres", Ping: store.Ping}}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, store: store}
	e.org, e.key = e.newOrg("Acme", "")
	return e
}

// newOrg creates an organization with a key.
func (e *env) newOrg(name, region string) (orgID, key string) {
	e.t.Helper()
	o := &customer.Organization{Name: name, DefaultRegion: region}
	if err := e.store.CreateOrganization(context.Background(), o); err != nil {
		e.t.Fatal(err)
	}
	k, err := e.store.CreateAPIKey(context.Background(), o.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return o.ID, k.Secret
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// data returns body["data"] as an object.
func (r response) data() map[string]any {
	m, _ := r.Body["data"].(map[string]any)
	return m
}

// list returns body["data"] as a list of objects.
func (r response) list() []map[string]any {
	var out []map[string]any
	items, _ := r.Body["data"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

func (r response) meta() map[string]any {
	m, _ := r.Body["meta"].(map[string]any)
	return m
}

func (r response) details() map[string]any {
	m, _ := r.Body["details"].(map[string]any)
	return m
}

// do sends a request with the env's key; body may be a string (sent as is)
// or any value (sent as JSON).
func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	return e.doKey(e.key, method, path, body, headers...)
}

func (e *env) doKey(key, method, path string, body any, headers ...string) response {
	e.t.Helper()
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
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// want fails the test when the status differs, showing the body.
func (r response) want(t testing.TB, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Raw)
	}
	return r
}

// wantError checks an error answer's documented shape and the fields named.
func (r response) wantError(t testing.TB, status int, fields ...string) response {
	t.Helper()
	r.want(t, status)
	if code, _ := r.Body["code"].(float64); int(code) != status {
		t.Fatalf("body code = %v, want %d; body: %s", r.Body["code"], status, r.Raw)
	}
	if msg, _ := r.Body["error"].(string); msg == "" {
		t.Fatalf("error message missing; body: %s", r.Raw)
	}
	for _, f := range fields {
		if _, ok := r.details()[f]; !ok {
			t.Fatalf("details do not name %q; body: %s", f, r.Raw)
		}
	}
	return r
}

// createCustomer makes a customer through the API and returns its JSON.
func (e *env) createCustomer(fields map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"first_name": "Test", "last_name": "User"}
	for k, v := range fields {
		body[k] = v
	}
	return e.do("POST", "/api/v1/customers", body).want(e.t, http.StatusCreated).data()
}

func str(v any) string { s, _ := v.(string); return s }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
