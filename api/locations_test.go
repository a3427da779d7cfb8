package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// createLocation makes a location through the API and returns its JSON.
func (e *env) createLocation(body map[string]any) map[string]any {
	e.t.Helper()
	return e.do("POST", "/api/v1/locations", body).want(e.t, http.StatusCreated).data()
}

func TestLocationCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	vip := e.createGroup("VIP")
	l := e.createLocation(map[string]any{
		"name": " Riyadh Park ", "code": "RUH-01", "default_region": "sa", "timezone": "Asia/Riyadh",
		"default_tags": []string{" walk-in ", "Riyadh", "WALK-IN"}, "default_group_ids": []any{vip["id"], vip["id"]},
	})
	id := str(l["id"])
	if !strings.HasPrefix(id, "loc_") || l["name"] != "Riyadh Park" || l["code"] != "RUH-01" || l["default_region"] != "SA" ||
		l["timezone"] != "Asia/Riyadh" || fmt.Sprint(l["default_tags"]) != "[walk-in Riyadh]" ||
		fmt.Sprint(l["default_group_ids"]) != fmt.Sprint([]any{vip["id"]}) || l["created"] == nil {
		t.Fatalf("created location %v", l)
	}
	got := e.do("GET", "/api/v1/locations/"+id, nil).want(t, http.StatusOK).data()
	if got["code"] != "RUH-01" || got["created"] != l["created"] {
		t.Fatalf("read back %v", got)
	}
	// PUT replaces: omitted optional fields are cleared, lists become [].
	upd := e.do("PUT", "/api/v1/locations/"+id, map[string]any{"name": "Riyadh Park Mall"}).want(t, http.StatusOK).data()
	if upd["name"] != "Riyadh Park Mall" || upd["code"] != nil || upd["default_region"] != nil || upd["timezone"] != nil ||
		fmt.Sprint(upd["default_tags"]) != "[]" || fmt.Sprint(upd["default_group_ids"]) != "[]" {
		t.Fatalf("updated %v", upd)
	}
	minimal := e.createLocation(map[string]any{"name": "Kiosk"})
	if minimal["default_tags"] == nil || minimal["default_group_ids"] == nil || minimal["code"] != nil {
		t.Fatalf("minimal location %v", minimal)
	}
	e.do("DELETE", "/api/v1/locations/"+id, nil).want(t, http.StatusNoContent)
	e.do("GET", "/api/v1/locations/"+id, nil).wantError(t, http.StatusNotFound, "id")
	e.do("DELETE", "/api/v1/locations/"+id, nil).wantError(t, http.StatusNotFound)
	e.do("PUT", "/api/v1/locations/"+id, map[string]any{"name": "X"}).wantError(t, http.StatusNotFound)
}

func TestLocationValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLocation(map[string]any{"name": "Valid"})
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{}, "name"},
		{map[string]any{"name": " "}, "name"},
		{map[string]any{"name": strings.Repeat("n", 101)}, "name"},
		{map[string]any{"name": "ok", "code": strings.Repeat("c", 51)}, "code"},
		{map[string]any{"name": "ok", "default_region": "SAU"}, "default_region"},
		{map[string]any{"name": "ok", "default_region": "XX"}, "default_region"},
		{map[string]any{"name": "ok", "timezone": "Mars/Olympus"}, "timezone"},
		{map[string]any{"name": "ok", "timezone": "Local"}, "timezone"},
		{map[string]any{"name": "ok", "default_tags": []string{""}}, "default_tags"},
		{map[string]any{"name": "ok", "default_tags": []string{strings.Repeat("t", 65)}}, "default_tags"},
		{map[string]any{"name": "ok", "default_tags": "vip"}, "default_tags"},
		{map[string]any{"name": "ok", "default_group_ids": []string{"grp_missing"}}, "default_group_ids"},
		{map[string]any{"name": "ok", "default_group_ids": []string{" "}}, "default_group_ids"},
		{map[string]any{"name": 7}, "name"},
	} {
		for _, req := range [][2]string{{"POST", "/api/v1/locations"}, {"PUT", "/api/v1/locations/" + str(l["id"])}} {
			e.do(req[0], req[1], tc.body).wantError(t, http.StatusUnprocessableEntity, tc.field)
		}
	}
	// Limits and every valid zone form pass.
	e.createLocation(map[string]any{"name": strings.Repeat("n", 100), "code": strings.Repeat("c", 50),
		"timezone": "UTC", "default_tags": []string{strings.Repeat("t", 64)}})
	e.createLocation(map[string]any{"name": "NY", "timezone": "America/New_York", "default_region": "us"})
	if res := e.do("GET", "/api/v1/locations", nil).want(t, http.StatusOK); res.meta()["total"] != float64(3) {
		t.Fatalf("rejected requests stored locations: %v", res.meta())
	}
}

func TestLocationCodeConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createLocation(map[string]any{"name": "One", "code": "RUH-01"})
	res := e.do("POST", "/api/v1/locations", map[string]any{"name": "Two", "code": "ruh-01"}).wantError(t, http.StatusConflict, "code")
	if res.Body["error"] != "Location with same code already exists" {
		t.Fatalf("conflict body %s", res.Raw)
	}
	two := e.createLocation(map[string]any{"name": "Two", "code": "JED-01"})
	e.do("PUT", "/api/v1/locations/"+str(two["id"]), map[string]any{"name": "Two", "code": "Ruh-01"}).wantError(t, http.StatusConflict, "code")
	// No code is no conflict, and codes are per organization.
	e.createLocation(map[string]any{"name": "Three"})
	e.createLocation(map[string]any{"name": "Four"})
	_, keyB := e.newOrg("Other", "")
	e.doKey(keyB, "POST", "/api/v1/locations", map[string]any{"name": "B", "code": "RUH-01"}).want(t, http.StatusCreated)
}

func TestLocationListPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 21 {
		e.createLocation(map[string]any{"name": fmt.Sprintf("Store %02d", 20-i)})
	}
	res := e.do("GET", "/api/v1/locations", nil).want(t, http.StatusOK)
	if m := res.meta(); m["total"] != float64(21) || m["hasMore"] != true || len(res.list()) != 20 || res.list()[0]["name"] != "Store 00" {
		t.Fatalf("page 1: meta %v first %v", m, res.list()[0]["name"])
	}
	res = e.do("GET", "/api/v1/locations?page=2", nil).want(t, http.StatusOK)
	if len(res.list()) != 1 || res.list()[0]["name"] != "Store 20" || res.meta()["hasMore"] != false {
		t.Fatalf("page 2: %s", res.Raw)
	}
	for _, q := range []string{"page=0", "limit=101", "limit=abc"} {
		e.do("GET", "/api/v1/locations?"+q, nil).wantError(t, http.StatusUnprocessableEntity, strings.SplitN(q, "=", 2)[0])
	}
}

// TestCreateCustomerAtLocation covers POST /customers with location_id:
// the location's region parses the phone, its defaults apply and the
// customer is recorded as seen there.
func TestCreateCustomerAtLocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	vip := e.createGroup("VIP")
	walkins := e.createGroup("Walk-ins")
	sa := e.createLocation(map[string]any{"name": "Riyadh", "default_region": "SA",
		"default_tags": []string{"walk-in", "riyadh"}, "default_group_ids": []any{vip["id"], walkins["id"]}})
	c := e.createCustomer(map[string]any{"phone": "050 123 4567", "location_id": sa["id"], "tags": []string{"VIP", "Walk-In"}, "source": "pos"})
	if c["phone"] != "+966501234567" || c["phone_valid"] != true {
		t.Fatalf("phone = %v, want +966501234567 from the location's region", c["phone"])
	}
	byLoc, _ := c["tags_by_location"].(map[string]any)
	if fmt.Sprint(byLoc[str(sa["id"])]) != "[riyadh VIP Walk-In]" || len(byLoc) != 1 {
		t.Fatalf("tags_by_location %v", c["tags_by_location"])
	}
	if fmt.Sprint(c["tags"]) != "[riyadh VIP Walk-In]" {
		t.Fatalf("tags %v", c["tags"])
	}
	if groups, _ := c["groups"].([]any); len(groups) != 2 {
		t.Fatalf("groups %v, want the location's two defaults", c["groups"])
	}
	visits, _ := c["locations"].([]any)
	if len(visits) != 1 {
		t.Fatalf("locations %v", c["locations"])
	}
	v := visits[0].(map[string]any)
	if v["location_id"] != sa["id"] || v["source"] != "pos" || v["first_seen"] == nil || v["first_seen"] != v["last_seen"] {
		t.Fatalf("visit %v", v)
	}
	// The read-back is the same, and the membership records the location.
	got := e.do("GET", "/api/v1/customers/"+str(c["id"]), nil).want(t, http.StatusOK).data()
	if fmt.Sprint(got["tags_by_location"]) != fmt.Sprint(c["tags_by_location"]) || len(got["locations"].([]any)) != 1 {
		t.Fatalf("read back %v", got)
	}
	var atLoc int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM group_members WHERE location_id = $1", sa["id"]).Scan(&atLoc)
	if atLoc != 2 {
		t.Fatalf("%d memberships record the location, want 2", atLoc)
	}

	// Without a location: tags are org-wide (key "org"), no visit, the org's region.
	plain := e.createCustomer(map[string]any{"email": "plain@example.com", "tags": []string{"newsletter"}})
	if byLoc, _ := plain["tags_by_location"].(map[string]any); fmt.Sprint(byLoc["org"]) != "[newsletter]" || len(plain["locations"].([]any)) != 0 {
		t.Fatalf("org-wide tags %v locations %v", plain["tags_by_location"], plain["locations"])
	}
	// Without a location (and no org region) a national number keeps its digits.
	if noRegion := e.createCustomer(map[string]any{"phone": "050 123 4568"}); noRegion["phone"] != "0501234568" || noRegion["phone_valid"] != false {
		t.Fatalf("phone without any region: %v", noRegion["phone"])
	}
	// A location without a region falls back to the organization's.
	_, keyUS := e.newOrg("US shop", "US")
	locUS := e.doKey(keyUS, "POST", "/api/v1/locations", map[string]any{"name": "NYC"}).want(t, http.StatusCreated).data()
	us := e.doKey(keyUS, "POST", "/api/v1/customers", map[string]any{"first_name": "A", "last_name": "B", "phone": "(415) 555-0123", "location_id": locUS["id"]}).
		want(t, http.StatusCreated).data()
	if us["phone"] != "+14155550123" {
		t.Fatalf("phone %v, want the org's region", us["phone"])
	}

	// Validation: unknown location, bad tags, all named at once.
	res := e.do("POST", "/api/v1/customers", map[string]any{"first_name": "A", "email": "x@example.com", "location_id": "loc_missing", "tags": []string{""}}).
		wantError(t, http.StatusUnprocessableEntity, "location_id", "tags", "last_name")
	if res.details()["location_id"] != "no such location" {
		t.Fatalf("details %v", res.details())
	}
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "A", "last_name": "B", "email": "y@example.com", "tags": "vip"}).
		wantError(t, http.StatusUnprocessableEntity, "tags")
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "A", "last_name": "B", "email": "y@example.com", "location_id": 5}).
		wantError(t, http.StatusUnprocessableEntity, "location_id")
}

// TestDeleteLocation: customers stay, their visits and the tags applied
// there go, memberships stay without the location.
func TestDeleteLocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.createGroup("Regulars")
	loc := e.createLocation(map[string]any{"name": "Closing down", "default_group_ids": []any{g["id"]}})
	keep := e.createLocation(map[string]any{"name": "Staying"})
	c := e.createCustomer(map[string]any{"email": "c@example.com", "location_id": loc["id"], "tags": []string{"regular"}})
	cid := str(c["id"])
	e.do("POST", "/api/v1/customers/"+cid+"/tags", map[string]any{"tags": []string{"vip"}}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/"+cid+"/tags", map[string]any{"tags": []string{"loyal"}, "location_id": keep["id"]}).want(t, http.StatusOK)

	e.do("DELETE", "/api/v1/locations/"+str(loc["id"]), nil).want(t, http.StatusNoContent)
	got := e.do("GET", "/api/v1/customers/"+cid, nil).want(t, http.StatusOK).data()
	if len(got["locations"].([]any)) != 0 {
		t.Fatalf("visits left: %v", got["locations"])
	}
	if fmt.Sprint(got["tags"]) != "[vip loyal]" {
		t.Fatalf("tags %v, want only those not applied at the deleted location", got["tags"])
	}
	if groups := got["groups"].([]any); len(groups) != 1 || groups[0] != g["id"] {
		t.Fatalf("groups %v", got["groups"])
	}
	var locs int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM group_members WHERE location_id IS NOT NULL").Scan(&locs)
	if locs != 0 {
		t.Fatalf("%d memberships still name the deleted location", locs)
	}
	// Deleting a group removes it from location defaults.
	withDefault := e.createLocation(map[string]any{"name": "Defaults", "default_group_ids": []any{g["id"]}})
	e.do("DELETE", "/api/v1/customer-groups/"+str(g["id"]), nil).want(t, http.StatusNoContent)
	if got := e.do("GET", "/api/v1/locations/"+str(withDefault["id"]), nil).want(t, http.StatusOK).data(); fmt.Sprint(got["default_group_ids"]) != "[]" {
		t.Fatalf("default_group_ids %v after group delete", got["default_group_ids"])
	}
}

func TestLocationIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLocation(map[string]any{"name": "Mine", "code": "M1"})
	base := "/api/v1/locations/" + str(l["id"])
	g := e.createGroup("Mine")
	_, keyB := e.newOrg("Intruder", "")
	e.doKey(keyB, "GET", base, nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "PUT", base, map[string]any{"name": "Hijacked"}).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "DELETE", base, nil).wantError(t, http.StatusNotFound)
	if res := e.doKey(keyB, "GET", "/api/v1/locations", nil).want(t, http.StatusOK); res.meta()["total"] != float64(0) {
		t.Fatalf("org B lists %v locations", res.meta()["total"])
	}
	// Org B can't use org A's groups as defaults or org A's location for its customers.
	e.doKey(keyB, "POST", "/api/v1/locations", map[string]any{"name": "B", "default_group_ids": []any{g["id"]}}).
		wantError(t, http.StatusUnprocessableEntity, "default_group_ids")
	e.doKey(keyB, "POST", "/api/v1/customers", map[string]any{"first_name": "A", "last_name": "B", "email": "b@example.com", "location_id": l["id"]}).
		wantError(t, http.StatusUnprocessableEntity, "location_id")
	if got := e.do("GET", base, nil).want(t, http.StatusOK).data(); got["name"] != "Mine" {
		t.Fatalf("org A's location changed: %v", got)
	}
}
