package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// erpCustomer creates an ERP customer (USD, net_30, limit 10,000) and returns its id.
func (e *env) erpCustomer(name, email string) string {
	e.t.Helper()
	c := e.do("POST", "/api/customers", map[string]any{
		"name": name, "email": email, "currency": "USD", "payment_terms": "net_30", "credit_limit": 10000,
		"shipping_address": map[string]any{"line1": "456 Customer Blvd", "city": "Customer City", "state": "NY", "postal_code": "10001", "country": "US"},
	}).want(e.t, http.StatusCreated).data()
	return str(c["id"])
}

// order posts an order and returns it.
func (e *env) order(fields map[string]any) map[string]any {
	e.t.Helper()
	return e.do("POST", "/api/v1/orders", fields).want(e.t, http.StatusCreated).data()
}

// totals reads the ERP figures orders maintain.
func (e *env) totals(customerID string) (ltv, orders, balance float64) {
	e.t.Helper()
	c := e.do("GET", "/api/customers/"+customerID, nil).want(e.t, http.StatusOK).data()
	return c["lifetime_value"].(float64), c["total_orders"].(float64), c["current_balance"].(float64)
}

func (e *env) wantTotals(customerID string, ltv, orders, balance float64) {
	e.t.Helper()
	gl, go_, gb := e.totals(customerID)
	if gl != ltv || go_ != orders || gb != balance {
		e.t.Fatalf("lifetime_value, total_orders, current_balance = %v, %v, %v; want %v, %v, %v", gl, go_, gb, ltv, orders, balance)
	}
}

var now = time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC)

func TestOrderLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	cust := e.erpCustomer("Customer XYZ", "orders@customerxyz.com")
	e.wantTotals(cust, 0, 0, 0)

	o1 := e.order(map[string]any{"customer_id": cust, "order_number": "SO-2024-001", "status": "delivered",
		"order_date": "2024-01-15", "ship_date": "2024-01-16T00:00:00Z", "delivery_date": "2024-01-18",
		"items": []any{
			map[string]any{"product_id": "prod_123", "product_name": "Smart Widget", "quantity": 2, "unit_price": 99.99},
			map[string]any{"product_id": "prod_456", "product_name": "Cable", "quantity": 1, "unit_price": 99.97},
		}})
	for field, want := range map[string]any{
		"order_number": "SO-2024-001", "customer_id": cust, "status": "delivered", "order_date": "2024-01-15T00:00:00Z",
		"ship_date": "2024-01-16T00:00:00Z", "delivery_date": "2024-01-18T00:00:00Z", "paid_date": nil,
		"currency": "USD", "total_amount": 299.95, "items_count": 3.0, "location_id": nil,
	} {
		if o1[field] != want {
			t.Errorf("%s = %v, want %v", field, o1[field], want)
		}
	}
	if !strings.HasPrefix(str(o1["id"]), "ord_") || len(o1["items"].([]any)) != 2 {
		t.Errorf("id/items: %v", o1)
	}
	if sa, _ := o1["shipping_address"].(map[string]any); sa["line1"] != "456 Customer Blvd" {
		t.Errorf("shipping address not defaulted from the customer: %v", o1["shipping_address"])
	}
	e.wantTotals(cust, 299.95, 1, 299.95)
	// customer_since moves back to the first order.
	if c := e.do("GET", "/api/customers/"+cust, nil).data(); c["customer_since"] != "2024-01-15T00:00:00Z" {
		t.Errorf("customer_since = %v", c["customer_since"])
	}

	// A paid order adds to lifetime value, not to the balance; order_date defaults to now.
	o2 := e.order(map[string]any{"customer_id": cust, "order_number": "SO-2024-002", "total_amount": 100.5, "paid_date": now.Format(time.RFC3339)})
	if o2["order_date"] != "2024-06-30T12:00:00Z" || o2["status"] != "pending" || o2["items_count"] != 0.0 || len(o2["items"].([]any)) != 0 {
		t.Errorf("defaults: %v", o2)
	}
	e.wantTotals(cust, 400.45, 2, 299.95)

	got := e.do("GET", "/api/v1/orders/"+str(o1["id"]), nil).want(t, http.StatusOK).data()
	item := got["items"].([]any)[0].(map[string]any)
	if item["product_id"] != "prod_123" || item["product_name"] != "Smart Widget" || item["quantity"] != 2.0 || item["unit_price"] != 99.99 {
		t.Errorf("item = %v", item)
	}

	// Paying order 1 clears the balance; cancelling order 2 removes it from the totals.
	res := e.do("PATCH", "/api/v1/orders/"+str(o1["id"]), map[string]any{"paid_date": "2024-02-01"}).want(t, http.StatusOK).data()
	if res["paid_date"] != "2024-02-01T00:00:00Z" || res["status"] != "delivered" || res["ship_date"] != "2024-01-16T00:00:00Z" || len(res["items"].([]any)) != 2 {
		t.Errorf("patched order: %v", res)
	}
	e.wantTotals(cust, 400.45, 2, 0)
	e.do("PATCH", "/api/v1/orders/"+str(o2["id"]), map[string]any{"status": "cancelled"}).want(t, http.StatusOK)
	e.wantTotals(cust, 299.95, 1, 0)
	// Unpaying and returning work the same way.
	e.do("PATCH", "/api/v1/orders/"+str(o1["id"]), map[string]any{"paid_date": nil}).want(t, http.StatusOK)
	e.wantTotals(cust, 299.95, 1, 299.95)
	e.do("PATCH", "/api/v1/orders/"+str(o1["id"]), map[string]any{"status": "returned"}).want(t, http.StatusOK)
	e.wantTotals(cust, 0, 0, 0)

	// Only cancelled and returned orders left: still history, so no delete.
	e.do("DELETE", "/api/v1/customers/"+cust, nil).wantError(t, http.StatusConflict)
	e.do("PATCH", "/api/v1/orders/"+str(o1["id"]), map[string]any{"status": "delivered"}).want(t, http.StatusOK)
	e.do("DELETE", "/api/v1/customers/"+cust, nil).wantError(t, http.StatusConflict)
	e.do("GET", "/api/customers/"+cust, nil).want(t, http.StatusOK)
}

func TestOrderNumberUniquePerOrg(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	a := e.erpCustomer("A Co", "a@example.com")
	b := e.erpCustomer("B Co", "b@example.com")
	first := e.order(map[string]any{"customer_id": a, "order_number": "SO-1", "total_amount": 10})
	res := e.do("POST", "/api/v1/orders", map[string]any{"customer_id": b, "order_number": "SO-1", "total_amount": 20}).
		wantError(t, http.StatusConflict, "order_number", "order_id")
	if res.details()["order_id"] != first["id"] {
		t.Fatalf("conflict names %v", res.details())
	}
	e.wantTotals(b, 0, 0, 0)
	// Another organization has its own numbers.
	_, keyB := e.newOrg("Other", "")
	other := e.doKey(keyB, "POST", "/api/customers", map[string]any{"name": "Z", "email": "z@example.com"}).want(t, http.StatusCreated).data()
	e.doKey(keyB, "POST", "/api/v1/orders", map[string]any{"customer_id": other["id"], "order_number": "SO-1", "total_amount": 5}).want(t, http.StatusCreated)
}

func TestOrderValidation(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	cust := e.erpCustomer("A Co", "a@example.com")
	item := func(fields map[string]any) []any {
		it := map[string]any{"product_id": "p1", "product_name": "P", "quantity": 1, "unit_price": 1}
		for k, v := range fields {
			it[k] = v
		}
		return []any{it}
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"no customer", map[string]any{"order_number": "X", "total_amount": 1}, []string{"customer_id"}},
		{"unknown customer", map[string]any{"customer_id": "cust_missing", "order_number": "X", "total_amount": 1}, []string{"customer_id"}},
		{"no number", map[string]any{"customer_id": cust, "total_amount": 1}, []string{"order_number"}},
		{"no total", map[string]any{"customer_id": cust, "order_number": "X"}, []string{"total_amount"}},
		{"negative total", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": -1}, []string{"total_amount"}},
		{"huge total", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1e13}, []string{"total_amount"}},
		{"status", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "status": "lost"}, []string{"status"}},
		{"order date", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "order_date": "15/01/2024"}, []string{"order_date"}},
		{"future order", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "order_date": "2024-07-05"}, []string{"order_date"}},
		{"ship before order", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "order_date": "2024-01-10", "ship_date": "2024-01-09"}, []string{"ship_date"}},
		{"delivered before shipped", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "order_date": "2024-01-10", "ship_date": "2024-01-12", "delivery_date": "2024-01-11"}, []string{"delivery_date"}},
		{"paid before order", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "order_date": "2024-01-10", "paid_date": "2024-01-01"}, []string{"paid_date"}},
		{"currency", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "currency": "EUR"}, []string{"currency"}},
		{"bad currency", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "currency": "EURO"}, []string{"currency"}},
		{"location", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "location_id": "loc_missing"}, []string{"location_id"}},
		{"item product", map[string]any{"customer_id": cust, "order_number": "X", "items": item(map[string]any{"product_id": ""})}, []string{"items[0].product_id"}},
		{"item quantity", map[string]any{"customer_id": cust, "order_number": "X", "items": item(map[string]any{"quantity": 0})}, []string{"items[0].quantity"}},
		{"item price", map[string]any{"customer_id": cust, "order_number": "X", "items": item(map[string]any{"unit_price": -5})}, []string{"items[0].unit_price"}},
		{"address", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": 1, "shipping_address": map[string]any{"country": "Narnia"}}, []string{"shipping_address.country"}},
		{"wrong type", map[string]any{"customer_id": cust, "order_number": "X", "total_amount": "ten"}, []string{"total_amount"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", "/api/v1/orders", tc.body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
		})
	}
	e.wantTotals(cust, 0, 0, 0)

	o := e.order(map[string]any{"customer_id": cust, "order_number": "OK", "total_amount": 1, "order_date": "2024-01-10"})
	path := "/api/v1/orders/" + str(o["id"])
	for body, field := range map[string]string{
		`{"total_amount": 5}`:                   "total_amount",
		`{"customer_id": "cust_x"}`:             "customer_id",
		`{"items": []}`:                         "items",
		`{"status": "lost"}`:                    "status",
		`{"status": null}`:                      "status",
		`{"paid_date": "yesterday"}`:            "paid_date",
		`{"ship_date": "2024-01-01"}`:           "ship_date",
		`{"paid_date": "2023-12-31T23:00:00Z"}`: "paid_date",
	} {
		e.do("PATCH", path, body).wantError(t, http.StatusUnprocessableEntity, field)
	}
	e.do("PATCH", "/api/v1/orders/ord_missing", map[string]any{"status": "shipped"}).wantError(t, http.StatusNotFound)
	e.do("GET", "/api/v1/orders/ord_missing", nil).wantError(t, http.StatusNotFound)
}

func TestCustomerOrdersList(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	cust := e.erpCustomer("Customer XYZ", "orders@customerxyz.com")
	other := e.erpCustomer("Other", "other@example.com")
	statuses := []string{"pending", "processing", "shipped", "delivered", "cancelled"}
	for i := range 25 {
		e.order(map[string]any{"customer_id": cust, "order_number": fmt.Sprintf("SO-%03d", i), "status": statuses[i%5],
			"order_date": time.Date(2024, 1, 1+i, 10, 0, 0, 0, time.UTC).Format(time.RFC3339), "total_amount": 10})
	}
	e.order(map[string]any{"customer_id": other, "order_number": "OTHER-1", "total_amount": 10})

	res := e.do("GET", "/api/customers/"+cust+"/orders", nil).want(t, http.StatusOK)
	if m := res.meta(); m["total"] != 25.0 || m["page"] != 1.0 || m["limit"] != 20.0 || m["hasMore"] != true {
		t.Fatalf("meta %v", m)
	}
	first := res.list()[0]
	if first["order_number"] != "SO-024" || first["order_date"] != "2024-01-25T10:00:00Z" {
		t.Fatalf("newest first: %v", first)
	}
	want := []string{"id", "order_number", "status", "order_date", "ship_date", "delivery_date", "total_amount", "items_count", "shipping_address"}
	if len(first) != len(want) {
		t.Fatalf("order shape %v, want the seed's %v", first, want)
	}
	for _, f := range want {
		if _, ok := first[f]; !ok {
			t.Fatalf("order lacks %q: %v", f, first)
		}
	}
	for q, n := range map[string]float64{
		"status=delivered":                              5,
		"status=pending,cancelled":                      10,
		"date_from=2024-01-10":                          16,
		"date_to=2024-01-10":                            10,
		"date_from=2024-01-05&date_to=2024-01-06":       2,
		"date_from=2024-01-05T10:00:00Z&status=shipped": 4,
		"page=2&limit=10":                               25,
	} {
		if got := e.do("GET", "/api/customers/"+cust+"/orders?"+q, nil).want(t, http.StatusOK).meta()["total"]; got != n {
			t.Errorf("%s: total %v, want %v", q, got, n)
		}
	}
	res = e.do("GET", "/api/v1/customers/"+cust+"/orders?page=3&limit=10", nil).want(t, http.StatusOK)
	if len(res.list()) != 5 || res.meta()["hasMore"] != false {
		t.Fatalf("v1 page 3: %d, %v", len(res.list()), res.meta())
	}
	for _, q := range []string{"status=lost", "date_from=soon", "date_to=2024-13-01", "page=0", "limit=500"} {
		e.do("GET", "/api/customers/"+cust+"/orders?"+q, nil).wantError(t, http.StatusUnprocessableEntity, strings.SplitN(q, "=", 2)[0])
	}
	e.do("GET", "/api/customers/cust_missing/orders", nil).wantError(t, http.StatusNotFound)
}

func TestOrderIsolation(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	cust := e.erpCustomer("A Co", "a@example.com")
	o := e.order(map[string]any{"customer_id": cust, "order_number": "SO-1", "total_amount": 10})
	_, keyB := e.newOrg("Other", "")
	e.doKey(keyB, "GET", "/api/v1/orders/"+str(o["id"]), nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "PATCH", "/api/v1/orders/"+str(o["id"]), map[string]any{"status": "cancelled"}).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "GET", "/api/customers/"+cust+"/orders", nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "GET", "/api/v1/customers/"+cust+"/orders", nil).wantError(t, http.StatusNotFound)
	// Org A's customer id means nothing to org B.
	e.doKey(keyB, "POST", "/api/v1/orders", map[string]any{"customer_id": cust, "order_number": "SO-2", "total_amount": 10}).
		wantError(t, http.StatusUnprocessableEntity, "customer_id")
	e.wantTotals(cust, 10, 1, 10)
	if got := e.do("GET", "/api/v1/orders/"+str(o["id"]), nil).want(t, http.StatusOK).data(); got["status"] != "pending" {
		t.Fatalf("org A's order changed: %v", got)
	}
}

// Concurrent order writes for one customer serialize on the customer row,
// so the recomputed totals are exact.
func TestConcurrentOrdersKeepTotalsExact(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	cust := e.erpCustomer("A Co", "a@example.com")
	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range 20 {
		wg.Go(func() {
			ids[i] = str(e.order(map[string]any{"customer_id": cust, "order_number": fmt.Sprint("SO-", i), "total_amount": 12.5})["id"])
		})
	}
	wg.Wait()
	e.wantTotals(cust, 250, 20, 250)
	for i, id := range ids {
		wg.Go(func() {
			body := map[string]any{"paid_date": "2024-06-30"}
			if i%4 == 0 {
				body = map[string]any{"status": "cancelled"}
			}
			e.do("PATCH", "/api/v1/orders/"+id, body).want(t, http.StatusOK)
		})
	}
	wg.Wait()
	e.wantTotals(cust, 187.5, 15, 0)
}
