package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// orderMeta returns how an order's customer identifiers were resolved.
func orderCustomerMeta(r response) map[string]any {
	m, _ := r.meta()["customer"].(map[string]any)
	return m
}

func TestOrderByIdentifiersCreatesAndMatches(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	ctx := context.Background()
	if _, err := e.store.Pool().Exec(ctx, `INSERT INTO locations (organization_id, id, name, default_region, default_tags)
		VALUES ($1, 'loc_riyadh', 'Riyadh', 'SA', '{riyadh}')`, e.org); err != nil {
		t.Fatal(err)
	}
	// No customer yet: the order creates one, at the order's location.
	res := e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-1", "total_amount": 100, "location_id": "loc_riyadh",
		"customer": map[string]any{"email": "Nora@Example.com", "name": "Nora Haddad", "phone": "050 123 4567"}}).want(t, http.StatusCreated)
	cust := str(res.data()["customer_id"])
	if m := orderCustomerMeta(res); m["action"] != "created" || m["customer_id"] != cust || m["matched_on"] != nil || !strings.HasPrefix(cust, "cust_") {
		t.Fatalf("meta %s", res.Raw)
	}
	c := e.do("GET", "/api/v1/customers/"+cust, nil).want(t, http.StatusOK).data()
	if c["email"] != "nora@example.com" || c["phone"] != "+966501234567" || c["first_name"] != "Nora" || c["source"] != "order" {
		t.Fatalf("created customer %v", c)
	}
	if l := fmt.Sprint(c["locations"]); !strings.Contains(l, "loc_riyadh") || fmt.Sprint(c["tags"]) != "[riyadh]" {
		t.Fatalf("location visit/tags: %v %v", c["locations"], c["tags"])
	}
	e.wantTotals(cust, 100, 1, 100)

	// The same person by phone in another format, then by email.
	res = e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-2", "total_amount": 50, "paid_date": "2024-06-30",
		"customer": map[string]any{"phone": "+966 50 123 4567"}}).want(t, http.StatusCreated)
	if res.data()["customer_id"] != cust || orderCustomerMeta(res)["matched_on"] != "phone" || orderCustomerMeta(res)["action"] != "unchanged" {
		t.Fatalf("by phone: %s", res.Raw)
	}
	res = e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-3", "total_amount": 25,
		"customer": map[string]any{"email": " NORA@example.com", "company_name": "Haddad Co"}}).want(t, http.StatusCreated)
	if res.data()["customer_id"] != cust || orderCustomerMeta(res)["matched_on"] != "email" || orderCustomerMeta(res)["action"] != "updated" {
		t.Fatalf("by email: %s", res.Raw)
	}
	e.wantTotals(cust, 175, 3, 125)

	// An existing ERP customer, by email.
	erp := e.erpCustomer("Customer XYZ", "orders@customerxyz.com")
	res = e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-4", "total_amount": 10,
		"customer": map[string]any{"email": "orders@customerxyz.com"}}).want(t, http.StatusCreated)
	if res.data()["customer_id"] != erp || res.data()["currency"] != "USD" {
		t.Fatalf("ERP customer: %s", res.Raw)
	}
	e.wantTotals(erp, 10, 1, 10)

	// External ids are per source, as in the upsert.
	res = e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-5", "total_amount": 5,
		"customer": map[string]any{"external_id": "42", "source": "Shopify", "first_name": "Sam"}}).want(t, http.StatusCreated)
	sam := str(res.data()["customer_id"])
	res = e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-6", "total_amount": 5,
		"customer": map[string]any{"external_id": "42", "source": "shopify", "email": "sam@example.com"}}).want(t, http.StatusCreated)
	if res.data()["customer_id"] != sam || orderCustomerMeta(res)["matched_on"] != "external_id" {
		t.Fatalf("by external id: %s", res.Raw)
	}
	e.wantTotals(sam, 10, 2, 10)
	// customer_id keeps working beside identifiers.
	e.order(map[string]any{"customer_id": sam, "order_number": "SO-7", "total_amount": 5})
	e.wantTotals(sam, 15, 3, 15)
	var customers int
	_ = e.store.Pool().QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&customers)
	if customers != 3 {
		t.Fatalf("%d customers, want 3", customers)
	}
	hist := e.do("GET", "/api/v1/customers/"+cust+"/history", nil).want(t, http.StatusOK).list()
	if last := hist[len(hist)-1]; last["type"] != "customer.created" || last["source"] != "order" || last["location_id"] != "loc_riyadh" {
		t.Fatalf("history %v", hist)
	}
}

func TestOrderByIdentifiersValidation(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	cust := e.erpCustomer("A Co", "a@example.com")
	for _, tc := range []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"no identifiers", map[string]any{"customer": map[string]any{"name": "Only A Name"}}, []string{"customer.email", "customer.phone"}},
		{"bad email", map[string]any{"customer": map[string]any{"email": "nope"}}, []string{"customer.email"}},
		{"bad phone", map[string]any{"customer": map[string]any{"phone": "12"}}, []string{"customer.phone"}},
		{"both", map[string]any{"customer_id": cust, "customer": map[string]any{"email": "a@example.com"}}, []string{"customer"}},
		{"own location", map[string]any{"customer": map[string]any{"email": "b@example.com", "location_id": "loc_x"}}, []string{"customer.location_id"}},
		{"unknown group", map[string]any{"customer": map[string]any{"email": "b@example.com", "group_ids": []string{"grp_x"}}}, []string{"customer.group_ids"}},
		{"location", map[string]any{"location_id": "loc_missing", "customer": map[string]any{"email": "b@example.com"}}, []string{"location_id"}},
		{"wrong type", map[string]any{"customer": map[string]any{"email": 5}}, []string{"customer.email"}},
		{"not an object", map[string]any{"customer": "b@example.com"}, []string{"customer"}},
		{"order fields too", map[string]any{"order_number": "", "customer": map[string]any{"email": "b@example.com"}}, []string{"order_number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"order_number": "X", "total_amount": 1}
			for k, v := range tc.body {
				body[k] = v
			}
			e.do("POST", "/api/v1/orders", body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
		})
	}
	// A matched customer in another currency refuses the order; nothing is kept.
	e.do("POST", "/api/v1/orders", map[string]any{"order_number": "X", "total_amount": 1, "currency": "EUR",
		"customer": map[string]any{"email": "a@example.com"}}).wantError(t, http.StatusUnprocessableEntity, "currency")
	// A taken order number is a conflict, and the customer it would have made is not kept.
	e.order(map[string]any{"customer_id": cust, "order_number": "SO-1", "total_amount": 1})
	e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-1", "total_amount": 1,
		"customer": map[string]any{"email": "new@example.com"}}).wantError(t, http.StatusConflict, "order_number")
	var customers int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	if customers != 1 {
		t.Fatalf("%d customers, want 1", customers)
	}
	e.do("PATCH", "/api/v1/orders/ord_x", map[string]any{"customer": map[string]any{"email": "a@example.com"}}).
		wantError(t, http.StatusUnprocessableEntity, "customer")
}

// Identifiers match within the caller's organization only.
func TestOrderByIdentifiersIsolation(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	a := e.erpCustomer("A Co", "shared@example.com")
	_, keyB := e.newOrg("Other", "")
	res := e.doKey(keyB, "POST", "/api/v1/orders", map[string]any{"order_number": "SO-1", "total_amount": 10,
		"customer": map[string]any{"email": "shared@example.com"}}).want(t, http.StatusCreated)
	if res.data()["customer_id"] == a || orderCustomerMeta(res)["action"] != "created" {
		t.Fatalf("org B matched org A's customer: %s", res.Raw)
	}
	e.wantTotals(a, 0, 0, 0)
	b := e.doKey(keyB, "GET", "/api/customers/"+str(res.data()["customer_id"]), nil).want(t, http.StatusOK).data()
	if b["total_orders"] != 1.0 || b["lifetime_value"] != 10.0 {
		t.Fatalf("org B's customer %v", b)
	}
}

// Simultaneous orders for one new identity create exactly one customer,
// and its totals count every order.
func TestOrderByIdentifiersConcurrentNewCustomer(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	const n = 24
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Go(func() {
			who := map[string]any{"email": "rush@example.com"}
			switch i % 3 {
			case 1:
				who = map[string]any{"email": "RUSH@example.com", "phone": "+1 415 555 0160"}
			case 2:
				who = map[string]any{"email": " rush@EXAMPLE.com", "name": "Rush Buyer"}
			}
			results[i] = e.do("POST", "/api/v1/orders", map[string]any{"order_number": fmt.Sprint("RUSH-", i), "total_amount": 10, "customer": who})
		})
	}
	wg.Wait()
	ids := map[any]int{}
	actions := map[any]int{}
	for _, r := range results {
		r.want(t, http.StatusCreated)
		ids[r.data()["customer_id"]]++
		actions[orderCustomerMeta(r)["action"]]++
	}
	if len(ids) != 1 || actions["created"] != 1 {
		t.Fatalf("customers %v actions %v", ids, actions)
	}
	var customers int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	if customers != 1 {
		t.Fatalf("%d customers, want 1", customers)
	}
	for id := range ids {
		e.wantTotals(str(id), 10*n, n, 10*n)
	}
}
