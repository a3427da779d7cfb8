package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// tagCounts returns GET /tags as "tag=count" strings, in order.
func (e *env) tagCounts(query string) []string {
	e.t.Helper()
	var out []string
	for _, t := range e.do("GET", "/api/v1/tags"+query, nil).want(e.t, http.StatusOK).list() {
		out = append(out, fmt.Sprintf("%v=%v", t["tag"], t["count"]))
	}
	return out
}

func TestCustomerTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.createLocation(map[string]any{"name": "Mall"})
	lid := str(loc["id"])
	c := e.createCustomer(map[string]any{"email": "t@example.com"})
	base := "/api/v1/customers/" + str(c["id"]) + "/tags"

	got := e.do("POST", base, map[string]any{"tags": []string{" VIP ", "vip", "Newsletter"}}).want(t, http.StatusOK).data()
	if fmt.Sprint(got["tags"]) != "[Newsletter VIP]" {
		t.Fatalf("tags %v", got["tags"])
	}
	// Adding again in another case changes nothing: tags are case-insensitive.
	got = e.do("POST", base, map[string]any{"tags": []string{"newsletter"}}).want(t, http.StatusOK).data()
	if fmt.Sprint(got["tags"]) != "[Newsletter VIP]" {
		t.Fatalf("tags after re-add %v", got["tags"])
	}
	// The same tag at a location is another tag row; tags stays flat and distinct.
	got = e.do("POST", base, map[string]any{"tags": []string{"vip", "mall-regular"}, "location_id": lid}).want(t, http.StatusOK).data()
	byLoc := got["tags_by_location"].(map[string]any)
	if fmt.Sprint(byLoc["org"]) != "[Newsletter VIP]" || fmt.Sprint(byLoc[lid]) != "[mall-regular vip]" {
		t.Fatalf("tags_by_location %v", byLoc)
	}
	if fmt.Sprint(got["tags"]) != "[Newsletter VIP mall-regular]" {
		t.Fatalf("flat tags %v", got["tags"])
	}
	// Replace swaps one location's tags only.
	got = e.do("POST", base, map[string]any{"tags": []string{"MALL-REGULAR", "gold"}, "location_id": lid, "replace": true}).want(t, http.StatusOK).data()
	byLoc = got["tags_by_location"].(map[string]any)
	if fmt.Sprint(byLoc[lid]) != "[mall-regular gold]" || fmt.Sprint(byLoc["org"]) != "[Newsletter VIP]" {
		t.Fatalf("after replace %v", byLoc)
	}
	// Replace with [] clears that location.
	got = e.do("POST", base, map[string]any{"tags": []string{}, "location_id": lid, "replace": true}).want(t, http.StatusOK).data()
	if byLoc = got["tags_by_location"].(map[string]any); len(byLoc) != 1 || byLoc[lid] != nil {
		t.Fatalf("after clearing %v", byLoc)
	}

	// Delete matches any spelling; without location_id the org-wide tag.
	e.do("DELETE", base+"/vip", nil).want(t, http.StatusNoContent)
	e.do("DELETE", base+"/vip", nil).wantError(t, http.StatusNotFound, "tag")
	e.do("POST", base, map[string]any{"tags": []string{"Two Words"}, "location_id": lid}).want(t, http.StatusOK)
	e.do("DELETE", base+"/"+url.PathEscape("two words"), nil).wantError(t, http.StatusNotFound)
	e.do("DELETE", base+"/"+url.PathEscape("two words")+"?location_id="+lid, nil).want(t, http.StatusNoContent)
	got = e.do("GET", "/api/v1/customers/"+str(c["id"]), nil).want(t, http.StatusOK).data()
	if fmt.Sprint(got["tags"]) != "[Newsletter]" {
		t.Fatalf("tags after deletes %v", got["tags"])
	}

	// Validation.
	for _, body := range []map[string]any{
		{}, {"tags": []string{}}, {"tags": []string{" "}}, {"tags": []string{strings.Repeat("t", 65)}},
		{"tags": "vip"}, {"tags": []any{1}}, {"tags": make([]string, 101)},
	} {
		e.do("POST", base, body).wantError(t, http.StatusUnprocessableEntity, "tags")
	}
	e.do("POST", base, map[string]any{"tags": []string{"x"}, "location_id": "loc_missing"}).wantError(t, http.StatusUnprocessableEntity, "location_id")
	e.do("POST", base, map[string]any{"tags": []string{"x"}, "replace": "yes"}).wantError(t, http.StatusUnprocessableEntity, "replace")
	e.do("POST", base, map[string]any{"tags": []string{strings.Repeat("é", 64)}}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/cust_missing/tags", map[string]any{"tags": []string{"x"}}).wantError(t, http.StatusNotFound)
	e.do("DELETE", "/api/v1/customers/cust_missing/tags/x", nil).wantError(t, http.StatusNotFound)
}

func TestTagCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mall := e.createLocation(map[string]any{"name": "Mall"})
	airport := e.createLocation(map[string]any{"name": "Airport"})
	tag := func(c map[string]any, loc any, tags ...string) {
		e.do("POST", "/api/v1/customers/"+str(c["id"])+"/tags", map[string]any{"tags": tags, "location_id": loc}).want(t, http.StatusOK)
	}
	a := e.createCustomer(map[string]any{"email": "a@example.com"})
	b := e.createCustomer(map[string]any{"email": "b@example.com"})
	c := e.createCustomer(map[string]any{"email": "c@example.com"})
	tag(a, "", "VIP", "newsletter")
	tag(a, mall["id"], "vip") // the same customer at another location counts once
	tag(b, mall["id"], "vip", "mall")
	tag(c, airport["id"], "Vip", "airport")
	tag(c, "", "newsletter")

	if got := e.tagCounts(""); fmt.Sprint(got) != "[VIP=3 newsletter=2 airport=1 mall=1]" {
		t.Fatalf("tag counts %v", got)
	}
	if got := e.tagCounts("?location_id=" + str(mall["id"])); fmt.Sprint(got) != "[vip=2 mall=1]" {
		t.Fatalf("mall tag counts %v", got)
	}
	if got := e.tagCounts("?prefix=NE"); fmt.Sprint(got) != "[newsletter=2]" {
		t.Fatalf("prefix %v", got)
	}
	if got := e.tagCounts("?prefix=" + url.QueryEscape("%")); len(got) != 0 {
		t.Fatalf("prefix %% matched %v", got)
	}
	res := e.do("GET", "/api/v1/tags?limit=2&page=2", nil).want(t, http.StatusOK)
	if m := res.meta(); m["total"] != float64(4) || m["hasMore"] != false || len(res.list()) != 2 || res.list()[0]["tag"] != "airport" {
		t.Fatalf("page 2 %s", res.Raw)
	}
	e.do("GET", "/api/v1/tags?limit=101", nil).wantError(t, http.StatusUnprocessableEntity, "limit")
	e.do("GET", "/api/v1/tags?page=0", nil).wantError(t, http.StatusUnprocessableEntity, "page")

	// The customer list filters by tag (any spelling, any location), group and location.
	g := e.createGroup("G")
	e.addMembers(str(g["id"]), map[string]any{"customer_ids": []any{a["id"], c["id"]}})
	e.createCustomer(map[string]any{"email": "seen@example.com", "location_id": mall["id"]})
	for q, want := range map[string]string{
		"tag=vip":                           "a b c",
		"tag=%20NEWSLETTER":                 "a c",
		"tag=mall":                          "b",
		"tag=none":                          "",
		"group_id=" + str(g["id"]):          "a c",
		"group_id=grp_missing":              "",
		"location_id=" + str(mall["id"]):    "seen",
		"location_id=" + str(airport["id"]): "",
		"tag=vip&group_id=" + str(g["id"]):  "a c",
	} {
		var names []string
		for _, cu := range e.do("GET", "/api/v1/customers?sort=created&"+q, nil).want(t, http.StatusOK).list() {
			names = append(names, strings.TrimSuffix(str(cu["email"]), "@example.com"))
		}
		if strings.Join(names, " ") != want {
			t.Errorf("%s: %v, want %s", q, names, want)
		}
	}
	// The same filters in the search body.
	res = e.do("POST", "/api/v1/customers/search", map[string]any{"tag": "VIP", "group_id": g["id"]}).want(t, http.StatusOK)
	if res.meta()["total"] != float64(2) {
		t.Fatalf("search body filters %s", res.Raw)
	}
}

func TestTagIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.createLocation(map[string]any{"name": "Mine"})
	c := e.createCustomer(map[string]any{"email": "mine@example.com", "tags": []string{"secret"}})
	_, keyB := e.newOrg("Intruder", "")
	theirs := e.doKey(keyB, "POST", "/api/v1/customers", map[string]any{"first_name": "T", "last_name": "B", "email": "b@example.com"}).
		want(t, http.StatusCreated).data()
	if res := e.doKey(keyB, "GET", "/api/v1/tags", nil).want(t, http.StatusOK); len(res.list()) != 0 || res.meta()["total"] != float64(0) {
		t.Fatalf("org B sees tags %s", res.Raw)
	}
	if res := e.doKey(keyB, "GET", "/api/v1/tags?location_id="+str(loc["id"]), nil).want(t, http.StatusOK); len(res.list()) != 0 {
		t.Fatalf("org B sees tags at org A's location %s", res.Raw)
	}
	base := "/api/v1/customers/" + str(c["id"]) + "/tags"
	e.doKey(keyB, "POST", base, map[string]any{"tags": []string{"x"}}).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "DELETE", base+"/secret", nil).wantError(t, http.StatusNotFound)
	// Org B can't tag its own customer at org A's location.
	e.doKey(keyB, "POST", "/api/v1/customers/"+str(theirs["id"])+"/tags", map[string]any{"tags": []string{"x"}, "location_id": loc["id"]}).
		wantError(t, http.StatusUnprocessableEntity, "location_id")
	if res := e.doKey(keyB, "GET", "/api/v1/customers?tag=secret", nil).want(t, http.StatusOK); res.meta()["total"] != float64(0) {
		t.Fatalf("org B filters org A's tag %s", res.Raw)
	}
	if got := e.tagCounts(""); fmt.Sprint(got) != "[secret=1]" {
		t.Fatalf("org A's tags %v", got)
	}
}
