package api_test

import (
	"net/http"
	"testing"
)

// wantNull fails unless obj has key and its value is JSON null (not "",
// not absent).
func wantNull(t *testing.T, what string, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := obj[k]; !ok || v != nil {
			t.Errorf("%s: %s = %#v (present %v), want null", what, k, v, ok)
		}
	}
}

// TestClearedFieldsAnswerNull: an optional text field without a value
// answers null in every view, whether never set or cleared (issue 22).
func TestClearedFieldsAnswerNull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "nulls@example.com", "notes": "hello", "company_name": "Acme"})
	id := str(c["id"])
	wantNull(t, "create", c, "phone", "birthdate", "gender", "website", "tax_id")
	if c["notes"] != "hello" || c["email"] != "nulls@example.com" || c["type"] != "individual" || c["status"] != "active" {
		t.Fatalf("create: %v", c)
	}

	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"notes": nil, "company_name": ""}).want(t, http.StatusOK)
	got := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data()
	wantNull(t, "GET after PATCH", got, "notes", "company_name", "phone")
	if got["email"] != "nulls@example.com" {
		t.Fatalf("PATCH cleared more than asked: %v", got)
	}
	e.do("PUT", "/api/v1/customers/"+id, map[string]any{"first_name": "Nul", "last_name": "Ls", "email": "nulls@example.com", "notes": "x"}).
		want(t, http.StatusOK)
	e.do("PUT", "/api/v1/customers/"+id, map[string]any{"first_name": "Nul", "last_name": "Ls", "email": "nulls@example.com"}).
		want(t, http.StatusOK)
	got = e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data()
	wantNull(t, "GET after PUT", got, "notes")

	list := e.do("GET", "/api/v1/customers?search=nulls", nil).want(t, http.StatusOK).list()
	if len(list) != 1 {
		t.Fatalf("list: %v", list)
	}
	wantNull(t, "list", list[0], "phone", "notes")
	wantNull(t, "lookup", e.do("GET", "/api/v1/customers/lookup?email=nulls@example.com", nil).want(t, http.StatusOK).data(), "phone")
	wantNull(t, "ERP view", e.do("GET", "/api/customers/"+id, nil).want(t, http.StatusOK).data(), "phone", "notes", "website")

	g := e.do("POST", "/api/v1/customer-groups", map[string]any{"name": "Nulls"}).want(t, http.StatusCreated).data()
	wantNull(t, "group", g, "description")
}
