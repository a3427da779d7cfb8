package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
)

// TestOpenAPIDescribesEveryRoute holds the document to routes.go: every
// /api route registered has its operation, and every operation a route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	doc, err := linkittest.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	routes := map[string]bool{}
	for _, p := range api.NewServer(api.Config{}, api.Deps{}).Routes() {
		method, path, ok := strings.Cut(p, " ")
		if ok && strings.HasPrefix(path, "/api/") {
			routes[method+" "+path] = true
		}
	}
	if len(routes) < 50 {
		t.Fatalf("only %d /api routes registered: %v", len(routes), routes)
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in api/openapi.yaml", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("api/openapi.yaml describes %s, which routes.go does not register", d)
		}
	}
}

// TestOpenAPIValid loads the served document as OpenAPI 3.1 and checks
// every operation has an id or is a shared path item, and examples hold.
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	doc, err := linkittest.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("invalid: %v", err)
	}
	if doc.Components.SecuritySchemes["bearer"] == nil || len(doc.Security) == 0 {
		t.Fatal("bearer auth is not declared")
	}
}

// TestOpenAPIServed: the document and its page are public and cacheable,
// the page's CSP allows only the vendored renderer.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutQueue())
	r := s.DoKey("", "GET", "/openapi.json", nil).Want(t, http.StatusOK)
	if r.Body["openapi"] != "3.1.0" || r.Header.Get("Cache-Control") != "public, max-age=300" || r.Header.Get("ETag") == "" {
		t.Fatalf("openapi.json: %v %v", r.Header, r.Body["openapi"])
	}
	info, _ := r.Body["info"].(map[string]any)
	if info["title"] != "Linkit Customers API" {
		t.Fatalf("info %v", info)
	}
	linkittest.Call(t, "GET", s.URL+"/openapi.json", "", nil, "If-None-Match", r.Header.Get("ETag")).Want(t, http.StatusNotModified)

	page := s.DoKey("", "GET", "/docs", nil).Want(t, http.StatusOK)
	if !strings.Contains(page.Raw, `spec-url="/openapi.json"`) || !strings.Contains(page.Raw, `src="/docs/redoc.standalone.js"`) ||
		!strings.Contains(page.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("docs page: %v\n%s", page.Header, page.Raw)
	}
	js := s.DoKey("", "GET", "/docs/redoc.standalone.js", nil).Want(t, http.StatusOK)
	if len(js.Raw) < 500_000 || !strings.Contains(js.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("renderer: %d bytes, %v", len(js.Raw), js.Header)
	}
}

// TestOpenAPIResponses runs representative requests through the whole
// stack and validates each answer against the document.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t)
	c := s.Client
	do := func(method, path string, body any, status int) linkittest.Response {
		t.Helper()
		r := c.Do(method, path, body).Want(t, status)
		linkittest.CheckOpenAPI(t, method, path, r)
		return r
	}
	john := map[string]any{"first_name": "John", "last_name": "Doe", "email": "john.doe@example.com", "phone": "+966501234567",
		"birthdate": "1990-05-15", "gender": "male", "type": "individual"}
	id := do("POST", "/api/v1/customers", john, http.StatusCreated).Data()["id"].(string)
	do("POST", "/api/v1/customers", john, http.StatusConflict)
	do("GET", "/api/v1/customers/"+id, nil, http.StatusOK)
	do("PATCH", "/api/v1/customers/"+id, map[string]any{"notes": "prefers SMS"}, http.StatusOK)
	do("GET", "/api/v1/customers?limit=5&status=active", nil, http.StatusOK)
	do("GET", "/api/v1/customers?sort=updated&limit=1", nil, http.StatusOK)
	do("GET", "/api/v1/customers?updated_from=2099-01-01", nil, http.StatusUnprocessableEntity)
	do("GET", "/api/v1/customers/lookup?email=john.doe@example.com", nil, http.StatusOK)
	do("GET", "/api/v1/customers/lookup?email=nobody@example.com", nil, http.StatusNotFound)
	do("POST", "/api/v1/customers", map[string]any{"email": "not-an-email"}, http.StatusUnprocessableEntity)
	do("GET", "/api/v1/customers/"+id+"/history", nil, http.StatusOK)
	do("POST", "/api/v1/customers/"+id+"/tags", map[string]any{"tags": []string{"vip"}}, http.StatusOK)
	do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "home", "address_line1": "123 King Fahd Rd",
		"city": "Riyadh", "state": "Riyadh", "country": "SA", "postal_code": "12345"}, http.StatusCreated)
	do("GET", "/api/v1/customers/"+id+"/addresses", nil, http.StatusOK)
	do("POST", "/api/v1/customers/"+id+"/contacts", map[string]any{"name": "Jane Smith", "email": "jane@acme.com"}, http.StatusCreated)
	do("GET", "/api/customers/"+id+"/contacts", nil, http.StatusOK)
	do("GET", "/api/v1/customers/"+id+"/analytics", nil, http.StatusOK)
	do("GET", "/api/v1/customers/"+id+"/orders", nil, http.StatusOK)
	do("GET", "/api/v1/settings", nil, http.StatusOK)

	// Find-or-create: created, then found.
	sarah := map[string]any{"name": "Sarah Smith", "email": "sarah@example.com", "phone": "+966509876543", "source": "pos"}
	do("POST", "/api/v1/customers/upsert", sarah, http.StatusCreated)
	do("POST", "/api/v1/customers/upsert", sarah, http.StatusOK)

	group := do("POST", "/api/v1/customer-groups", map[string]any{"name": "VIP Customers"}, http.StatusCreated).Data()["id"].(string)
	do("POST", "/api/v1/customer-groups/"+group+"/customers", map[string]any{"customer_ids": []string{id}}, http.StatusOK)
	do("GET", "/api/v1/customer-groups/"+group+"/customers", nil, http.StatusOK)
	do("GET", "/api/v1/customer-groups", nil, http.StatusOK)
	do("GET", "/api/v1/tags", nil, http.StatusOK)

	loc := do("POST", "/api/v1/locations", map[string]any{"name": "Riyadh Mall", "code": "RUH-01"}, http.StatusCreated).Data()["id"].(string)
	scoped := "/api/v1/locations/" + loc + "/customers"
	do("POST", scoped+"/upsert", map[string]any{"name": "Omar Ali", "email": "omar@example.com"}, http.StatusCreated)
	do("GET", scoped, nil, http.StatusOK)
	do("POST", scoped, map[string]any{"email": "bad"}, http.StatusUnprocessableEntity)
	do("GET", scoped+"/cust_00000000000000000000000000", nil, http.StatusNotFound)

	do("POST", "/api/customers", map[string]any{"name": "Acme Corporation", "email": "billing@acme.com"}, http.StatusCreated)
	do("GET", "/api/customers?limit=2", nil, http.StatusOK)
	do("GET", "/api/v1/duplicates", nil, http.StatusOK)
	do("POST", "/api/v1/customers/"+id+"/credit-check", map[string]any{"requested_amount": 100}, http.StatusOK)

	// A suggested pair: one customer by email, another by phone, then a
	// checkout carrying both.
	do("POST", "/api/v1/customers", map[string]any{"first_name": "Mina", "last_name": "Park", "email": "mina.park@example.com"}, http.StatusCreated)
	do("POST", "/api/v1/customers", map[string]any{"first_name": "Min", "last_name": "Park", "phone": "+1 312 555 0143"}, http.StatusCreated)
	c.Do("POST", "/api/v1/customers/upsert", map[string]any{"email": "mina.park@example.com", "phone": "+13125550143"})
	pairs := do("GET", "/api/v1/duplicates?status=open", nil, http.StatusOK).List()
	if len(pairs) == 0 {
		t.Fatal("no suggested pair")
	}
	pair := pairs[0]["id"].(string)
	do("GET", "/api/v1/duplicates/"+pair, nil, http.StatusOK)
	do("POST", "/api/v1/duplicates/"+pair+"/dismiss", nil, http.StatusOK)

	// An import, created and read back once it ends.
	up := c.Upload("/api/v1/imports", "customers.csv", "", []byte("email,first_name,last_name\nlina@example.com,Lina,Saad\nbad,,\n"))
	up.Want(t, http.StatusAccepted)
	linkittest.CheckOpenAPI(t, "POST", "/api/v1/imports", up)
	imp := up.Data()["id"].(string)
	c.WaitImport(imp, time.Minute)
	do("GET", "/api/v1/imports/"+imp, nil, http.StatusOK)
	do("GET", "/api/v1/imports/"+imp+"/errors", nil, http.StatusOK)
	do("GET", "/api/v1/imports", nil, http.StatusOK)
	job := do("POST", "/api/v1/imports/"+imp+"/revert", nil, http.StatusAccepted).Data()["id"].(string)
	do("GET", "/api/v1/jobs/"+job, nil, http.StatusOK)

	do("GET", "/api/v1/customers/"+id+"/export", nil, http.StatusOK)
	do("POST", "/api/v1/customers/"+id+"/erase", nil, http.StatusOK)

	// 401 without a key, 404 for an unknown route's method answer.
	r := c.DoKey("", "GET", "/api/v1/customers", nil).Want(t, http.StatusUnauthorized)
	linkittest.CheckOpenAPI(t, "GET", "/api/v1/customers", r)
	do("DELETE", "/api/v1/customer-groups/"+group, nil, http.StatusNoContent)
}

// TestOpenAPICheckCatchesDrift: the helper fails an answer the document
// does not allow, so a passing check means something.
func TestOpenAPICheckCatchesDrift(t *testing.T) {
	t.Parallel()
	bad := linkittest.Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Raw: `{"data":{"id":1}}`}
	if err := linkittest.ValidateOpenAPI("GET", "/api/v1/customers/cust_x", bad); err == nil {
		t.Fatal("a customer without its fields validated")
	}
	noErr := linkittest.Response{Status: http.StatusNotFound, Header: http.Header{"Content-Type": {"application/json"}},
		Raw: `{"success":false}`}
	if err := linkittest.ValidateOpenAPI("GET", "/api/v1/customers/cust_x", noErr); err == nil {
		t.Fatal("an error body without code and error validated")
	}
	if err := linkittest.ValidateOpenAPI("GET", "/api/v1/nothing", bad); err == nil {
		t.Fatal("an undocumented route validated")
	}
}

// TestOpenAPIQueryParameters holds each GET operation's documented query
// parameters to the ones its route accepts (query.go): one request per
// route sends every parameter the document names anywhere, and the route
// must refuse as unknown exactly those its operation does not document.
func TestOpenAPIQueryParameters(t *testing.T) {
	t.Parallel()
	doc, err := linkittest.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	type op struct {
		path   string
		params map[string]bool
	}
	var ops []op
	for path, item := range doc.Paths.Map() {
		get := item.Get
		if get == nil || !strings.HasPrefix(path, "/api/") {
			continue
		}
		o := op{path: path, params: map[string]bool{}}
		for _, p := range append(item.Parameters, get.Parameters...) {
			if p.Value.In == "query" {
				o.params[p.Value.Name] = true
				all[p.Value.Name] = true
			}
		}
		ops = append(ops, o)
	}
	// And every name query.go declares, so that a parameter a route reads
	// and the document names nowhere is caught too.
	for _, name := range declaredQueryParams(t) {
		all[name] = true
	}
	query := url.Values{}
	for name := range all {
		query.Set(name, "1")
	}
	s := linkittest.New(t, linkittest.WithoutQueue())
	// The location-scoped routes look the location up before the query.
	loc := s.Do("POST", "/api/v1/locations", map[string]any{"name": "Riyadh Mall"}).Want(t, http.StatusCreated).Data()["id"].(string)
	for _, o := range ops {
		path := pathParam.ReplaceAllString(strings.ReplaceAll(o.path, "{location_id}", loc), "x_0")
		r := s.Do("GET", path+"?"+query.Encode(), nil)
		refused := map[string]bool{}
		if r.Status == http.StatusUnprocessableEntity {
			// Both envelopes: {error, details} and {message, errors}.
			details, _ := r.Body["errors"].(map[string]any)
			if r.Body["error"] == "Unknown query parameter" {
				details = r.Details()
			}
			for name, why := range details {
				refused[name] = why == "unknown parameter"
			}
		}
		for name := range all {
			if o.params[name] && refused[name] {
				t.Errorf("GET %s documents %q, which the route refuses", o.path, name)
			}
			if !o.params[name] && !refused[name] {
				t.Errorf("GET %s accepts %q, which the document does not list for it", o.path, name)
			}
		}
	}
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// declaredQueryParams are the string literals of query.go's var blocks:
// the parameter names the routes may accept.
func declaredQueryParams(t *testing.T) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "query.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
			ast.Inspect(g, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					name, _ := strconv.Unquote(lit.Value)
					names = append(names, name)
				}
				return true
			})
		}
	}
	if len(names) < 20 {
		t.Fatalf("query.go declares only %v", names)
	}
	return names
}
