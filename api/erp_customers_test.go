package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// seedERPCustomer is seed 003's POST /api/customers request.
func seedERPCustomer() map[string]any {
	return map[string]any{
		"name": "New Customer Corp", "email": "orders@newcustomer.com", "phone": "+1-555-0999",
		"website": "https://newcustomer.com", "tax_id": "12-9876543",
		"billing_address":  map[string]any{"line1": "123 New Customer St", "city": "Business City", "state": "CA", "postal_code": "90210", "country": "US"},
		"shipping_address": map[string]any{"line1": "456 Warehouse Ave", "city": "Distribution City", "state": "CA", "postal_code": "90211", "country": "US"},
		"contacts": []any{map[string]any{"name": "Bob Wilson", "title": "Operations Manager",
			"email": "bob.wilson@newcustomer.com", "phone": "+1-555-1000", "is_primary": true}},
		"payment_terms": "net_30", "currency": "USD", "credit_limit": 5000.00, "discount_rate": 2.5,
		"preferred_shipping": "FEDEX_GROUND",
	}
}

// erpFields is every member of the seed 003 customer shape.
var erpFields = []string{"id", "name", "email", "phone", "fax", "website", "tax_id", "billing_address",
	"shipping_address", "contacts", "payment_terms", "currency", "credit_limit", "current_balance",
	"discount_rate", "preferred_shipping", "customer_since", "lifetime_value", "total_orders", "is_active",
	"notes", "created_at", "updated_at"}

func TestERPCreateCustomerSeedExample(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.do("POST", "/api/customers", seedERPCustomer()).want(t, http.StatusCreated).data()
	for _, f := range erpFields {
		if _, ok := c[f]; !ok {
			t.Errorf("response lacks %q", f)
		}
	}
	if len(c) != len(erpFields) {
		t.Errorf("response has %d members, want the seed's %d: %v", len(c), len(erpFields), c)
	}
	for field, want := range map[string]any{
		"name": "New Customer Corp", "email": "orders@newcustomer.com", "phone": "+15550999",
		"payment_terms": "net_30", "currency": "USD", "credit_limit": 5000.0, "current_balance": 0.0,
		"discount_rate": 2.5, "is_active": true, "preferred_shipping": "FEDEX_GROUND", "tax_id": "12-9876543",
		"lifetime_value": 0.0, "total_orders": 0.0,
	} {
		if c[field] != want {
			t.Errorf("%s = %v, want %v", field, c[field], want)
		}
	}
	if !strings.HasPrefix(str(c["id"]), "cust_") || str(c["customer_since"]) == "" || !strings.HasSuffix(str(c["created_at"]), "Z") {
		t.Errorf("id/customer_since/created_at: %v %v %v", c["id"], c["customer_since"], c["created_at"])
	}
	if ba, _ := c["billing_address"].(map[string]any); ba["line1"] != "123 New Customer St" || ba["country"] != "US" {
		t.Errorf("billing_address = %v", c["billing_address"])
	}
	contacts, _ := c["contacts"].([]any)
	if len(contacts) != 1 {
		t.Fatalf("contacts = %v", c["contacts"])
	}
	ct := contacts[0].(map[string]any)
	if !strings.HasPrefix(str(ct["id"]), "cont_") || ct["name"] != "Bob Wilson" || ct["is_primary"] != true || ct["phone"] != "+15551000" {
		t.Errorf("contact = %v", ct)
	}

	// The same record through /api/v1: name split, corporate, company name.
	v1 := e.do("GET", "/api/v1/customers/"+str(c["id"]), nil).want(t, http.StatusOK).data()
	for field, want := range map[string]string{"first_name": "New Customer", "last_name": "Corp", "type": "corporate",
		"company_name": "New Customer Corp", "name": "New Customer Corp", "status": "active"} {
		if v1[field] != want {
			t.Errorf("v1 %s = %v, want %v", field, v1[field], want)
		}
	}

	got := e.do("GET", "/api/customers/"+str(c["id"]), nil).want(t, http.StatusOK).data()
	if got["name"] != "New Customer Corp" || len(got["contacts"].([]any)) != 1 || got["updated_at"] == nil {
		t.Errorf("GET = %v", got)
	}
}

func TestERPCreateCustomerRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A one-word corporate name is fine; an individual's name is split.
	one := e.do("POST", "/api/customers", map[string]any{"name": "  Acme  ", "email": "acme@example.com"}).want(t, http.StatusCreated).data()
	if one["name"] != "Acme" || len(one["contacts"].([]any)) != 0 {
		t.Fatalf("one-word corporate: %v", one)
	}
	ind := e.do("POST", "/api/customers", map[string]any{"name": "Mary Ann Smith", "type": "individual", "email": "mary@example.com", "is_active": false}).
		want(t, http.StatusCreated).data()
	if ind["name"] != "Mary Ann Smith" || ind["is_active"] != false {
		t.Fatalf("individual: %v", ind)
	}
	v1 := e.do("GET", "/api/v1/customers/"+str(ind["id"]), nil).want(t, http.StatusOK).data()
	if v1["first_name"] != "Mary Ann" || v1["last_name"] != "Smith" || v1["company_name"] != nil || v1["status"] != "inactive" {
		t.Fatalf("individual via v1: %v", v1)
	}
	// Identity duplicates are 409 as on /api/v1, whichever API created them.
	res := e.do("POST", "/api/customers", map[string]any{"name": "Dup", "email": "ACME@example.com"}).wantError(t, http.StatusConflict, "email", "customer_id")
	if res.details()["customer_id"] != one["id"] {
		t.Fatalf("conflict names %v", res.details())
	}
	// Contacts are created with the customer or not at all.
	body := seedERPCustomer()
	body["email"], body["phone"] = "acme@example.com", nil
	e.do("POST", "/api/customers", body).wantError(t, http.StatusConflict, "email")
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), "SELECT count(*) FROM customer_contacts").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d contacts left by a failed create (%v)", n, err)
	}
}

func TestERPCustomerValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	two := []any{map[string]any{"name": "A", "is_primary": true}, map[string]any{"name": "B", "is_primary": true}}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"no name", map[string]any{"email": "a@example.com"}, []string{"name"}},
		{"long name", map[string]any{"name": strings.Repeat("n", 201), "email": "a@example.com"}, []string{"name"}},
		{"no identifier", map[string]any{"name": "A"}, []string{"email", "phone"}},
		{"bad email", map[string]any{"name": "A", "email": "nope"}, []string{"email"}},
		{"short phone", map[string]any{"name": "A", "phone": "12345"}, []string{"phone"}},
		{"currency", map[string]any{"name": "A", "email": "a@example.com", "currency": "DOLLARS"}, []string{"currency"}},
		{"unknown currency", map[string]any{"name": "A", "email": "a@example.com", "currency": "ABC"}, []string{"currency"}},
		{"negative credit", map[string]any{"name": "A", "email": "a@example.com", "credit_limit": -1}, []string{"credit_limit"}},
		{"discount over 100", map[string]any{"name": "A", "email": "a@example.com", "discount_rate": 100.5}, []string{"discount_rate"}},
		{"negative discount", map[string]any{"name": "A", "email": "a@example.com", "discount_rate": -2}, []string{"discount_rate"}},
		{"long terms", map[string]any{"name": "A", "email": "a@example.com", "payment_terms": strings.Repeat("t", 51)}, []string{"payment_terms"}},
		{"website", map[string]any{"name": "A", "email": "a@example.com", "website": "ftp://x"}, []string{"website"}},
		{"country", map[string]any{"name": "A", "email": "a@example.com", "billing_address": map[string]any{"line1": "1", "country": "Narnia"}}, []string{"billing_address.country"}},
		{"type", map[string]any{"name": "A", "email": "a@example.com", "type": "robot"}, []string{"type"}},
		{"is_active type", map[string]any{"name": "A", "email": "a@example.com", "is_active": "yes"}, []string{"is_active"}},
		{"credit type", map[string]any{"name": "A", "email": "a@example.com", "credit_limit": "lots"}, []string{"credit_limit"}},
		{"contact name", map[string]any{"name": "A", "email": "a@example.com", "contacts": []any{map[string]any{"title": "x"}}}, []string{"contacts[0].name"}},
		{"contact email", map[string]any{"name": "A", "email": "a@example.com", "contacts": []any{map[string]any{"name": "x", "email": "bad"}}}, []string{"contacts[0].email"}},
		{"two primaries", map[string]any{"name": "A", "email": "a@example.com", "contacts": two}, []string{"contacts[1].is_primary"}},
		{"all problems at once", map[string]any{"email": "a@example.com", "contacts": []any{map[string]any{}}}, []string{"name", "contacts[0].name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", "/api/customers", tc.body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
		})
	}
	if n := e.do("GET", "/api/customers", nil).want(t, http.StatusOK).meta()["total"]; n != 0.0 {
		t.Fatalf("%v customers stored by rejected creates", n)
	}
}

func TestERPUpdateIsPartial(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.do("POST", "/api/customers", seedERPCustomer()).want(t, http.StatusCreated).data()
	id := str(c["id"])
	// Seed 003's PUT body: only these members change.
	got := e.do("PUT", "/api/customers/"+id, map[string]any{
		"name": "Updated Customer Name", "email": "New.Orders@Customer.com", "credit_limit": 15000.00,
		"discount_rate": 7.5, "is_active": true,
	}).want(t, http.StatusOK).data()
	for field, want := range map[string]any{
		"name": "Updated Customer Name", "email": "new.orders@customer.com", "credit_limit": 15000.0,
		"discount_rate": 7.5, "is_active": true, "phone": "+15550999", "tax_id": "12-9876543",
		"payment_terms": "net_30", "currency": "USD", "website": "https://newcustomer.com",
	} {
		if got[field] != want {
			t.Errorf("%s = %v, want %v", field, got[field], want)
		}
	}
	if len(got["contacts"].([]any)) != 1 || got["shipping_address"] == nil {
		t.Errorf("untouched members changed: %v", got)
	}
	v1 := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data()
	if v1["company_name"] != "Updated Customer Name" || v1["first_name"] != "Updated Customer" || v1["last_name"] != "Name" {
		t.Errorf("derived names not following: %v", v1)
	}
	// is_active false → inactive; true → active; absent → unchanged.
	got = e.do("PUT", "/api/customers/"+id, map[string]any{"is_active": false}).want(t, http.StatusOK).data()
	if got["is_active"] != false || got["name"] != "Updated Customer Name" {
		t.Fatalf("deactivate: %v", got)
	}
	if st := e.do("GET", "/api/v1/customers/"+id, nil).data()["status"]; st != "inactive" {
		t.Fatalf("status = %v, want inactive", st)
	}
	got = e.do("PUT", "/api/customers/"+id, map[string]any{"notes": "VIP"}).want(t, http.StatusOK).data()
	if got["is_active"] != false || got["notes"] != "VIP" {
		t.Fatalf("absent is_active changed the status: %v", got)
	}
	// A blocked customer stays blocked when deactivated, becomes active when activated.
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"status": "blocked"}).want(t, http.StatusOK)
	e.do("PUT", "/api/customers/"+id, map[string]any{"is_active": false}).want(t, http.StatusOK)
	if st := e.do("GET", "/api/v1/customers/"+id, nil).data()["status"]; st != "blocked" {
		t.Fatalf("status = %v, want blocked kept", st)
	}
	e.do("PUT", "/api/customers/"+id, map[string]any{"is_active": true}).want(t, http.StatusOK)
	if st := e.do("GET", "/api/v1/customers/"+id, nil).data()["status"]; st != "active" {
		t.Fatalf("status = %v, want active", st)
	}
	// null clears an optional member.
	got = e.do("PUT", "/api/customers/"+id, map[string]any{"website": nil, "shipping_address": nil}).want(t, http.StatusOK).data()
	if got["website"] != nil || got["shipping_address"] != nil {
		t.Fatalf("null did not clear: %v", got)
	}
	// A corporate customer with a real contact person keeps that person's name.
	p := e.createCustomer(map[string]any{"first_name": "Jane", "last_name": "Doe", "type": "corporate", "company_name": "Doe Ltd", "email": "jane@doe.example"})
	e.do("PUT", "/api/customers/"+str(p["id"]), map[string]any{"name": "Doe Holdings"}).want(t, http.StatusOK)
	v1 = e.do("GET", "/api/v1/customers/"+str(p["id"]), nil).data()
	if v1["first_name"] != "Jane" || v1["company_name"] != "Doe Holdings" || v1["name"] != "Doe Holdings" {
		t.Fatalf("contact person lost: %v", v1)
	}

	e.do("PUT", "/api/customers/"+id, map[string]any{"name": ""}).wantError(t, http.StatusUnprocessableEntity, "name")
	e.do("PUT", "/api/customers/"+id, map[string]any{"email": nil, "phone": nil}).wantError(t, http.StatusUnprocessableEntity, "email")
	e.do("PUT", "/api/customers/"+id, map[string]any{"currency": "usdx"}).wantError(t, http.StatusUnprocessableEntity, "currency")
	e.do("PUT", "/api/customers/"+id, map[string]any{"contacts": []any{}}).wantError(t, http.StatusUnprocessableEntity, "contacts")
	e.do("PUT", "/api/customers/"+id, map[string]any{"email": "jane@doe.example"}).wantError(t, http.StatusConflict, "email")
	e.do("PUT", "/api/customers/cust_missing", map[string]any{"notes": "x"}).wantError(t, http.StatusNotFound)
}

func TestERPListFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, name := range []string{"Alpha Trading", "Beta Supplies", "Gamma Foods", "Alpha Logistics"} {
		body := map[string]any{"name": name, "email": strings.ToLower(strings.Fields(name)[1]) + "@example.com", "is_active": i%2 == 0}
		e.do("POST", "/api/customers", body).want(t, http.StatusCreated)
	}
	res := e.do("GET", "/api/customers", nil).want(t, http.StatusOK)
	if m := res.meta(); m["total"] != 4.0 || m["page"] != 1.0 || m["limit"] != 20.0 || m["hasMore"] != false {
		t.Fatalf("meta %v", m)
	}
	if item := res.list()[0]; len(item) != len(erpFields) {
		t.Fatalf("list item is not the seed shape: %v", item)
	}
	for q, want := range map[string]float64{
		"is_active=true":                2,
		"is_active=false":               2,
		"search=alpha":                  2,
		"search=SUPPLIES@example":       1,
		"search=alpha&is_active=true":   1,
		"search=nothing":                0,
		"limit=1&page=2&is_active=true": 2,
	} {
		if got := e.do("GET", "/api/customers?"+q, nil).want(t, http.StatusOK).meta()["total"]; got != want {
			t.Errorf("%s: total %v, want %v", q, got, want)
		}
	}
	res = e.do("GET", "/api/customers?limit=3", nil).want(t, http.StatusOK)
	if len(res.list()) != 3 || res.meta()["hasMore"] != true {
		t.Fatalf("limit=3: %d items, %v", len(res.list()), res.meta())
	}
	for _, q := range []string{"is_active=maybe", "page=0", "limit=101", "limit=x"} {
		e.do("GET", "/api/customers?"+q, nil).wantError(t, http.StatusUnprocessableEntity, strings.SplitN(q, "=", 2)[0])
	}
}

func TestERPIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.do("POST", "/api/customers", seedERPCustomer()).want(t, http.StatusCreated).data()
	id := str(c["id"])
	contactID := str(c["contacts"].([]any)[0].(map[string]any)["id"])
	_, keyB := e.newOrg("Other", "")
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/customers/" + id},
		{"PUT", "/api/customers/" + id},
		{"GET", "/api/customers/" + id + "/contacts"},
		{"POST", "/api/customers/" + id + "/contacts"},
		{"PUT", "/api/customers/" + id + "/contacts/" + contactID},
		{"DELETE", "/api/customers/" + id + "/contacts/" + contactID},
		{"GET", "/api/v1/customers/" + id + "/contacts"},
	} {
		var body any
		if req.method == "PUT" || req.method == "POST" {
			body = map[string]any{"name": "Mallory", "email": "m@example.com"}
		}
		e.doKey(keyB, req.method, req.path, body).wantError(t, http.StatusNotFound)
	}
	if n := e.doKey(keyB, "GET", "/api/customers", nil).want(t, http.StatusOK).meta()["total"]; n != 0.0 {
		t.Fatalf("org B sees %v customers", n)
	}
	e.doKey("", "GET", "/api/customers", nil).wantError(t, http.StatusUnauthorized)
	// Nothing changed for org A.
	got := e.do("GET", "/api/customers/"+id, nil).want(t, http.StatusOK).data()
	if got["name"] != "New Customer Corp" || len(got["contacts"].([]any)) != 1 {
		t.Fatalf("org A's customer changed: %v", got)
	}
}
