package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAddresses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "addr@example.com"})
	base := "/api/v1/customers/" + str(c["id"]) + "/addresses"
	home := map[string]any{"label": "Home", "address_line1": "123 Main Street", "address_line2": "Apt 4B", "city": "Riyadh", "state": "Riyadh", "country": "sa"}

	first := e.do("POST", base, home).want(t, http.StatusCreated).data()
	if first["is_default"] != true || first["country"] != "SA" || !strings.HasPrefix(str(first["id"]), "addr_") || first["customer_id"] != c["id"] {
		t.Fatalf("first address %v", first)
	}
	work := e.do("POST", base, map[string]any{"label": "Work", "address_line1": "1 Office Rd", "city": "Jeddah", "state": "Makkah", "country": "SA"}).
		want(t, http.StatusCreated).data()
	if work["is_default"] != false {
		t.Fatalf("second address became default")
	}
	third := e.do("POST", base, map[string]any{"label": "Other", "address_line1": "9 Rd", "city": "Dammam", "state": "East", "country": "SA", "is_default": true}).
		want(t, http.StatusCreated).data()
	defaults := func() []string {
		var ids []string
		for _, a := range e.do("GET", base, nil).want(t, http.StatusOK).list() {
			if a["is_default"] == true {
				ids = append(ids, str(a["id"]))
			}
		}
		return ids
	}
	if d := defaults(); len(d) != 1 || d[0] != third["id"] {
		t.Fatalf("defaults %v, want only %v", d, third["id"])
	}
	upd := e.do("PUT", base+"/"+str(work["id"]), map[string]any{"label": "Work HQ", "address_line1": "2 Office Rd", "city": "Jeddah", "state": "Makkah", "country": "SA", "is_default": true}).
		want(t, http.StatusOK).data()
	if upd["label"] != "Work HQ" || upd["is_default"] != true {
		t.Fatalf("update %v", upd)
	}
	if d := defaults(); len(d) != 1 || d[0] != work["id"] {
		t.Fatalf("defaults after update %v", d)
	}
	// Deleting the default promotes the oldest remaining address.
	e.do("DELETE", base+"/"+str(work["id"]), nil).want(t, http.StatusNoContent)
	if d := defaults(); len(d) != 1 || d[0] != first["id"] {
		t.Fatalf("defaults after delete %v, want %v", d, first["id"])
	}
	if n := len(e.do("GET", base, nil).list()); n != 2 {
		t.Fatalf("%d addresses, want 2", n)
	}
	e.do("DELETE", base+"/addr_missing", nil).wantError(t, http.StatusNotFound)
	e.do("PUT", base+"/addr_missing", home).wantError(t, http.StatusNotFound)
	e.do("GET", "/api/v1/customers/cust_missing/addresses", nil).wantError(t, http.StatusNotFound)
	e.do("POST", "/api/v1/customers/cust_missing/addresses", home).wantError(t, http.StatusNotFound)
}

func TestAddressValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "addrv@example.com"})
	base := "/api/v1/customers/" + str(c["id"]) + "/addresses"
	for _, tc := range []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{}, []string{"label", "address_line1", "city", "state", "country"}},
		{map[string]any{"label": strings.Repeat("l", 51), "address_line1": "x", "city": "c", "state": "s", "country": "US"}, []string{"label"}},
		{map[string]any{"label": "l", "address_line1": strings.Repeat("a", 201), "city": "c", "state": "s", "country": "US"}, []string{"address_line1"}},
		{map[string]any{"label": "l", "address_line1": "a", "city": strings.Repeat("c", 101), "state": "s", "country": "US"}, []string{"city"}},
		{map[string]any{"label": "l", "address_line1": "a", "city": "c", "state": "s", "country": "Narnia"}, []string{"country"}},
		{map[string]any{"label": "l", "address_line1": "a", "city": "c", "state": "s", "country": "XX"}, []string{"country"}},
		{map[string]any{"label": "l", "address_line1": "a", "city": "c", "state": "s", "country": "US", "is_default": "yes"}, []string{"is_default"}},
	} {
		e.do("POST", base, tc.body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
	}
}
