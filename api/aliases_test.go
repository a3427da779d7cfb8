package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// aliasesOf lists a customer's aliases as "kind:value".
func aliasesOf(c map[string]any) []string {
	var out []string
	list, _ := c["aliases"].([]any)
	for _, a := range list {
		m, _ := a.(map[string]any)
		out = append(out, str(m["kind"])+":"+str(m["value"]))
	}
	return out
}

func hasAlias(c map[string]any, alias string) bool {
	for _, a := range aliasesOf(c) {
		if a == alias {
			return true
		}
	}
	return false
}

// Every view's edit keeps the replaced email and phone as aliases: the
// customer JSON shows them, lookup and the upsert engine still find the
// customer through them (SPEC §10.1).
func TestEditsKeepReplacedIdentifiersAsAliases(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	loc := e.createLocation(map[string]any{"name": "Riyadh", "default_region": "SA"})
	edits := []struct {
		view string
		edit func(id string, n int)
	}{
		{"PUT /api/v1/customers", func(id string, n int) {
			e.do("PUT", "/api/v1/customers/"+id, map[string]any{"first_name": "Ann", "last_name": "Lee",
				"email": fmt.Sprintf("new%d@example.com", n), "phone": fmt.Sprintf("+1415555%04d", 2000+n)}).want(t, http.StatusOK)
		}},
		{"PATCH /api/v1/customers", func(id string, n int) {
			e.do("PATCH", "/api/v1/customers/"+id, map[string]any{
				"email": fmt.Sprintf("new%d@example.com", n), "phone": fmt.Sprintf("+1415555%04d", 2000+n)}).want(t, http.StatusOK)
		}},
		{"PUT /api/customers (ERP)", func(id string, n int) {
			e.do("PUT", "/api/customers/"+id, map[string]any{
				"email": fmt.Sprintf("new%d@example.com", n), "phone": fmt.Sprintf("+1415555%04d", 2000+n)}).want(t, http.StatusOK)
		}},
		{"PUT /api/v1/locations/{id}/customers", func(id string, n int) {
			e.do("PUT", "/api/v1/locations/"+str(loc["id"])+"/customers/"+id, map[string]any{
				"email": fmt.Sprintf("new%d@example.com", n), "phone": fmt.Sprintf("+1415555%04d", 2000+n)}).
				wantScoped(t, http.StatusOK, "Customer updated!")
		}},
	}
	for n, tc := range edits {
		oldEmail, oldPhone := fmt.Sprintf("old%d@example.com", n), fmt.Sprintf("+1415555%04d", 1000+n)
		id := str(e.createCustomer(map[string]any{"first_name": "Ann", "last_name": "Lee", "email": oldEmail,
			"phone": oldPhone, "location_id": loc["id"]})["id"])
		tc.edit(id, n)

		c := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data()
		if c["email"] != fmt.Sprintf("new%d@example.com", n) || !hasAlias(c, "email:"+oldEmail) || !hasAlias(c, "phone:"+oldPhone) {
			t.Fatalf("%s: email %v aliases %v, want the old email and phone kept", tc.view, c["email"], aliasesOf(c))
		}
		for _, q := range []string{"email=" + oldEmail, "phone=" + url.QueryEscape(oldPhone)} {
			if got := e.do("GET", "/api/v1/customers/lookup?"+q, nil).want(t, http.StatusOK).data()["id"]; got != id {
				t.Fatalf("%s: lookup %s = %v, want %s", tc.view, q, got, id)
			}
		}
		res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": oldEmail}).want(t, http.StatusOK)
		if res.data()["id"] != id || metaOf(res)["matched_on"] != "email" {
			t.Fatalf("%s: upsert with the old email: %s", tc.view, res.Raw)
		}
		res = e.do("POST", "/api/v1/customers/upsert", map[string]any{"phone": oldPhone}).want(t, http.StatusOK)
		if res.data()["id"] != id || metaOf(res)["matched_on"] != "phone" {
			t.Fatalf("%s: upsert with the old phone: %s", tc.view, res.Raw)
		}
	}
	// A replacement another customer owns is still a conflict, and the
	// edit changes nothing.
	a := e.createCustomer(map[string]any{"email": "mine@example.com"})
	e.createCustomer(map[string]any{"email": "theirs@example.com"})
	e.do("PATCH", "/api/v1/customers/"+str(a["id"]), map[string]any{"email": "theirs@example.com"}).wantError(t, http.StatusConflict, "email")
	if c := e.do("GET", "/api/v1/customers/"+str(a["id"]), nil).want(t, http.StatusOK).data(); c["email"] != "mine@example.com" || len(aliasesOf(c)) != 0 {
		t.Fatalf("rejected edit left %v aliases %v", c["email"], aliasesOf(c))
	}
	// Clearing an email keeps it too; putting it back makes it primary again.
	b := str(e.createCustomer(map[string]any{"email": "clear@example.com", "phone": "+14155559999"})["id"])
	c := e.do("PATCH", "/api/v1/customers/"+b, map[string]any{"email": nil}).want(t, http.StatusOK).data()
	if c["email"] != nil || !hasAlias(c, "email:clear@example.com") {
		t.Fatalf("cleared email: %v aliases %v", c["email"], aliasesOf(c))
	}
	c = e.do("PATCH", "/api/v1/customers/"+b, map[string]any{"email": "clear@example.com"}).want(t, http.StatusOK).data()
	if c["email"] != "clear@example.com" || len(aliasesOf(c)) != 0 {
		t.Fatalf("restored email: %v aliases %v", c["email"], aliasesOf(c))
	}
	// The history says where the old values went.
	h := e.do("GET", "/api/v1/customers/"+b+"/history", nil).want(t, http.StatusOK).list()
	found := false
	for _, ev := range h {
		if ch, ok := ev["changes"].(map[string]any); ok && ch["alias_email"] != nil {
			found = true
		}
	}
	if !found {
		t.Fatalf("no alias_email change in history %v", h)
	}
}

func TestDeleteAlias(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := str(e.createCustomer(map[string]any{"email": "old@example.com", "phone": "+14155550100"})["id"])
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"email": "new@example.com", "phone": "+14155550199"}).want(t, http.StatusOK)
	path := func(v string) string { return "/api/v1/customers/" + id + "/aliases/" + url.PathEscape(v) }

	// Any formatting names the alias, as lookup reads it.
	e.do("DELETE", path(" OLD@Example.com "), nil).want(t, http.StatusNoContent)
	e.do("GET", "/api/v1/customers/lookup?email=old@example.com", nil).wantError(t, http.StatusNotFound)
	e.do("DELETE", path("+1 (415) 555-0100"), nil).want(t, http.StatusNoContent)
	e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550100", nil).wantError(t, http.StatusNotFound)
	if c := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data(); len(aliasesOf(c)) != 0 || c["email"] != "new@example.com" {
		t.Fatalf("after delete: email %v aliases %v", c["email"], aliasesOf(c))
	}
	// Gone, or never there: 404 naming the value.
	res := e.do("DELETE", path("old@example.com"), nil).wantError(t, http.StatusNotFound, "email")
	if res.Body["error"] != "Customer has no email alias old@example.com" {
		t.Fatalf("404 message %v", res.Body["error"])
	}
	e.do("DELETE", path("+1 415 555 0123"), nil).wantError(t, http.StatusNotFound, "phone")
	// The primary is not an alias.
	res = e.do("DELETE", path("NEW@example.com"), nil).wantError(t, http.StatusUnprocessableEntity, "email")
	if res.Body["error"] != "new@example.com is the customer's primary email, not an alias: edit the customer to change it" {
		t.Fatalf("422 message %v", res.Body["error"])
	}
	e.do("DELETE", path("+14155550199"), nil).wantError(t, http.StatusUnprocessableEntity, "phone")
	e.do("DELETE", path("not a phone"), nil).wantError(t, http.StatusUnprocessableEntity, "value")
	e.do("DELETE", "/api/v1/customers/cust_missing/aliases/a@example.com", nil).wantError(t, http.StatusNotFound)

	// Another organization's customer and alias do not exist for us.
	_, otherKey := e.newOrg("Other", "")
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"email": "newer@example.com"}).want(t, http.StatusOK)
	e.doKey(otherKey, "DELETE", path("new@example.com"), nil).wantError(t, http.StatusNotFound)
	if c := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data(); !hasAlias(c, "email:new@example.com") {
		t.Fatalf("another org removed an alias: %v", aliasesOf(c))
	}

	// The removal is in the customer's history.
	n := 0
	for _, ev := range e.do("GET", "/api/v1/customers/"+id+"/history", nil).want(t, http.StatusOK).list() {
		ch, _ := ev["changes"].(map[string]any)
		if a, ok := ch["alias_phone"].(map[string]any); ok && a["from"] == "+14155550100" && a["to"] == nil {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d alias removal events, want 1", n)
	}
}
