package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

// syncPages follows meta.next_cursor from a first list request until the
// last page, calling between(page) after each page that has a next one;
// it returns the ids in the order seen.
func (e *env) syncPages(path string, between func(page int)) []string {
	e.t.Helper()
	var seen []string
	next := path
	for page := 1; ; page++ {
		if page > 50 {
			e.t.Fatalf("more than 50 pages following %s", path)
		}
		res := e.do("GET", next, nil).want(e.t, http.StatusOK)
		for _, c := range res.list() {
			seen = append(seen, str(c["id"]))
		}
		cursor, ok := res.meta()["next_cursor"].(string)
		if !ok || cursor == "" {
			if res.meta()["hasMore"] != false {
				e.t.Fatalf("page without next_cursor has hasMore %v; body %s", res.meta()["hasMore"], res.Raw)
			}
			return seen
		}
		between(page)
		next = path + "&cursor=" + url.QueryEscape(cursor)
	}
}

func TestSyncCursorSeesEveryCustomerUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, str(e.createCustomer(map[string]any{"email": fmt.Sprintf("sync%d@example.com", i)})["id"]))
	}
	// Another organization's customers never show.
	_, otherKey := e.newOrg("Other", "US")
	other := str(e.doKey(otherKey, "POST", "/api/v1/customers", map[string]any{
		"first_name": "O", "last_name": "Ther", "email": "other@example.com"}).want(t, http.StatusCreated).data()["id"])

	var created string
	seen := e.syncPages("/api/v1/customers?sort=updated&limit=3", func(page int) {
		if page != 1 {
			return
		}
		// Between pages: a customer already seen changes, one not yet seen
		// changes, and one is created. The first moves past the cursor and
		// is seen again; none is skipped.
		e.do("PATCH", "/api/v1/customers/"+ids[0], map[string]any{"company_name": "Changed"}).want(t, http.StatusOK)
		e.do("PATCH", "/api/v1/customers/"+ids[5], map[string]any{"company_name": "Changed too"}).want(t, http.StatusOK)
		created = str(e.createCustomer(map[string]any{"email": "sync-new@example.com"})["id"])
	})
	want := []string{ids[0], ids[1], ids[2], ids[3], ids[4], ids[6], ids[0], ids[5], created}
	if !slices.Equal(seen, want) {
		t.Fatalf("seen %v,\nwant %v", seen, want)
	}
	if slices.Contains(seen, other) {
		t.Fatalf("another organization's customer %s listed", other)
	}

	// A resync from scratch lists each once, in update order.
	again := e.syncPages("/api/v1/customers?sort=updated&limit=4", func(int) {})
	if want := []string{ids[1], ids[2], ids[3], ids[4], ids[6], ids[0], ids[5], created}; !slices.Equal(again, want) {
		t.Fatalf("resync %v,\nwant %v", again, want)
	}
}

func TestSyncUpdatedSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.createCustomer(map[string]any{"email": "since-a@example.com"})
	b := e.createCustomer(map[string]any{"email": "since-b@example.com"})
	c := e.createCustomer(map[string]any{"email": "since-c@example.com"})
	since := url.QueryEscape(str(b["updated"]))
	ids := func(res response) []string {
		var out []string
		for _, c := range res.list() {
			out = append(out, str(c["id"]))
		}
		return out
	}
	// Inclusive: the customer updated at that instant is listed.
	res := e.do("GET", "/api/v1/customers?sort=updated&updated_since="+since, nil).want(t, http.StatusOK)
	if got, want := ids(res), []string{str(b["id"]), str(c["id"])}; !slices.Equal(got, want) {
		t.Fatalf("updated_since = b: %v, want %v", got, want)
	}
	if res.meta()["total"] != 2.0 {
		t.Fatalf("total = %v, want 2", res.meta()["total"])
	}
	e.do("PATCH", "/api/v1/customers/"+str(a["id"]), map[string]any{"notes": "called back"}).want(t, http.StatusOK)
	res = e.do("GET", "/api/v1/customers?sort=updated&updated_since="+since, nil).want(t, http.StatusOK)
	if got, want := ids(res), []string{str(b["id"]), str(c["id"]), str(a["id"])}; !slices.Equal(got, want) {
		t.Fatalf("after a's update: %v, want %v", got, want)
	}
	// The search body takes the same filter.
	res = e.do("POST", "/api/v1/customers/search", map[string]any{"updated_since": str(b["updated"]), "sort": "updated", "limit": 2}).
		want(t, http.StatusOK)
	if got := ids(res); len(got) != 2 || res.meta()["next_cursor"] == nil {
		t.Fatalf("search: %v meta %v, want 2 customers and a next_cursor", got, res.meta())
	}
	res = e.do("POST", "/api/v1/customers/search", map[string]any{"updated_since": str(b["updated"]),
		"cursor": res.meta()["next_cursor"], "limit": 2}).want(t, http.StatusOK)
	if got := ids(res); !slices.Equal(got, []string{str(a["id"])}) || res.meta()["next_cursor"] != nil {
		t.Fatalf("search's second page: %v meta %v", got, res.meta())
	}
	// A far future: nothing.
	res = e.do("GET", "/api/v1/customers?updated_since=2999-01-01T00:00:00Z", nil).want(t, http.StatusOK)
	if len(res.list()) != 0 {
		t.Fatalf("updated_since in 2999: %v", ids(res))
	}
}

func TestSyncOnSeedLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.createLocation(map[string]any{"name": "Sync Store", "region": "US"})
	locID := str(loc["id"])
	var ids []string
	for i := range 3 {
		res := e.do("POST", "/api/v1/locations/"+locID+"/customers", map[string]any{
			"name": fmt.Sprintf("Seed Sync %d", i), "email": fmt.Sprintf("seedsync%d@example.com", i)}).want(t, http.StatusCreated)
		ids = append(ids, str(res.data()["id"]))
	}
	// ERP list (seed 003): {data, meta} with the cursor in meta.
	if got := e.syncPages("/api/customers?sort=updated&limit=2", func(int) {}); !slices.Equal(got, ids) {
		t.Fatalf("ERP list: %v, want %v", got, ids)
	}
	// Location-scoped list (seed 004): {success, message, data, meta}.
	first := e.do("GET", "/api/v1/locations/"+locID+"/customers?sort=updated&page_size=2", nil).want(t, http.StatusOK)
	if first.Body["success"] != true || first.Body["message"] != "Customers fetched!" {
		t.Fatalf("seed 004 envelope: %s", first.Raw)
	}
	if got := e.syncPages("/api/v1/locations/"+locID+"/customers?sort=updated&page_size=2", func(int) {}); !slices.Equal(got, ids) {
		t.Fatalf("location list: %v, want %v", got, ids)
	}
	// The seed lists offer only the sync order.
	e.do("GET", "/api/customers?sort=name", nil).wantError(t, http.StatusUnprocessableEntity, "sort")
	bad := e.do("GET", "/api/v1/locations/"+locID+"/customers?updated_since=yesterday", nil).want(t, http.StatusUnprocessableEntity)
	if errs, _ := bad.Body["errors"].(map[string]any); bad.Body["success"] != false || errs["updated_since"] == nil {
		t.Fatalf("seed 004 error: %s", bad.Raw)
	}
}

func TestSyncParameterProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createCustomer(map[string]any{"email": "p1@example.com"})
	e.createCustomer(map[string]any{"email": "p2@example.com"})
	cursor := str(e.do("GET", "/api/v1/customers?sort=updated&limit=1", nil).want(t, http.StatusOK).meta()["next_cursor"])
	if cursor == "" {
		t.Fatal("no next_cursor on a first page of two")
	}
	for _, tc := range []struct{ query, field string }{
		{"updated_since=yesterday", "updated_since"},
		{"updated_since=2026-01-01", "updated_since"},
		{"cursor=not-a-cursor", "cursor"},
		{"cursor=" + url.QueryEscape("dTEuMTIzLg"), "cursor"},
		{"cursor=" + cursor + "&page=2", "cursor"},
		{"cursor=" + cursor + "&sort=name", "cursor"},
		{"sort=updated_at", "sort"},
		{"updated_from=2099-01-01", "updated_from"},
	} {
		res := e.do("GET", "/api/v1/customers?"+tc.query, nil).wantError(t, http.StatusUnprocessableEntity, tc.field)
		if tc.field == "updated_from" && res.details()["updated_from"] != "unknown parameter" {
			t.Errorf("%s: details %v", tc.query, res.details())
		}
	}
	// A cursor alone implies sort=updated.
	res := e.do("GET", "/api/v1/customers?limit=1&cursor="+cursor, nil).want(t, http.StatusOK)
	if len(res.list()) != 1 || res.meta()["next_cursor"] != nil {
		t.Fatalf("second page: %s", res.Raw)
	}
}

// TestGETRoutesRefuseUnknownParameters requests every GET route of
// routes.go with a parameter none reads: 422 naming it, in the route's
// error shape, before any lookup (the ids need not exist).
func TestGETRoutesRefuseUnknownParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	routes := []string{
		"/api/v1/settings", "/api/v1/customers", "/api/v1/customers/lookup", "/api/v1/customers/cust_x",
		"/api/v1/customers/cust_x/history", "/api/v1/customers/cust_x/addresses", "/api/v1/customer-groups",
		"/api/v1/customer-groups/grp_x", "/api/v1/customer-groups/grp_x/customers", "/api/v1/locations",
		"/api/v1/locations/loc_x", "/api/v1/tags", "/api/v1/shared-identifiers", "/api/v1/jobs/job_x",
		"/api/v1/imports", "/api/v1/imports/imp_x", "/api/v1/imports/imp_x/errors", "/api/customers",
		"/api/customers/cust_x", "/api/customers/cust_x/contacts", "/api/customers/cust_x/orders",
		"/api/customers/cust_x/analytics", "/api/v1/customers/cust_x/contacts", "/api/v1/customers/cust_x/orders",
		"/api/v1/customers/cust_x/analytics", "/api/v1/orders/ord_x", "/api/v1/duplicates", "/api/v1/duplicates/dup_x",
	}
	for _, path := range routes {
		res := e.do("GET", path+"?page=1&updated_from=2099-01-01", nil)
		if path == "/api/v1/customers" || path == "/api/customers" {
			// page is theirs; only the misspelt filter is named.
			res.wantError(t, http.StatusUnprocessableEntity, "updated_from")
			continue
		}
		res.wantError(t, http.StatusUnprocessableEntity, "updated_from")
		if res.details()["updated_from"] != "unknown parameter" {
			t.Errorf("GET %s: details %v", path, res.details())
		}
	}
	for _, path := range []string{"/api/v1/locations/loc_x/customers", "/api/v1/locations/loc_x/customers/cust_x"} {
		res := e.do("GET", path+"?bogus=1", nil).want(t, http.StatusUnprocessableEntity)
		if errs, _ := res.Body["errors"].(map[string]any); res.Body["success"] != false || errs["bogus"] != "unknown parameter" {
			t.Errorf("GET %s: %s", path, res.Raw)
		}
	}
	// Authentication comes first.
	e.doKey("", "GET", "/api/v1/customers?bogus=1", nil).want(t, http.StatusUnauthorized)
}

// TestEveryGETRouteDeclaresItsParameters keeps a new GET route from
// skipping the strict-parameter check: routes.go must wrap each in accepts.
func TestEveryGETRouteDeclaresItsParameters(t *testing.T) {
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, `Handle("GET /api/`) && !strings.Contains(line, "accepts(") {
			t.Errorf("routes.go:%d: a GET route without accepts(…): %s", i+1, strings.TrimSpace(line))
		}
	}
}
