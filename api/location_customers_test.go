package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// wantScoped checks a seed 004 success body and returns its data.
func (r response) wantScoped(t *testing.T, status int, message string) response {
	t.Helper()
	r.want(t, status)
	if r.Body["success"] != true || r.Body["message"] != message {
		t.Fatalf("success/message = %v/%v, want true/%q; body: %s", r.Body["success"], r.Body["message"], message, r.Raw)
	}
	if _, ok := r.Body["data"]; !ok {
		t.Fatalf("no data; body: %s", r.Raw)
	}
	return r
}

// wantScopedError checks a seed 004 error body and the fields it names.
func (r response) wantScopedError(t *testing.T, status int, fields ...string) response {
	t.Helper()
	r.want(t, status)
	errs, ok := r.Body["errors"].(map[string]any)
	if r.Body["success"] != false || str(r.Body["message"]) == "" || !ok {
		t.Fatalf("not a seed 004 error body: %s", r.Raw)
	}
	for _, f := range fields {
		if _, ok := errs[f]; !ok {
			t.Fatalf("errors do not name %q; body: %s", f, r.Raw)
		}
	}
	return r
}

func TestLocationCustomerCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	vip := e.createGroup("VIP")
	loc := e.createLocation(map[string]any{"name": "Riyadh", "default_region": "SA",
		"default_tags": []string{"walk-in"}, "default_group_ids": []any{vip["id"]}})
	base := "/api/v1/locations/" + str(loc["id"]) + "/customers"

	// Only name is required.
	c := e.do("POST", base, map[string]any{"name": "  Mary   Ann  Smith "}).wantScoped(t, http.StatusCreated, "Customer created!").data()
	if c["first_name"] != "Mary Ann" || c["last_name"] != "Smith" || c["name"] != "Mary Ann Smith" || c["email"] != nil ||
		c["status"] != "active" || c["type"] != "individual" || c["address"] != nil || !strings.HasPrefix(str(c["id"]), "cust_") {
		t.Fatalf("name-only customer %v", c)
	}
	if fmt.Sprint(c["tags"]) != "[walk-in]" || fmt.Sprint(c["groups"]) != fmt.Sprint([]any{vip["id"]}) {
		t.Fatalf("defaults not applied: tags %v groups %v", c["tags"], c["groups"])
	}
	if v := c["locations"].([]any); len(v) != 1 || v[0].(map[string]any)["source"] != "api" {
		t.Fatalf("visit %v", c["locations"])
	}

	// Everything, with the address as a string and a local phone.
	full := e.do("POST", base, map[string]any{
		"name": "Omar Ali", "address": "12 King Fahd Rd", "company_name": "Ali Trading", "source": "pos",
		"status": "pending", "tags": []string{"VIP"}, "email": "Omar@Example.com", "phone": "050 123 4567", "location_id": loc["id"],
	}).wantScoped(t, http.StatusCreated, "Customer created!").data()
	addr, _ := full["address"].(map[string]any)
	if full["phone"] != "+966501234567" || full["email"] != "omar@example.com" || full["company_name"] != "Ali Trading" ||
		full["status"] != "pending" || full["source"] != "pos" || addr["address_line1"] != "12 King Fahd Rd" ||
		addr["label"] != "Primary" || addr["is_default"] != true || !strings.HasPrefix(str(addr["id"]), "addr_") {
		t.Fatalf("full customer %v", full)
	}
	if fmt.Sprint(full["tags"]) != "[VIP walk-in]" || full["locations"].([]any)[0].(map[string]any)["source"] != "pos" {
		t.Fatalf("tags %v locations %v", full["tags"], full["locations"])
	}
	// The address is a real address of the customer.
	addrs := e.do("GET", "/api/v1/customers/"+str(full["id"])+"/addresses", nil).want(t, http.StatusOK).list()
	if len(addrs) != 1 || addrs[0]["id"] != addr["id"] {
		t.Fatalf("addresses %v", addrs)
	}

	// The address as an object.
	obj := e.do("POST", base, map[string]any{"name": "Sara", "address": map[string]any{
		"label": "Home", "address_line1": "1 Main St", "address_line2": "Apt 2", "city": "Jeddah", "state": "Makkah",
		"country": "sa", "postal_code": "21577"}}).wantScoped(t, http.StatusCreated, "Customer created!").data()
	addr = obj["address"].(map[string]any)
	if addr["label"] != "Home" || addr["city"] != "Jeddah" || addr["country"] != "SA" || addr["postal_code"] != "21577" ||
		obj["first_name"] != "Sara" || obj["last_name"] != nil {
		t.Fatalf("object address %v", obj)
	}

	// Identity stays unique: a taken email or phone is a 409.
	res := e.do("POST", base, map[string]any{"name": "Copy", "email": "OMAR@example.com"}).wantScopedError(t, http.StatusConflict, "email", "customer_id")
	if res.Body["errors"].(map[string]any)["customer_id"] != full["id"] {
		t.Fatalf("conflict %s", res.Raw)
	}
	e.do("POST", base, map[string]any{"name": "Copy", "phone": "+966 50 123 4567"}).wantScopedError(t, http.StatusConflict, "phone")
}

func TestLocationCustomerValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.createLocation(map[string]any{"name": "Store"})
	base := "/api/v1/locations/" + str(loc["id"]) + "/customers"
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "name"},
		{map[string]any{"name": "  "}, "name"},
		{map[string]any{"name": strings.Repeat("n", 201)}, "name"},
		{map[string]any{"name": strings.Repeat("n", 101) + " B"}, "name"},
		{map[string]any{"name": "A", "email": "nope"}, "email"},
		{map[string]any{"name": "A", "phone": "12"}, "phone"},
		{map[string]any{"name": "A", "status": "gone"}, "status"},
		{map[string]any{"name": "A", "tags": []string{""}}, "tags"},
		{map[string]any{"name": "A", "company_name": strings.Repeat("c", 201)}, "company_name"},
		{map[string]any{"name": "A", "source": strings.Repeat("s", 101)}, "source"},
		{map[string]any{"name": "A", "address": 12}, "address"},
		{map[string]any{"name": "A", "address": strings.Repeat("a", 201)}, "address"},
		{map[string]any{"name": "A", "address": map[string]any{"address_line1": "x", "country": "XX"}}, "address.country"},
		{map[string]any{"name": "A", "address": map[string]any{"city": strings.Repeat("c", 101)}}, "address.city"},
		{map[string]any{"name": "A", "location_id": "loc_other"}, "location_id"},
		{map[string]any{"name": 5}, "name"},
	} {
		res := e.do("POST", base, tc.body).wantScopedError(t, http.StatusUnprocessableEntity, tc.field)
		if res.Body["message"] != "Validation error" {
			t.Errorf("message %v", res.Body["message"])
		}
	}
	e.do("POST", base, `{"name":`).wantScopedError(t, http.StatusBadRequest)
	e.do("POST", base, `{"name":"A"}`, "Content-Type", "text/plain").wantScopedError(t, http.StatusUnsupportedMediaType)
	e.do("POST", base, `{"name":"`+strings.Repeat("x", 2<<20)+`"}`).wantScopedError(t, http.StatusRequestEntityTooLarge)
	if res := e.do("GET", base, nil).wantScoped(t, http.StatusOK, "Customers fetched!"); res.meta()["total"] != float64(0) {
		t.Fatalf("rejected creates stored customers: %v", res.meta())
	}
}

func TestLocationCustomerListGetUpdateDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.createLocation(map[string]any{"name": "Store", "default_region": "SA"})
	other := e.createLocation(map[string]any{"name": "Other"})
	base := "/api/v1/locations/" + str(loc["id"]) + "/customers"
	for i := range 23 {
		e.do("POST", base, map[string]any{"name": fmt.Sprintf("Person %02d", i), "email": fmt.Sprintf("p%02d@example.com", i)}).
			wantScoped(t, http.StatusCreated, "Customer created!")
	}
	elsewhere := e.do("POST", "/api/v1/locations/"+str(other["id"])+"/customers", map[string]any{"name": "Else Where"}).
		wantScoped(t, http.StatusCreated, "Customer created!").data()
	notSeen := e.createCustomer(map[string]any{"email": "api@example.com"})

	res := e.do("GET", base, nil).wantScoped(t, http.StatusOK, "Customers fetched!")
	if m := res.meta(); m["total"] != float64(23) || m["limit"] != float64(20) || m["hasMore"] != true || len(res.list()) != 20 {
		t.Fatalf("list meta %v, %d items", m, len(res.list()))
	}
	if _, ok := res.list()[0]["address"]; !ok {
		t.Fatalf("list items lack address: %v", res.list()[0])
	}
	res = e.do("GET", base+"?page=3&page_size=10", nil).wantScoped(t, http.StatusOK, "Customers fetched!")
	if len(res.list()) != 3 || res.meta()["hasMore"] != false || res.meta()["limit"] != float64(10) {
		t.Fatalf("page 3: %s", res.Raw)
	}
	if res := e.do("GET", base+"?q=person%2007", nil).wantScoped(t, http.StatusOK, "Customers fetched!"); len(res.list()) != 1 {
		t.Fatalf("q search: %s", res.Raw)
	}
	if res := e.do("GET", base+"?q=else", nil).wantScoped(t, http.StatusOK, "Customers fetched!"); len(res.list()) != 0 {
		t.Fatalf("list shows customers of another location: %s", res.Raw)
	}
	if res := e.do("GET", base+"?page=9", nil).wantScoped(t, http.StatusOK, "Customers fetched!"); res.Body["data"] == nil || len(res.list()) != 0 {
		t.Fatalf("past the end: %s", res.Raw)
	}
	for _, q := range []string{"page=0", "page_size=0", "page_size=101", "page=x"} {
		e.do("GET", base+"?"+q, nil).wantScopedError(t, http.StatusUnprocessableEntity, strings.SplitN(q, "=", 2)[0])
	}

	c := e.do("GET", base+"?q=person%2003", nil).wantScoped(t, http.StatusOK, "Customers fetched!").list()[0]
	id := str(c["id"])
	got := e.do("GET", base+"/"+id, nil).wantScoped(t, http.StatusOK, "Customer fetched!").data()
	if got["id"] != id || got["email"] != "p03@example.com" {
		t.Fatalf("get %v", got)
	}
	// A customer not seen at the location is not found there.
	e.do("GET", base+"/"+str(elsewhere["id"]), nil).wantScopedError(t, http.StatusNotFound)
	e.do("GET", base+"/"+str(notSeen["id"]), nil).wantScopedError(t, http.StatusNotFound)
	e.do("PUT", base+"/"+str(notSeen["id"]), map[string]any{"name": "X"}).wantScopedError(t, http.StatusNotFound)
	e.do("DELETE", base+"/"+str(notSeen["id"]), nil).wantScopedError(t, http.StatusNotFound)
	e.do("GET", base+"/cust_missing", nil).wantScopedError(t, http.StatusNotFound)

	// Update changes only what is sent.
	upd := e.do("PUT", base+"/"+id, map[string]any{
		"name": "Person Three", "address": "5 New St", "company_name": "Three Co", "tags": []string{"gold", "GOLD"},
		"phone": "0501112222", "source": "crm",
	}).wantScoped(t, http.StatusOK, "Customer updated!").data()
	if upd["first_name"] != "Person" || upd["last_name"] != "Three" || upd["email"] != "p03@example.com" || upd["company_name"] != "Three Co" ||
		upd["phone"] != "+966501112222" || upd["source"] != "crm" || fmt.Sprint(upd["tags"]) != "[gold]" ||
		upd["address"].(map[string]any)["address_line1"] != "5 New St" {
		t.Fatalf("update %v", upd)
	}
	addrID := upd["address"].(map[string]any)["id"]
	// A second address update edits the same default address; tags replace this location's.
	upd = e.do("PUT", base+"/"+id, map[string]any{"address": map[string]any{"address_line1": "6 Newer St", "city": "Riyadh"}, "tags": []string{"silver"}, "email": ""}).
		wantScoped(t, http.StatusOK, "Customer updated!").data()
	a := upd["address"].(map[string]any)
	if a["id"] != addrID || a["address_line1"] != "6 Newer St" || a["city"] != "Riyadh" || a["label"] != "Primary" ||
		fmt.Sprint(upd["tags"]) != "[silver]" || upd["email"] != nil || upd["name"] != "Person Three" {
		t.Fatalf("second update %v", upd)
	}
	// Tags elsewhere are left alone.
	e.do("POST", "/api/v1/customers/"+id+"/tags", map[string]any{"tags": []string{"org-wide"}}).want(t, http.StatusOK)
	upd = e.do("PUT", base+"/"+id, map[string]any{"tags": []string{}}).wantScoped(t, http.StatusOK, "Customer updated!").data()
	if fmt.Sprint(upd["tags"]) != "[org-wide]" {
		t.Fatalf("tags %v", upd["tags"])
	}
	// Validation and conflicts on update.
	e.do("PUT", base+"/"+id, map[string]any{"name": "", "email": "bad", "tags": []string{""}}).
		wantScopedError(t, http.StatusUnprocessableEntity, "name", "email", "tags")
	e.do("PUT", base+"/"+id, map[string]any{"email": "p04@example.com"}).wantScopedError(t, http.StatusConflict, "email")
	if got := e.do("GET", base+"/"+id, nil).wantScoped(t, http.StatusOK, "Customer fetched!").data(); got["name"] != "Person Three" {
		t.Fatalf("rejected update changed the customer: %v", got)
	}

	// Delete: the SPEC §4 rule holds, the answer has the seed's envelope.
	owing := e.do("GET", base+"?q=person%2005", nil).wantScoped(t, http.StatusOK, "Customers fetched!").list()[0]
	if _, err := e.store.Pool().Exec(context.Background(), "UPDATE customers SET current_balance = 5 WHERE id = $1", owing["id"]); err != nil {
		t.Fatal(err)
	}
	e.do("DELETE", base+"/"+str(owing["id"]), nil).wantScopedError(t, http.StatusConflict)
	res = e.do("DELETE", base+"/"+id, nil).wantScoped(t, http.StatusOK, "Customer deleted!")
	if res.data()["id"] != id {
		t.Fatalf("delete body %s", res.Raw)
	}
	e.do("GET", base+"/"+id, nil).wantScopedError(t, http.StatusNotFound)
	e.do("GET", "/api/v1/customers/"+id, nil).wantError(t, http.StatusNotFound)
}

func TestLocationCustomerErrorsAndIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.createLocation(map[string]any{"name": "Mine"})
	base := "/api/v1/locations/" + str(loc["id"]) + "/customers"
	c := e.do("POST", base, map[string]any{"name": "Mine Customer"}).wantScoped(t, http.StatusCreated, "Customer created!").data()

	// Authentication failures take the seed 004 shape too.
	e.doKey("", "GET", base, nil).wantScopedError(t, http.StatusUnauthorized)
	e.doKey("lk_bogus_key", "GET", base, nil).wantScopedError(t, http.StatusUnauthorized)
	e.do("GET", base, nil, "X-Organization-ID", "org_other").wantScopedError(t, http.StatusForbidden)
	e.do("PATCH", base+"/"+str(c["id"]), map[string]any{}).wantScopedError(t, http.StatusMethodNotAllowed)
	e.do("GET", "/api/v1/locations/loc_missing/customers", nil).wantScopedError(t, http.StatusNotFound)
	e.do("POST", "/api/v1/locations/loc_missing/customers", map[string]any{"name": "X"}).wantScopedError(t, http.StatusNotFound)

	_, keyB := e.newOrg("Intruder", "")
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", base, nil},
		{"POST", base, map[string]any{"name": "Sneaky"}},
		{"GET", base + "/" + str(c["id"]), nil},
		{"PUT", base + "/" + str(c["id"]), map[string]any{"name": "Hijacked"}},
		{"DELETE", base + "/" + str(c["id"]), nil},
	} {
		e.doKey(keyB, req.method, req.path, req.body).wantScopedError(t, http.StatusNotFound)
	}
	// Org B's own location can't reach org A's customer either.
	locB := e.doKey(keyB, "POST", "/api/v1/locations", map[string]any{"name": "Theirs"}).want(t, http.StatusCreated).data()
	e.doKey(keyB, "GET", "/api/v1/locations/"+str(locB["id"])+"/customers/"+str(c["id"]), nil).wantScopedError(t, http.StatusNotFound)
	if got := e.do("GET", base+"/"+str(c["id"]), nil).wantScoped(t, http.StatusOK, "Customer fetched!").data(); got["name"] != "Mine Customer" {
		t.Fatalf("org A's customer changed: %v", got)
	}
	if res := e.do("GET", base, nil).wantScoped(t, http.StatusOK, "Customers fetched!"); res.meta()["total"] != float64(1) {
		t.Fatalf("org B created at org A's location: %v", res.meta())
	}
}
