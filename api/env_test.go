package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
)

// env is one test's running API over its own database: a thin layer over
// linkittest.Stack so that the many tests' bodies read as before.
type env struct {
	stack *linkittest.Stack // nil for a hand-built server (newServerEnv)
	t     testing.TB
	url   string // the API's base URL
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

// newEnvWith is an API with no queue (endpoints that need it answer 503).
func newEnvWith(t testing.TB, cfg api.Config) *env {
	t.Helper()
	return wrap(t, linkittest.New(t, linkittest.WithoutQueue(), linkittest.WithAPI(cfg)))
}

func wrap(t testing.TB, s *linkittest.Stack) *env {
	return &env{stack: s, t: t, url: s.URL, store: s.Store, org: s.Org, key: s.Key}
}

// newOrg creates an organization with a key.
func (e *env) newOrg(name, region string) (orgID, key string) {
	e.t.Helper()
	return linkittest.NewOrg(e.t, e.store, name, region)
}

// response is a decoded answer, with the accessors the tests use.
type response struct{ linkittest.Response }

func (r response) data() map[string]any    { return r.Data() }
func (r response) list() []map[string]any  { return r.List() }
func (r response) meta() map[string]any    { return r.Meta() }
func (r response) details() map[string]any { return r.Details() }
func (r response) want(t testing.TB, status int) response {
	t.Helper()
	r.Want(t, status)
	return r
}

// wantError checks an error answer's documented shape and the fields named.
func (r response) wantError(t testing.TB, status int, fields ...string) response {
	t.Helper()
	r.WantError(t, status, fields...)
	return r
}

// do sends a request with the env's key; body may be a string (sent as is)
// or any value (sent as JSON).
func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	return e.doKey(e.key, method, path, body, headers...)
}

func (e *env) doKey(key, method, path string, body any, headers ...string) response {
	e.t.Helper()
	return response{e.client().DoKey(key, method, path, body, headers...)}
}

// client is the API as the env's organization.
func (e *env) client() linkittest.Client {
	return linkittest.Client{T: e.t, URL: e.url, Key: e.key}
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
