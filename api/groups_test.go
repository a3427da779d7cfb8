package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/linkitworks/customers/customer"
)

// createGroup makes a group through the API and returns its JSON.
func (e *env) createGroup(name string) map[string]any {
	e.t.Helper()
	return e.do("POST", "/api/v1/customer-groups", map[string]any{"name": name}).want(e.t, http.StatusCreated).data()
}

// addMembers adds customers to a group and returns the change counts.
func (e *env) addMembers(groupID string, body map[string]any) map[string]any {
	e.t.Helper()
	return e.do("POST", "/api/v1/customer-groups/"+groupID+"/customers", body).want(e.t, http.StatusOK).data()
}

func TestGroupCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.do("POST", "/api/v1/customer-groups", map[string]any{
		"name": "  Loyalty Program - Gold ", "description": "Customers in the gold tier",
	}).want(t, http.StatusCreated).data()
	id := str(g["id"])
	if !strings.HasPrefix(id, "grp_") || g["name"] != "Loyalty Program - Gold" || g["description"] != "Customers in the gold tier" ||
		g["customer_count"] != float64(0) || g["created"] == nil || g["updated"] == nil {
		t.Fatalf("created group %v", g)
	}
	got := e.do("GET", "/api/v1/customer-groups/"+id, nil).want(t, http.StatusOK).data()
	if got["name"] != g["name"] || got["created"] != g["created"] {
		t.Fatalf("read back %v", got)
	}
	// PUT replaces: the omitted description is cleared.
	upd := e.do("PUT", "/api/v1/customer-groups/"+id, map[string]any{"name": "Gold"}).want(t, http.StatusOK).data()
	if upd["name"] != "Gold" || upd["description"] != nil || upd["id"] != id {
		t.Fatalf("updated %v", upd)
	}
	// Renaming to its own name in another case is not a conflict.
	e.do("PUT", "/api/v1/customer-groups/"+id, map[string]any{"name": "GOLD"}).want(t, http.StatusOK)

	e.do("DELETE", "/api/v1/customer-groups/"+id, nil).want(t, http.StatusNoContent)
	e.do("GET", "/api/v1/customer-groups/"+id, nil).wantError(t, http.StatusNotFound, "id")
	e.do("DELETE", "/api/v1/customer-groups/"+id, nil).wantError(t, http.StatusNotFound)
	e.do("PUT", "/api/v1/customer-groups/"+id, map[string]any{"name": "X"}).wantError(t, http.StatusNotFound)
}

func TestGroupValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.createGroup("Valid")
	for _, tc := range []struct {
		body   any
		fields []string
	}{
		{map[string]any{}, []string{"name"}},
		{map[string]any{"name": "   "}, []string{"name"}},
		{map[string]any{"name": strings.Repeat("n", 101)}, []string{"name"}},
		{map[string]any{"name": "ok", "description": strings.Repeat("d", 501)}, []string{"description"}},
		{map[string]any{"name": 42}, []string{"name"}},
		{map[string]any{"name": "ok", "description": []string{"x"}}, []string{"description"}},
	} {
		for _, req := range [][2]string{{"POST", "/api/v1/customer-groups"}, {"PUT", "/api/v1/customer-groups/" + str(g["id"])}} {
			res := e.do(req[0], req[1], tc.body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
			if res.Body["error"] != "Validation error" {
				t.Errorf("error = %v", res.Body["error"])
			}
		}
	}
	// The limits themselves are fine.
	e.do("POST", "/api/v1/customer-groups", map[string]any{"name": strings.Repeat("n", 100), "description": strings.Repeat("d", 500)}).
		want(t, http.StatusCreated)
	e.do("POST", "/api/v1/customer-groups", `{"name":`).wantError(t, http.StatusBadRequest)
	e.do("POST", "/api/v1/customer-groups", `{"name":"x"}`, "Content-Type", "text/plain").wantError(t, http.StatusUnsupportedMediaType)
}

func TestGroupNameConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createGroup("VIP Customers")
	res := e.do("POST", "/api/v1/customer-groups", map[string]any{"name": "vip customers", "description": "other"}).
		wantError(t, http.StatusConflict, "name")
	if res.Body["error"] != "Group with same name already exists" || res.details()["name"] != "vip customers" {
		t.Fatalf("conflict body %s", res.Raw)
	}
	other := e.createGroup("Wholesale")
	e.do("PUT", "/api/v1/customer-groups/"+str(other["id"]), map[string]any{"name": " VIP CUSTOMERS "}).
		wantError(t, http.StatusConflict, "name")
	// Names are unique per organization only.
	_, keyB := e.newOrg("Other", "")
	e.doKey(keyB, "POST", "/api/v1/customer-groups", map[string]any{"name": "VIP Customers"}).want(t, http.StatusCreated)
}

func TestGroupListPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 25 {
		e.createGroup(fmt.Sprintf("Group %02d", 24-i))
	}
	res := e.do("GET", "/api/v1/customer-groups", nil).want(t, http.StatusOK)
	if m := res.meta(); m["total"] != float64(25) || m["page"] != float64(1) || m["limit"] != float64(20) || m["hasMore"] != true {
		t.Fatalf("meta %v", m)
	}
	if l := res.list(); len(l) != 20 || l[0]["name"] != "Group 00" || l[19]["name"] != "Group 19" {
		t.Fatalf("first page not ordered by name: %d items, first %v", len(l), l[0]["name"])
	}
	res = e.do("GET", "/api/v1/customer-groups?page=2&limit=20", nil).want(t, http.StatusOK)
	if len(res.list()) != 5 || res.meta()["hasMore"] != false {
		t.Fatalf("page 2: %s", res.Raw)
	}
	res = e.do("GET", "/api/v1/customer-groups?page=3&limit=25", nil).want(t, http.StatusOK)
	if res.Body["data"] == nil || len(res.list()) != 0 || res.meta()["hasMore"] != false {
		t.Fatalf("past the end: %s", res.Raw)
	}
	res = e.do("GET", "/api/v1/customer-groups?page=1&limit=25", nil).want(t, http.StatusOK)
	if len(res.list()) != 25 || res.meta()["hasMore"] != false {
		t.Fatalf("exact page: %v", res.meta())
	}
	if res := e.do("GET", "/api/v1/customer-groups?page_size=3", nil).want(t, http.StatusOK); len(res.list()) != 3 {
		t.Fatalf("page_size alias: %d items", len(res.list()))
	}
	for _, q := range []string{"page=0", "page=-1", "limit=0", "limit=101", "page=x", "page_size=500"} {
		e.do("GET", "/api/v1/customer-groups?"+q, nil).wantError(t, http.StatusUnprocessableEntity, strings.SplitN(q, "=", 2)[0])
	}
}

func TestGroupMembership(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.createGroup("VIP")
	gid := str(g["id"])
	base := "/api/v1/customer-groups/" + gid + "/customers"
	a := e.createCustomer(map[string]any{"email": "a@example.com"})
	b := e.createCustomer(map[string]any{"email": "b@example.com"})
	c := e.createCustomer(map[string]any{"email": "c@example.com"})

	ch := e.addMembers(gid, map[string]any{"customer_ids": []any{a["id"], b["id"], a["id"]}})
	if ch["added"] != float64(2) || ch["already_members"] != float64(0) || ch["customer_count"] != float64(2) || ch["group_id"] != gid {
		t.Fatalf("first add %v", ch)
	}
	// Adding again is idempotent and says so.
	ch = e.addMembers(gid, map[string]any{"customer_ids": []any{b["id"], c["id"]}})
	if ch["added"] != float64(1) || ch["already_members"] != float64(1) || ch["customer_count"] != float64(3) {
		t.Fatalf("second add %v", ch)
	}
	if got := e.do("GET", "/api/v1/customer-groups/"+gid, nil).want(t, http.StatusOK).data(); got["customer_count"] != float64(3) {
		t.Fatalf("customer_count %v", got["customer_count"])
	}
	// Unknown ids: 422 naming them, and nothing added (all or nothing).
	d := e.createCustomer(map[string]any{"email": "d@example.com"})
	res := e.do("POST", base, map[string]any{"customer_ids": []any{d["id"], "cust_nope", "cust_gone"}}).
		wantError(t, http.StatusUnprocessableEntity, "customer_ids", "missing_ids")
	if missing := res.details()["missing_ids"]; fmt.Sprint(missing) != "[cust_gone cust_nope]" {
		t.Fatalf("missing_ids %v", missing)
	}
	for _, body := range []map[string]any{
		{}, {"customer_ids": []any{}}, {"customer_ids": []any{" "}}, {"customer_ids": "cust_x"},
		{"customer_ids": manyIDs(1001)},
		{"customer_ids": []any{a["id"]}, "location_id": "loc_missing"},
	} {
		field := "customer_ids"
		if body["location_id"] != nil {
			field = "location_id"
		}
		e.do("POST", base, body).wantError(t, http.StatusUnprocessableEntity, field)
	}

	// The members list is the customer list, with its parameters.
	res = e.do("GET", base, nil).want(t, http.StatusOK)
	if res.meta()["total"] != float64(3) || len(res.list()) != 3 {
		t.Fatalf("members %s", res.Raw)
	}
	if groups, _ := res.list()[0]["groups"].([]any); len(groups) != 1 || groups[0] != gid {
		t.Fatalf("member's groups %v", res.list()[0]["groups"])
	}
	res = e.do("GET", base+"?limit=2&page=2", nil).want(t, http.StatusOK)
	if len(res.list()) != 1 || res.meta()["hasMore"] != false {
		t.Fatalf("members page 2 %s", res.Raw)
	}
	if res := e.do("GET", base+"?search=b@example", nil).want(t, http.StatusOK); res.meta()["total"] != float64(1) {
		t.Fatalf("members search %s", res.Raw)
	}
	e.do("GET", base+"?limit=0", nil).wantError(t, http.StatusUnprocessableEntity, "limit")
	e.do("GET", "/api/v1/customers?group_id="+gid, nil).want(t, http.StatusOK)

	// Remove one member.
	e.do("DELETE", base+"/"+str(a["id"]), nil).want(t, http.StatusNoContent)
	e.do("DELETE", base+"/"+str(a["id"]), nil).wantError(t, http.StatusNotFound, "customer_id")
	e.do("DELETE", base+"/"+str(d["id"]), nil).wantError(t, http.StatusNotFound)
	if got := e.do("GET", "/api/v1/customers/"+str(a["id"]), nil).want(t, http.StatusOK).data(); len(got["groups"].([]any)) != 0 {
		t.Fatalf("removed member still in groups: %v", got["groups"])
	}
	if res := e.do("GET", base, nil).want(t, http.StatusOK); res.meta()["total"] != float64(2) {
		t.Fatalf("after removal: %v", res.meta())
	}

	// Deleting the group keeps its customers; only memberships go.
	e.do("DELETE", "/api/v1/customer-groups/"+gid, nil).want(t, http.StatusNoContent)
	for _, cu := range []map[string]any{b, c} {
		got := e.do("GET", "/api/v1/customers/"+str(cu["id"]), nil).want(t, http.StatusOK).data()
		if len(got["groups"].([]any)) != 0 {
			t.Fatalf("deleted group still listed: %v", got["groups"])
		}
	}
	var rows int
	if err := e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM group_members").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("%d memberships left after group delete", rows)
	}
	e.do("GET", base, nil).wantError(t, http.StatusNotFound)
	e.do("POST", base, map[string]any{"customer_ids": []any{b["id"]}}).wantError(t, http.StatusNotFound)
	e.do("DELETE", base+"/"+str(b["id"]), nil).wantError(t, http.StatusNotFound)
}

func TestGroupMembershipRecordsLocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.createGroup("Walk-ins")
	loc := e.createLocation(map[string]any{"name": "Mall"})
	a := e.createCustomer(map[string]any{"email": "a@example.com"})
	b := e.createCustomer(map[string]any{"email": "b@example.com"})
	e.addMembers(str(g["id"]), map[string]any{"customer_ids": []any{a["id"]}, "location_id": loc["id"]})
	e.addMembers(str(g["id"]), map[string]any{"customer_ids": []any{b["id"]}})
	// Re-adding keeps the first record.
	e.addMembers(str(g["id"]), map[string]any{"customer_ids": []any{a["id"], b["id"]}, "location_id": loc["id"]})
	got := map[string]string{}
	rows, err := e.store.Pool().Query(context.Background(), "SELECT customer_id, coalesce(location_id, 'null'), added IS NOT NULL FROM group_members")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, l string
		var added bool
		if err := rows.Scan(&id, &l, &added); err != nil || !added {
			t.Fatalf("scan %v added %v", err, added)
		}
		got[id] = l
	}
	if got[str(a["id"])] != loc["id"] || got[str(b["id"])] != "null" {
		t.Fatalf("membership locations %v", got)
	}
}

func TestGroupMembershipConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.createGroup("Busy")
	// Enough customers that overlapping inserts in different orders would
	// deadlock if the store did not insert in a fixed order.
	const customers = 200
	var ids []any
	for i := range customers {
		c := &customer.Customer{FirstName: "C", LastName: fmt.Sprint(i), Email: fmt.Sprintf("c%d@example.com", i)}
		if err := e.store.CreateCustomer(context.Background(), e.org, c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	const n = 32
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each request names the customers in its own order.
			mine := slices.Clone(ids)
			for j := range mine {
				k := (j + i) % len(mine)
				mine[j], mine[k] = mine[k], mine[j]
			}
			results[i] = e.do("POST", "/api/v1/customer-groups/"+str(g["id"])+"/customers", map[string]any{"customer_ids": mine})
		}()
	}
	wg.Wait()
	added := 0
	for _, res := range results {
		res.want(t, http.StatusOK)
		added += int(res.data()["added"].(float64))
		if a, al := res.data()["added"].(float64), res.data()["already_members"].(float64); a+al != customers {
			t.Fatalf("added %v + already %v != %d", a, al, customers)
		}
	}
	if added != customers {
		t.Fatalf("added %d in total, want %d", added, customers)
	}
	var rows, distinct int
	if err := e.store.Pool().QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT customer_id) FROM group_members WHERE group_id = $1", g["id"]).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != customers || distinct != customers {
		t.Fatalf("%d membership rows (%d distinct), want %d", rows, distinct, customers)
	}
}

func TestGroupIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.createGroup("Mine")
	gid := str(g["id"])
	mine := e.createCustomer(map[string]any{"email": "mine@example.com"})
	e.addMembers(gid, map[string]any{"customer_ids": []any{mine["id"]}})

	_, keyB := e.newOrg("Intruder", "")
	theirs := e.doKey(keyB, "POST", "/api/v1/customers", map[string]any{"first_name": "T", "last_name": "B", "email": "theirs@example.com"}).
		want(t, http.StatusCreated).data()
	gB := e.doKey(keyB, "POST", "/api/v1/customer-groups", map[string]any{"name": "Theirs"}).want(t, http.StatusCreated).data()

	base := "/api/v1/customer-groups/" + gid
	e.doKey(keyB, "GET", base, nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "PUT", base, map[string]any{"name": "Hijacked"}).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "DELETE", base, nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "GET", base+"/customers", nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "POST", base+"/customers", map[string]any{"customer_ids": []any{theirs["id"]}}).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "DELETE", base+"/customers/"+str(mine["id"]), nil).wantError(t, http.StatusNotFound)
	// Org A's customer is unknown to org B's group.
	e.doKey(keyB, "POST", "/api/v1/customer-groups/"+str(gB["id"])+"/customers", map[string]any{"customer_ids": []any{mine["id"]}}).
		wantError(t, http.StatusUnprocessableEntity, "customer_ids")
	// And org B's customer to org A's group, with A's key.
	e.do("POST", base+"/customers", map[string]any{"customer_ids": []any{theirs["id"]}}).wantError(t, http.StatusUnprocessableEntity, "customer_ids")
	if res := e.doKey(keyB, "GET", "/api/v1/customer-groups", nil).want(t, http.StatusOK); res.meta()["total"] != float64(1) {
		t.Fatalf("org B sees %v groups", res.meta()["total"])
	}
	if res := e.doKey(keyB, "GET", "/api/v1/customers?group_id="+gid, nil).want(t, http.StatusOK); res.meta()["total"] != float64(0) {
		t.Fatalf("org B lists org A's members: %s", res.Raw)
	}
	// Nothing of A changed.
	got := e.do("GET", base, nil).want(t, http.StatusOK).data()
	if got["name"] != "Mine" || got["customer_count"] != float64(1) {
		t.Fatalf("org A's group changed: %v", got)
	}
}

func manyIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("cust_%d", i)
	}
	return ids
}
