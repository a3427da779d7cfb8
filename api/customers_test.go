package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestCreateCustomerSeedExample(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("POST", "/api/v1/customers", map[string]any{
		"first_name": "Sarah", "last_name": "Smith", "email": " Sarah@Example.COM ",
		"phone": "+966 50 987 6543", "birthdate": "1992-08-20", "gender": "female",
		"type": "individual", "status": "active",
	}).want(t, http.StatusCreated)
	c := res.data()
	for field, want := range map[string]string{
		"first_name": "Sarah", "last_name": "Smith", "name": "Sarah Smith",
		"email": "sarah@example.com", "phone": "+966509876543", "birthdate": "1992-08-20",
		"gender": "female", "type": "individual", "status": "active", "organization_id": e.org,
	} {
		if got := str(c[field]); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if !strings.HasPrefix(str(c["id"]), "cust_") {
		t.Errorf("id = %q, want cust_ prefix", c["id"])
	}
	if c["phone_valid"] != true {
		t.Errorf("phone_valid = %v, want true", c["phone_valid"])
	}
	got := e.do("GET", "/api/v1/customers/"+str(c["id"]), nil).want(t, http.StatusOK).data()
	if got["email"] != "sarah@example.com" || got["created"] == "" {
		t.Errorf("read back %v", got)
	}
}

func TestCreateCustomerDefaultsAndAliases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "a@example.com", "status": "BANNED"})
	if c["status"] != "blocked" || c["type"] != "individual" {
		t.Fatalf("status %v type %v, want blocked individual", c["status"], c["type"])
	}
	c = e.createCustomer(map[string]any{"email": "b@example.com"})
	if c["status"] != "active" {
		t.Fatalf("default status = %v, want active", c["status"])
	}
	// A test number that is not a possible number keeps its digits (SPEC §3).
	c = e.createCustomer(map[string]any{"phone": "+1-555-0999"})
	if c["phone"] != "+15550999" || c["phone_valid"] != false {
		t.Fatalf("phone = %v valid %v, want +15550999 false", c["phone"], c["phone_valid"])
	}
}

func TestCreateCustomerValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("x", 101)
	cases := []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"missing names", map[string]any{"email": "a@example.com"}, []string{"first_name", "last_name"}},
		{"long first name", map[string]any{"first_name": long, "last_name": "A", "email": "a@example.com"}, []string{"first_name"}},
		{"long last name", map[string]any{"first_name": "A", "last_name": long, "email": "a@example.com"}, []string{"last_name"}},
		{"no identifier", map[string]any{"first_name": "A", "last_name": "B"}, []string{"email", "phone"}},
		{"bad email", map[string]any{"first_name": "A", "last_name": "B", "email": "not-an-email"}, []string{"email"}},
		{"email without dot", map[string]any{"first_name": "A", "last_name": "B", "email": "a@b"}, []string{"email"}},
		{"short phone", map[string]any{"first_name": "A", "last_name": "B", "phone": "12345"}, []string{"phone"}},
		{"long phone", map[string]any{"first_name": "A", "last_name": "B", "phone": "+1 415 555 0123 4567 8901"}, []string{"phone"}},
		{"letters in phone", map[string]any{"first_name": "A", "last_name": "B", "phone": "call me maybe"}, []string{"phone"}},
		{"bad status", map[string]any{"first_name": "A", "last_name": "B", "email": "a@example.com", "status": "gone"}, []string{"status"}},
		{"bad type", map[string]any{"first_name": "A", "last_name": "B", "email": "a@example.com", "type": "robot"}, []string{"type"}},
		{"bad gender", map[string]any{"first_name": "A", "last_name": "B", "email": "a@example.com", "gender": "x"}, []string{"gender"}},
		{"bad birthdate", map[string]any{"first_name": "A", "last_name": "B", "email": "a@example.com", "birthdate": "15/05/1990"}, []string{"birthdate"}},
		{"future birthdate", map[string]any{"first_name": "A", "last_name": "B", "email": "a@example.com", "birthdate": "2999-01-01"}, []string{"birthdate"}},
		{"wrong type", map[string]any{"first_name": 12, "last_name": "B", "email": "a@example.com"}, []string{"first_name"}},
		{"wrong type bool", map[string]any{"first_name": "A", "last_name": "B", "email": true}, []string{"email"}},
		{"wrong type trade field", map[string]any{"first_name": "A", "last_name": "B", "email": "a@example.com", "credit_limit": "x"}, []string{"credit_limit"}},
		{"bad currency", map[string]any{"first_name": "A", "last_name": "B", "email": "a@example.com", "currency": "EU"}, []string{"currency"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do("POST", "/api/v1/customers", tc.body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
			if res.Body["error"] != "Validation error" {
				t.Errorf("error = %v", res.Body["error"])
			}
		})
	}
	// Nothing was stored by any of them.
	res := e.do("GET", "/api/v1/customers", nil).want(t, http.StatusOK)
	if n := res.meta()["total"]; n != float64(0) {
		t.Fatalf("total = %v after rejected creates, want 0", n)
	}
}

func TestRequestBodyErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("POST", "/api/v1/customers", `{"first_name": "A",`).wantError(t, http.StatusBadRequest)
	e.do("POST", "/api/v1/customers", `[1,2]`).wantError(t, http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/customers", `{"first_name":"A"}`, "Content-Type", "text/plain").wantError(t, http.StatusUnsupportedMediaType)
	big := `{"notes":"` + strings.Repeat("x", 2<<20) + `"}`
	e.do("POST", "/api/v1/customers", big).wantError(t, http.StatusRequestEntityTooLarge)
	res := e.do("POST", "/api/v1/customers", `{"first_name": ["x"]}`).wantError(t, http.StatusUnprocessableEntity, "first_name")
	if strings.Contains(res.Raw, "Go ") || strings.Contains(res.Raw, "goroutine") {
		t.Fatalf("internal detail leaked: %s", res.Raw)
	}
	e.do("GET", "/api/v1/nothing-here", nil).wantError(t, http.StatusNotFound)
	e.do("POST", "/api/v1/customers/lookup", nil).wantError(t, http.StatusMethodNotAllowed)
}

func TestDuplicateIdentityConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.createCustomer(map[string]any{"email": "john@example.com", "phone": "+966501234567"})
	res := e.do("POST", "/api/v1/customers", map[string]any{"first_name": "J", "last_name": "D", "email": "JOHN@example.com"}).
		wantError(t, http.StatusConflict, "email", "customer_id")
	if res.Body["error"] != "Customer with this email already exists" || res.details()["customer_id"] != first["id"] {
		t.Fatalf("conflict body %s", res.Raw)
	}
	if res.details()["email"] != "john@example.com" {
		t.Fatalf("details.email = %v", res.details()["email"])
	}
	// The same phone in another format is the same identity.
	res = e.do("POST", "/api/v1/customers", map[string]any{"first_name": "J", "last_name": "D", "phone": "00966 50 123 4567"}).
		wantError(t, http.StatusConflict, "phone", "customer_id")
	if res.details()["customer_id"] != first["id"] {
		t.Fatalf("conflict names %v, want %v", res.details()["customer_id"], first["id"])
	}
	// Another organization may hold the same identity.
	_, keyB := e.newOrg("Other", "")
	e.doKey(keyB, "POST", "/api/v1/customers", map[string]any{"first_name": "J", "last_name": "D", "email": "john@example.com"}).
		want(t, http.StatusCreated)
}

func TestConcurrentCreatesOfOneEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 32
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do("POST", "/api/v1/customers", map[string]any{
				"first_name": "Race", "last_name": fmt.Sprint(i), "email": "race@example.com",
			}).Status
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusConflict] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 409", count, n-1)
	}
	var rows int
	if err := e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customers WHERE email = 'race@example.com'").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d customers stored, want 1", rows)
	}
}

func TestGetCustomerNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("GET", "/api/v1/customers/nonexistent", nil).wantError(t, http.StatusNotFound, "id")
	if res.Body["error"] != "Customer not found" || res.details()["id"] != "nonexistent" {
		t.Fatalf("body %s", res.Raw)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.createCustomer(map[string]any{"email": "lookup@example.com", "phone": "+14155550123"})
	b := e.createCustomer(map[string]any{"email": "other@example.com", "phone": "+14155550199"})
	for _, tc := range []struct{ query, want string }{
		{"email=LOOKUP@Example.com", str(a["id"])},
		{"email=%20lookup@example.com%20", str(a["id"])},
		{"phone=%2B1%20(415)%20555-0123", str(a["id"])},
		{"phone=14155550123", str(a["id"])},
		{"phone=1-415-555-0199", str(b["id"])},
		// email takes precedence over phone
		{"email=lookup@example.com&phone=%2B14155550199", str(a["id"])},
		// an unknown email falls through to the phone
		{"email=nobody@example.com&phone=%2B14155550199", str(b["id"])},
	} {
		res := e.do("GET", "/api/v1/customers/lookup?"+tc.query, nil).want(t, http.StatusOK)
		if res.data()["id"] != tc.want {
			t.Errorf("lookup %s = %v, want %s", tc.query, res.data()["id"], tc.want)
		}
	}
	e.do("GET", "/api/v1/customers/lookup?email=missing@example.com", nil).wantError(t, http.StatusNotFound)
	e.do("GET", "/api/v1/customers/lookup", nil).wantError(t, http.StatusUnprocessableEntity, "email", "phone")
	e.do("GET", "/api/v1/customers/lookup?email=bad", nil).wantError(t, http.StatusUnprocessableEntity, "email")
}

func TestLookupWithOrgRegion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, key := e.newOrg("Riyadh shop", "SA")
	c := e.doKey(key, "POST", "/api/v1/customers", map[string]any{"first_name": "A", "last_name": "B", "phone": "050 123 4567"}).
		want(t, http.StatusCreated).data()
	if c["phone"] != "+966501234567" {
		t.Fatalf("phone = %v, want +966501234567 from the org's region", c["phone"])
	}
	res := e.doKey(key, "GET", "/api/v1/customers/lookup?phone=%2B966%2050%20123%204567", nil).want(t, http.StatusOK)
	if res.data()["id"] != c["id"] {
		t.Fatalf("lookup found %v", res.data()["id"])
	}
}

func TestListPaginationAndFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 25 {
		status, typ := "active", "individual"
		if i%5 == 0 {
			status = "pending"
		}
		if i%2 == 0 {
			typ = "vip"
		}
		e.createCustomer(map[string]any{"first_name": fmt.Sprintf("Person%02d", i), "email": fmt.Sprintf("p%02d@example.com", i),
			"phone": fmt.Sprintf("+1415555%04d", i), "status": status, "type": typ})
	}
	res := e.do("GET", "/api/v1/customers", nil).want(t, http.StatusOK)
	if m := res.meta(); m["total"] != float64(25) || m["page"] != float64(1) || m["limit"] != float64(20) || m["hasMore"] != true {
		t.Fatalf("meta %v", m)
	}
	if len(res.list()) != 20 {
		t.Fatalf("%d items, want 20", len(res.list()))
	}
	if first := res.list()[0]; first["first_name"] != "Person24" {
		t.Fatalf("default order newest first, got %v", first["first_name"])
	}
	res = e.do("GET", "/api/v1/customers?page=2&limit=20", nil).want(t, http.StatusOK)
	if len(res.list()) != 5 || res.meta()["hasMore"] != false {
		t.Fatalf("page 2: %d items, meta %v", len(res.list()), res.meta())
	}
	res = e.do("GET", "/api/v1/customers?page=9", nil).want(t, http.StatusOK)
	if len(res.list()) != 0 || res.Body["data"] == nil {
		t.Fatalf("page past the end: %s", res.Raw)
	}
	res = e.do("GET", "/api/v1/customers?page_size=3&sort=name", nil).want(t, http.StatusOK)
	if len(res.list()) != 3 || res.list()[0]["first_name"] != "Person00" {
		t.Fatalf("page_size/sort=name: %v", res.list())
	}
	for _, q := range []string{"page=0", "limit=0", "limit=101", "page=x", "page_size=500", "status=gone", "type=robot", "sort=size", "created_from=yesterday"} {
		field := strings.SplitN(q, "=", 2)[0]
		e.do("GET", "/api/v1/customers?"+q, nil).wantError(t, http.StatusUnprocessableEntity, field)
	}
	for q, want := range map[string]float64{
		"status=pending":                  5,
		"status=active&type=vip":          10,
		"type=vip,individual":             25,
		"search=person1":                  10,
		"search=P07@EXAMPLE":              1,
		"search=(415)%20555-0012":         1,
		"search=5550012":                  1,
		"search=nobody":                   0,
		"search=100%25":                   0,
		"created_from=2000-01-01":         25,
		"created_to=2000-01-01":           0,
		"status=active,pending&limit=100": 25,
	} {
		res := e.do("GET", "/api/v1/customers?"+q, nil).want(t, http.StatusOK)
		if res.meta()["total"] != want {
			t.Errorf("%s: total %v, want %v", q, res.meta()["total"], want)
		}
	}
}

func TestSearchBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createCustomer(map[string]any{"first_name": "John", "email": "john@example.com", "status": "active", "type": "vip"})
	e.createCustomer(map[string]any{"first_name": "Johnny", "email": "johnny@example.com", "status": "pending"})
	e.createCustomer(map[string]any{"first_name": "Mary", "email": "mary@example.com", "status": "active"})
	res := e.do("POST", "/api/v1/customers/search", map[string]any{
		"query": "john", "status": []string{"active", "pending"}, "type": []string{"individual", "vip"},
		"created_from": "2024-01-01", "page": 1, "limit": 25,
	}).want(t, http.StatusOK)
	if res.meta()["total"] != float64(2) || res.meta()["limit"] != float64(25) {
		t.Fatalf("meta %v", res.meta())
	}
	res = e.do("POST", "/api/v1/customers/search", map[string]any{"query": "john", "type": []string{"vip"}}).want(t, http.StatusOK)
	if len(res.list()) != 1 || res.list()[0]["first_name"] != "John" {
		t.Fatalf("vip search: %s", res.Raw)
	}
	e.do("POST", "/api/v1/customers/search", map[string]any{}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/search", map[string]any{"limit": 0}).wantError(t, http.StatusUnprocessableEntity, "limit")
	e.do("POST", "/api/v1/customers/search", map[string]any{"status": "active"}).wantError(t, http.StatusUnprocessableEntity, "status")
	e.do("POST", "/api/v1/customers/search", map[string]any{"status": []string{"nope"}}).wantError(t, http.StatusUnprocessableEntity, "status")
}

func TestReplaceCustomer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "put@example.com", "birthdate": "1990-05-15", "gender": "male", "phone": "+14155550100"})
	id := str(c["id"])
	res := e.do("PUT", "/api/v1/customers/"+id, map[string]any{"first_name": "New", "last_name": "Name", "email": "PUT2@example.com"}).
		want(t, http.StatusOK)
	got := res.data()
	if got["first_name"] != "New" || got["email"] != "put2@example.com" || got["birthdate"] != nil || got["gender"] != nil || got["phone"] != nil {
		t.Fatalf("PUT must replace everything: %s", res.Raw)
	}
	// The old email and phone stay the customer's, as aliases (SPEC §10.1),
	// until removed; then they are free again. The new email is taken.
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "A", "last_name": "B", "email": "put@example.com"}).
		wantError(t, http.StatusConflict, "email")
	e.do("DELETE", "/api/v1/customers/"+id+"/aliases/put@example.com", nil).want(t, http.StatusNoContent)
	e.do("DELETE", "/api/v1/customers/"+id+"/aliases/%2B14155550100", nil).want(t, http.StatusNoContent)
	e.createCustomer(map[string]any{"email": "put@example.com", "phone": "+14155550100"})
	e.do("GET", "/api/v1/customers/lookup?email=put2@example.com", nil).want(t, http.StatusOK)
	other := e.createCustomer(map[string]any{"email": "third@example.com"})
	e.do("PUT", "/api/v1/customers/"+str(other["id"]), map[string]any{"first_name": "A", "last_name": "B", "email": "put2@example.com"}).
		wantError(t, http.StatusConflict, "email")
	e.do("PUT", "/api/v1/customers/"+id, map[string]any{"first_name": "A"}).wantError(t, http.StatusUnprocessableEntity, "last_name")
	e.do("PUT", "/api/v1/customers/cust_missing", map[string]any{"first_name": "A", "last_name": "B", "email": "z@example.com"}).
		wantError(t, http.StatusNotFound)
}

func TestPatchCustomer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "patch@example.com", "birthdate": "1990-05-15", "phone": "+1-555-0456"})
	id := str(c["id"])
	got := e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"status": "inactive", "birthdate": nil}).want(t, http.StatusOK).data()
	if got["status"] != "inactive" || got["birthdate"] != nil || got["email"] != "patch@example.com" || got["first_name"] != "Test" {
		t.Fatalf("PATCH result %v", got)
	}
	// A stored short test number stays valid while other fields change.
	if got["phone"] != "+15550456" {
		t.Fatalf("phone = %v", got["phone"])
	}
	got = e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"billing_address": map[string]any{"line1": "1 Main", "city": "Riyadh", "country": "sa"}},
		"Content-Type", "application/merge-patch+json").want(t, http.StatusOK).data()
	if ba, _ := got["billing_address"].(map[string]any); ba["country"] != "SA" || ba["city"] != "Riyadh" {
		t.Fatalf("billing_address = %v", got["billing_address"])
	}
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"email": nil, "phone": nil}).wantError(t, http.StatusUnprocessableEntity, "email")
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"first_name": 5}).wantError(t, http.StatusUnprocessableEntity, "first_name")
	other := e.createCustomer(map[string]any{"email": "taken@example.com"})
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"email": "taken@example.com"}).wantError(t, http.StatusConflict, "email")
	e.do("PATCH", "/api/v1/customers/"+str(other["id"]), map[string]any{"email": "fresh@example.com"}).want(t, http.StatusOK)
	// The replaced email still finds its customer (an alias, SPEC §10.1).
	if got := e.do("GET", "/api/v1/customers/lookup?email=taken@example.com", nil).want(t, http.StatusOK).data(); got["id"] != other["id"] {
		t.Fatalf("lookup by replaced email = %v, want %v", got["id"], other["id"])
	}
}

func TestDeleteCustomer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "del@example.com"})
	id := str(c["id"])
	e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "Home", "address_line1": "1 St", "city": "C", "state": "S", "country": "US"}).
		want(t, http.StatusCreated)
	res := e.do("DELETE", "/api/v1/customers/"+id, nil).want(t, http.StatusNoContent)
	if res.Raw != "" {
		t.Fatalf("204 with body %q", res.Raw)
	}
	e.do("GET", "/api/v1/customers/"+id, nil).wantError(t, http.StatusNotFound)
	e.do("DELETE", "/api/v1/customers/"+id, nil).wantError(t, http.StatusNotFound)
	var n int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customer_addresses").Scan(&n)
	if n != 0 {
		t.Fatalf("%d addresses left after delete", n)
	}
	// The email is free again.
	e.createCustomer(map[string]any{"email": "del@example.com"})

	// A customer with a balance is kept.
	owing := e.createCustomer(map[string]any{"email": "owing@example.com"})
	if _, err := e.store.Pool().Exec(context.Background(), "UPDATE customers SET current_balance = 10 WHERE id = $1", owing["id"]); err != nil {
		t.Fatal(err)
	}
	e.do("DELETE", "/api/v1/customers/"+str(owing["id"]), nil).wantError(t, http.StatusConflict)
	e.do("GET", "/api/v1/customers/"+str(owing["id"]), nil).want(t, http.StatusOK)
}

func TestCustomerHistoryOfDirectWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "hist@example.com"})
	id := str(c["id"])
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"status": "inactive", "first_name": "Renamed"}).want(t, http.StatusOK)
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"status": "inactive"}).want(t, http.StatusOK) // no change, no event
	res := e.do("GET", "/api/v1/customers/"+id+"/history", nil).want(t, http.StatusOK)
	hist := res.list()
	if len(hist) != 2 || hist[0]["type"] != "customer.updated" || hist[1]["type"] != "customer.created" || hist[1]["source"] != "api" {
		t.Fatalf("history %s", res.Raw)
	}
	ch, _ := hist[0]["changes"].(map[string]any)
	if st, _ := ch["status"].(map[string]any); st["from"] != "active" || st["to"] != "inactive" || ch["first_name"] == nil || ch["email"] != nil {
		t.Fatalf("changes %v", ch)
	}
	e.do("GET", "/api/v1/customers/cust_missing/history", nil).wantError(t, http.StatusNotFound)
	e.do("DELETE", "/api/v1/customers/"+id, nil).want(t, http.StatusNoContent)
	if n := e.count("SELECT count(*) FROM audit_events WHERE customer_id = $1 AND type = 'customer.deleted'", id); n != 1 {
		t.Fatalf("%d delete events", n)
	}
}
