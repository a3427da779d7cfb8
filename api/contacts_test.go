package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestContacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.do("POST", "/api/customers", seedERPCustomer()).want(t, http.StatusCreated).data()
	id := str(c["id"])
	bob := str(c["contacts"].([]any)[0].(map[string]any)["id"])
	base := "/api/customers/" + id + "/contacts"

	// Seed 003's POST: every member of the seed shape.
	sarah := e.do("POST", base, map[string]any{"name": "Sarah Davis", "title": "Finance Manager",
		"email": "Sarah.Davis@Customer.com", "phone": "+1-555-1100", "is_primary": false}).want(t, http.StatusCreated).data()
	for field, want := range map[string]any{"name": "Sarah Davis", "title": "Finance Manager", "email": "sarah.davis@customer.com",
		"phone": "+15551100", "is_primary": false, "customer_id": id} {
		if sarah[field] != want {
			t.Errorf("%s = %v, want %v", field, sarah[field], want)
		}
	}
	if !strings.HasPrefix(str(sarah["id"]), "cont_") || !strings.HasSuffix(str(sarah["created_at"]), "Z") || len(sarah) != 8 {
		t.Errorf("contact shape: %v", sarah)
	}
	primaries := func() []string {
		var ids []string
		for _, ct := range e.do("GET", base, nil).want(t, http.StatusOK).list() {
			if ct["is_primary"] == true {
				ids = append(ids, str(ct["id"]))
			}
		}
		return ids
	}
	if p := primaries(); len(p) != 1 || p[0] != bob {
		t.Fatalf("primaries %v, want [%s]", p, bob)
	}
	// Seed 003's PUT: partial, and a new primary unsets the old one.
	upd := e.do("PUT", base+"/"+str(sarah["id"]), map[string]any{"title": "Senior Finance Manager", "phone": "+1-555-1101", "is_primary": true}).
		want(t, http.StatusOK).data()
	if upd["title"] != "Senior Finance Manager" || upd["phone"] != "+15551101" || upd["is_primary"] != true || upd["name"] != "Sarah Davis" || upd["email"] != "sarah.davis@customer.com" {
		t.Fatalf("update: %v", upd)
	}
	if p := primaries(); len(p) != 1 || p[0] != sarah["id"] {
		t.Fatalf("primaries %v, want [%s]", p, sarah["id"])
	}
	// The same routes under /api/v1.
	v1 := "/api/v1/customers/" + id + "/contacts"
	carl := e.do("POST", v1, map[string]any{"name": "Carl", "is_primary": true}).want(t, http.StatusCreated).data()
	if p := primaries(); len(p) != 1 || p[0] != carl["id"] {
		t.Fatalf("primaries %v, want [%s]", p, carl["id"])
	}
	if n := len(e.do("GET", v1, nil).want(t, http.StatusOK).list()); n != 3 {
		t.Fatalf("%d contacts, want 3", n)
	}
	// The customer shows them.
	got := e.do("GET", "/api/customers/"+id, nil).want(t, http.StatusOK).data()
	if n := len(got["contacts"].([]any)); n != 3 {
		t.Fatalf("customer shows %d contacts", n)
	}

	res := e.do("DELETE", base+"/"+bob, nil).want(t, http.StatusOK)
	if res.data()["message"] != "Contact successfully removed" {
		t.Fatalf("delete body %s", res.Raw)
	}
	e.do("DELETE", base+"/"+bob, nil).wantError(t, http.StatusNotFound)
	e.do("PUT", base+"/"+bob, map[string]any{"title": "x"}).wantError(t, http.StatusNotFound)
	e.do("DELETE", v1+"/"+str(carl["id"]), nil).want(t, http.StatusOK)
	if n := len(e.do("GET", base, nil).list()); n != 1 {
		t.Fatalf("%d contacts left, want 1", n)
	}

	// A contact of another customer is not found under this one.
	other := e.do("POST", "/api/customers", map[string]any{"name": "Other Co", "email": "other@example.com"}).want(t, http.StatusCreated).data()
	e.do("PUT", "/api/customers/"+str(other["id"])+"/contacts/"+str(sarah["id"]), map[string]any{"title": "x"}).wantError(t, http.StatusNotFound)
	e.do("DELETE", "/api/customers/"+str(other["id"])+"/contacts/"+str(sarah["id"]), nil).wantError(t, http.StatusNotFound)
	e.do("GET", "/api/customers/cust_missing/contacts", nil).wantError(t, http.StatusNotFound)
	e.do("POST", "/api/customers/cust_missing/contacts", map[string]any{"name": "X"}).wantError(t, http.StatusNotFound)

	// Deleting the customer removes its contacts.
	e.do("DELETE", "/api/v1/customers/"+id, nil).want(t, http.StatusNoContent)
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), "SELECT count(*) FROM customer_contacts WHERE customer_id = $1", id).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d contacts left after customer delete (%v)", n, err)
	}
}

func TestContactValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.do("POST", "/api/customers", map[string]any{"name": "Acme", "email": "acme@example.com"}).want(t, http.StatusCreated).data()
	base := "/api/customers/" + str(c["id"]) + "/contacts"
	for _, tc := range []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{}, []string{"name"}},
		{map[string]any{"name": strings.Repeat("n", 101)}, []string{"name"}},
		{map[string]any{"name": "A", "title": strings.Repeat("t", 101)}, []string{"title"}},
		{map[string]any{"name": "A", "email": "not-mail"}, []string{"email"}},
		{map[string]any{"name": "A", "phone": "123"}, []string{"phone"}},
		{map[string]any{"name": "A", "is_primary": "yes"}, []string{"is_primary"}},
	} {
		e.do("POST", base, tc.body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
	}
	ct := e.do("POST", base, map[string]any{"name": "A"}).want(t, http.StatusCreated).data()
	e.do("PUT", base+"/"+str(ct["id"]), map[string]any{"name": nil}).wantError(t, http.StatusUnprocessableEntity, "name")
	e.do("PUT", base+"/"+str(ct["id"]), map[string]any{"email": "x"}).wantError(t, http.StatusUnprocessableEntity, "email")
}

// Concurrent "make me primary" requests leave exactly one primary.
func TestContactPrimaryUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.do("POST", "/api/customers", map[string]any{"name": "Acme", "email": "acme@example.com"}).want(t, http.StatusCreated).data()
	base := "/api/customers/" + str(c["id"]) + "/contacts"
	var ids []string
	for i := range 8 {
		ids = append(ids, str(e.do("POST", base, map[string]any{"name": "C" + string(rune('a'+i))}).want(t, http.StatusCreated).data()["id"]))
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			e.do("PUT", base+"/"+id, map[string]any{"is_primary": true}).want(t, http.StatusOK)
		})
		wg.Go(func() {
			e.do("POST", base, map[string]any{"name": "New", "is_primary": true}).want(t, http.StatusCreated)
		})
	}
	wg.Wait()
	n := 0
	for _, ct := range e.do("GET", base, nil).want(t, http.StatusOK).list() {
		if ct["is_primary"] == true {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d primary contacts, want 1", n)
	}
}

// The contact list pages like every other list: page and limit apply, meta
// says where the page stands, and bad values are 422.
func TestContactsPaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := str(e.createCustomer(map[string]any{"email": "paged@example.com"})["id"])
	base := "/api/v1/customers/" + id + "/contacts"
	for _, name := range []string{"C1", "C2", "C3", "C4", "C5"} {
		e.do("POST", base, map[string]any{"name": name}).want(t, http.StatusCreated)
	}
	res := e.do("GET", base+"?page=2&limit=2", nil).want(t, http.StatusOK)
	var names []string
	for _, c := range res.list() {
		names = append(names, str(c["name"]))
	}
	if strings.Join(names, ",") != "C3,C4" {
		t.Fatalf("page 2 of 2: %v, want C3,C4", names)
	}
	if m := res.meta(); m["total"] != 5.0 || m["page"] != 2.0 || m["limit"] != 2.0 || m["hasMore"] != true {
		t.Fatalf("meta = %v", m)
	}
	if n := len(e.do("GET", "/api/customers/"+id+"/contacts?page=3&limit=2", nil).want(t, http.StatusOK).list()); n != 1 {
		t.Fatalf("last page: %d contacts, want 1", n)
	}
	if n := len(e.do("GET", base, nil).want(t, http.StatusOK).list()); n != 5 {
		t.Fatalf("default page: %d contacts, want 5", n)
	}
	e.do("GET", base+"?limit=1000", nil).wantError(t, http.StatusUnprocessableEntity, "limit")
}
