package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestUnauthorizedNamesTheBearerScheme(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct{ key, path, want string }{
		{"", "/api/v1/customers", `Bearer realm="linkit"`},
		{"lk_wrong", "/api/v1/customers", `Bearer realm="linkit", error="invalid_token"`},
		{"", "/api/v1/locations/loc_x/customers", `Bearer realm="linkit"`},
		{"lk_wrong", "/api/customers", `Bearer realm="linkit", error="invalid_token"`},
	} {
		res := e.doKey(tc.key, "GET", tc.path, nil).want(t, http.StatusUnauthorized)
		if got := res.Header.Get("WWW-Authenticate"); got != tc.want {
			t.Errorf("GET %s with key %q: WWW-Authenticate = %q, want %q", tc.path, tc.key, got, tc.want)
		}
	}
}

// TestCreatedAnswersLocation: every 201 says where the new resource is, and
// where a GET serves it, the Location answers it.
func TestCreatedAnswersLocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	location := func(res response, prefix string) string {
		t.Helper()
		id := str(res.data()["id"])
		got := res.Header.Get("Location")
		if id == "" || got != prefix+id {
			t.Fatalf("Location = %q, want %q; body %s", got, prefix+id, res.Raw)
		}
		return got
	}
	follow := func(loc string) {
		t.Helper()
		if got := e.do("GET", loc, nil).want(t, http.StatusOK); str(got.data()["id"]) == "" {
			t.Fatalf("GET %s: %s", loc, got.Raw)
		}
	}
	cust := e.do("POST", "/api/v1/customers", map[string]any{"first_name": "Loc", "last_name": "Ation", "email": "loc@example.com"}).
		want(t, http.StatusCreated)
	follow(location(cust, "/api/v1/customers/"))
	id := str(cust.data()["id"])

	erp := e.do("POST", "/api/customers", map[string]any{"name": "Erp Loc", "email": "erp-loc@example.com"}).want(t, http.StatusCreated)
	follow(location(erp, "/api/customers/"))

	grp := e.do("POST", "/api/v1/customer-groups", map[string]any{"name": "Located"}).want(t, http.StatusCreated)
	follow(location(grp, "/api/v1/customer-groups/"))

	loc := e.do("POST", "/api/v1/locations", map[string]any{"name": "Located Store", "region": "US"}).want(t, http.StatusCreated)
	follow(location(loc, "/api/v1/locations/"))
	locID := str(loc.data()["id"])

	scoped := e.do("POST", "/api/v1/locations/"+locID+"/customers", map[string]any{"name": "Scoped Loc", "email": "scoped-loc@example.com"}).
		want(t, http.StatusCreated)
	follow(location(scoped, "/api/v1/locations/"+locID+"/customers/"))

	addr := e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "Home", "address_line1": "1 St", "city": "C", "state": "S", "country": "US"}).
		want(t, http.StatusCreated)
	location(addr, "/api/v1/customers/"+id+"/addresses/")

	contact := e.do("POST", "/api/customers/"+str(erp.data()["id"])+"/contacts", map[string]any{"name": "Con Tact", "email": "contact-loc@example.com"}).
		want(t, http.StatusCreated)
	location(contact, "/api/customers/"+str(erp.data()["id"])+"/contacts/")

	order := e.do("POST", "/api/v1/orders", map[string]any{"customer_id": id, "order_number": "LOC-1", "total_amount": 10}).want(t, http.StatusCreated)
	follow(location(order, "/api/v1/orders/"))
	// An order whose customer is found or created on the way too.
	order = e.do("POST", "/api/v1/orders", map[string]any{"customer": map[string]any{"email": "buyer-loc@example.com"},
		"order_number": "LOC-2", "total_amount": 10}).want(t, http.StatusCreated)
	follow(location(order, "/api/v1/orders/"))
}

func TestUpsertCreatedAnswersLocation(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Up Loc", "email": "up-loc@example.com"}).want(t, http.StatusCreated)
	if got, want := res.Header.Get("Location"), "/api/v1/customers/"+str(res.data()["id"]); got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
	// Matched (200): nothing was created, no Location.
	res = e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Up Loc", "email": "up-loc@example.com"}).want(t, http.StatusOK)
	if got := res.Header.Get("Location"); got != "" {
		t.Fatalf("200 upsert has Location %q", got)
	}
}

// TestNotFoundNamesWhat: a 404 says in details what was not found.
func TestNotFoundNamesWhat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct{ path, field, value string }{
		{"/api/v1/customers/cust_missing", "id", "cust_missing"},
		{"/api/customers/cust_missing", "id", "cust_missing"},
		{"/api/v1/customer-groups/grp_missing", "id", "grp_missing"},
		{"/api/v1/locations/loc_missing", "id", "loc_missing"},
		{"/api/v1/orders/ord_missing", "id", "ord_missing"},
		{"/api/v1/imports/imp_missing", "id", "imp_missing"},
		{"/api/v1/jobs/job_missing", "id", "job_missing"},
		{"/api/v1/customers/lookup?email=nobody@example.com", "email", "nobody@example.com"},
		{"/api/v1/customers/lookup?phone=%2B14155550100", "phone", "+14155550100"},
		{"/api/v1/no-such-route", "path", "/api/v1/no-such-route"},
	} {
		res := e.do("GET", tc.path, nil).wantError(t, http.StatusNotFound, tc.field)
		if got := res.details()[tc.field]; got != tc.value {
			t.Errorf("GET %s: details.%s = %v, want %q", tc.path, tc.field, got, tc.value)
		}
	}
	// The location-scoped API names it in its errors.
	loc := e.createLocation(map[string]any{"name": "Nf Store", "region": "US"})
	res := e.do("GET", "/api/v1/locations/"+str(loc["id"])+"/customers/cust_missing", nil).want(t, http.StatusNotFound)
	if errs, _ := res.Body["errors"].(map[string]any); !strings.HasPrefix(str(errs["id"]), "cust_missing") {
		t.Fatalf("seed 004 404: %s", res.Raw)
	}
}
