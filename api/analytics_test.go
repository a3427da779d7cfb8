package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// plantHistory gives a customer (net_30, credit limit 8,000) the order
// history the analytics expectations below are computed by hand from.
// The clock is 2024-06-30T12:00Z.
//
//	SO-1 2023-05-10 delivered  700 paid 05-30 (20 d)  widget 10×50, gadget 2×100
//	SO-2 2024-01-15 delivered 1000 paid 02-24 (40 d)  widget 20×50
//	SO-3 2024-04-10 shipped    700 unpaid (due 05-10, 51 d past due)  gadget 5×100, sprocket 100×2
//	SO-4 2024-06-10 processing 160 unpaid (lines 150 + shipping)      sprocket 50×2, widget 1×50
//	SO-5 2024-06-20 cancelled 10000 (excluded)                        gadget 100×100
//	SO-6 2024-05-05 returned  50000 (excluded)                        widget 1000×50
//	SO-7 2024-06-25 delivered  100 paid 06-28 (3 d)   gadget 1×100
func plantHistory(e *env) string {
	e.t.Helper()
	c := e.do("POST", "/api/customers", map[string]any{"name": "Customer XYZ", "email": "orders@customerxyz.com",
		"payment_terms": "net_30", "currency": "USD", "credit_limit": 8000}).want(e.t, http.StatusCreated).data()
	id := str(c["id"])
	line := func(product string, qty int, price float64) map[string]any {
		return map[string]any{"product_id": "prod_" + product, "product_name": product, "quantity": qty, "unit_price": price}
	}
	for _, o := range []map[string]any{
		{"order_number": "SO-1", "order_date": "2023-05-10", "status": "delivered", "paid_date": "2023-05-30",
			"items": []any{line("widget", 10, 50), line("gadget", 2, 100)}},
		{"order_number": "SO-2", "order_date": "2024-01-15", "status": "delivered", "paid_date": "2024-02-24",
			"items": []any{line("widget", 20, 50)}},
		{"order_number": "SO-3", "order_date": "2024-04-10", "status": "shipped",
			"items": []any{line("gadget", 5, 100), line("sprocket", 100, 2)}},
		{"order_number": "SO-4", "order_date": "2024-06-10", "status": "processing", "total_amount": 160,
			"items": []any{line("sprocket", 50, 2), line("widget", 1, 50)}},
		{"order_number": "SO-5", "order_date": "2024-06-20", "status": "cancelled",
			"items": []any{line("gadget", 100, 100)}},
		{"order_number": "SO-6", "order_date": "2024-05-05", "status": "returned",
			"items": []any{line("widget", 1000, 50)}},
		{"order_number": "SO-7", "order_date": "2024-06-25", "status": "delivered", "paid_date": "2024-06-28",
			"items": []any{line("gadget", 1, 100)}},
	} {
		o["customer_id"] = id
		e.order(o)
	}
	return id
}

// jsonEqual compares a decoded JSON value with a literal.
func jsonEqual(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("%s =\n %s\nwant\n %s", what, g, want)
	}
}

func TestAnalytics(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	id := plantHistory(e)
	e.wantTotals(id, 2660, 5, 860)

	a := e.do("GET", "/api/customers/"+id+"/analytics", nil).want(t, http.StatusOK).data()
	jsonEqual(t, "customer", a["customer"], `{"id": "`+id+`", "name": "Customer XYZ"}`)
	jsonEqual(t, "overview", a["overview"], `{"lifetime_value": 2660, "total_orders": 5, "avg_order_value": 532,
		"last_order_date": "2024-06-25T00:00:00Z", "customer_since": "2023-05-10T00:00:00Z", "days_since_last_order": 5}`)
	jsonEqual(t, "financial_summary", a["financial_summary"], `{"total_revenue": 2660, "current_balance": 860,
		"credit_limit": 8000, "credit_utilization": 10.75, "avg_payment_days": 21}`)
	jsonEqual(t, "order_history", a["order_history"], `[
		{"month": "2024-06", "orders": 2, "revenue": 260, "avg_order_value": 130},
		{"month": "2024-04", "orders": 1, "revenue": 700, "avg_order_value": 700},
		{"month": "2024-01", "orders": 1, "revenue": 1000, "avg_order_value": 1000},
		{"month": "2023-05", "orders": 1, "revenue": 700, "avg_order_value": 700}]`)
	jsonEqual(t, "top_products", a["top_products"], `[
		{"product_id": "prod_widget", "product_name": "widget", "quantity_ordered": 31, "revenue": 1550},
		{"product_id": "prod_gadget", "product_name": "gadget", "quantity_ordered": 8, "revenue": 800},
		{"product_id": "prod_sprocket", "product_name": "sprocket", "quantity_ordered": 150, "revenue": 300}]`)
	// Regular: ordered within 180 days, lifetime value under 10,000, first order over 90 days ago.
	// Medium risk: SO-3 is past due (51 days, not over 60); utilization is low.
	if a["customer_segment"] != "regular" || a["risk_score"] != "medium" {
		t.Errorf("segment %v, risk %v; want regular, medium", a["customer_segment"], a["risk_score"])
	}
	if len(a) != 7 {
		t.Errorf("analytics has %d blocks, want 7: %v", len(a), a)
	}

	// The period filters revenue, payment days, history and products; the overview stays all-time.
	a = e.do("GET", "/api/customers/"+id+"/analytics?period=30d", nil).want(t, http.StatusOK).data()
	jsonEqual(t, "30d overview", a["overview"].(map[string]any)["lifetime_value"], `2660`)
	jsonEqual(t, "30d total_revenue", a["financial_summary"].(map[string]any)["total_revenue"], `260`)
	jsonEqual(t, "30d avg_payment_days", a["financial_summary"].(map[string]any)["avg_payment_days"], `3`)
	jsonEqual(t, "30d order_history", a["order_history"], `[{"month": "2024-06", "orders": 2, "revenue": 260, "avg_order_value": 130}]`)
	jsonEqual(t, "30d top_products", a["top_products"], `[
		{"product_id": "prod_gadget", "product_name": "gadget", "quantity_ordered": 1, "revenue": 100},
		{"product_id": "prod_sprocket", "product_name": "sprocket", "quantity_ordered": 50, "revenue": 100},
		{"product_id": "prod_widget", "product_name": "widget", "quantity_ordered": 1, "revenue": 50}]`)

	a = e.do("GET", "/api/customers/"+id+"/analytics?period=90d", nil).want(t, http.StatusOK).data()
	jsonEqual(t, "90d total_revenue", a["financial_summary"].(map[string]any)["total_revenue"], `960`)
	jsonEqual(t, "90d order_history", a["order_history"], `[
		{"month": "2024-06", "orders": 2, "revenue": 260, "avg_order_value": 130},
		{"month": "2024-04", "orders": 1, "revenue": 700, "avg_order_value": 700}]`)
	jsonEqual(t, "90d top_products", a["top_products"], `[
		{"product_id": "prod_gadget", "product_name": "gadget", "quantity_ordered": 6, "revenue": 600},
		{"product_id": "prod_sprocket", "product_name": "sprocket", "quantity_ordered": 150, "revenue": 300},
		{"product_id": "prod_widget", "product_name": "widget", "quantity_ordered": 1, "revenue": 50}]`)

	a = e.do("GET", "/api/v1/customers/"+id+"/analytics?period=1y", nil).want(t, http.StatusOK).data()
	jsonEqual(t, "1y financial_summary", a["financial_summary"], `{"total_revenue": 1960, "current_balance": 860,
		"credit_limit": 8000, "credit_utilization": 10.75, "avg_payment_days": 21.5}`)
	if n := len(a["order_history"].([]any)); n != 3 {
		t.Errorf("1y: %d months, want 3", n)
	}
	jsonEqual(t, "1y top product", a["top_products"].([]any)[0], `{"product_id": "prod_widget", "product_name": "widget", "quantity_ordered": 21, "revenue": 1050}`)

	// Paying SO-3 clears the overdue order: low risk.
	var so3 string
	for _, o := range e.do("GET", "/api/customers/"+id+"/orders?status=shipped", nil).list() {
		so3 = str(o["id"])
	}
	e.do("PATCH", "/api/v1/orders/"+so3, map[string]any{"paid_date": "2024-06-29"}).want(t, http.StatusOK)
	a = e.do("GET", "/api/customers/"+id+"/analytics", nil).want(t, http.StatusOK).data()
	if a["risk_score"] != "low" || a["financial_summary"].(map[string]any)["current_balance"] != 160.0 {
		t.Errorf("after payment: risk %v, %v", a["risk_score"], a["financial_summary"])
	}

	for _, q := range []string{"period=7d", "period=1m", "period=ALLTIME"} {
		e.do("GET", "/api/customers/"+id+"/analytics?"+q, nil).wantError(t, http.StatusUnprocessableEntity, "period")
	}
	e.do("GET", "/api/customers/cust_missing/analytics", nil).wantError(t, http.StatusNotFound)
	_, keyB := e.newOrg("Other", "")
	e.doKey(keyB, "GET", "/api/customers/"+id+"/analytics", nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "POST", "/api/customers/"+id+"/credit-check", nil).wantError(t, http.StatusNotFound)
}

func TestAnalyticsWithoutOrders(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	id := e.erpCustomer("Fresh Co", "fresh@example.com")
	a := e.do("GET", "/api/customers/"+id+"/analytics?period=90d", nil).want(t, http.StatusOK).data()
	ov := a["overview"].(map[string]any)
	if ov["total_orders"] != 0.0 || ov["avg_order_value"] != 0.0 || ov["last_order_date"] != nil || ov["days_since_last_order"] != nil || ov["customer_since"] == nil {
		t.Errorf("overview %v", ov)
	}
	jsonEqual(t, "financial_summary", a["financial_summary"], `{"total_revenue": 0, "current_balance": 0,
		"credit_limit": 10000, "credit_utilization": 0, "avg_payment_days": null}`)
	jsonEqual(t, "lists", []any{a["order_history"], a["top_products"]}, `[[], []]`)
	if a["customer_segment"] != "prospect" || a["risk_score"] != "low" {
		t.Errorf("segment %v risk %v", a["customer_segment"], a["risk_score"])
	}
}

func TestCreditCheck(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	id := plantHistory(e)
	// By hand (customer.ScoreCredit): payment timeliness 200 − 5 × avg days late
	// (0, 10, 0 → 3.33) = 183; overdue 150 × (1 − 700/8000) = 137 − 51 days past
	// due = 86; utilization 100 × (1 − 10.75%) = 89; history from the first to
	// the last order 412 days / 15 = 27;
	// volume 5 orders = 5. 300 + 390 = 690: good, low risk. Recommended: revenue
	// of the last 12 months 1960 / 12 × 2 = 326.67 → 300.
	want := `{"customer_id": "` + id + `", "credit_score": 690, "credit_rating": "good",
		"recommended_credit_limit": 300, "current_credit_limit": 8000, "risk_assessment": "low",
		"last_checked": "2024-06-30T12:00:00Z", "factors": {"payment_timeliness": 183,
		"overdue_balance": 86, "credit_utilization": 89, "history_length": 27, "order_volume": 5}}`
	first := e.do("POST", "/api/customers/"+id+"/credit-check", nil).want(t, http.StatusOK).data()
	jsonEqual(t, "credit check", first, want)
	// Deterministic: the same history gives the same answer, on either path.
	second := e.do("POST", "/api/v1/customers/"+id+"/credit-check", `{}`).want(t, http.StatusOK).data()
	jsonEqual(t, "second credit check", second, want)
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), "SELECT count(*) FROM credit_checks WHERE customer_id = $1 AND credit_score = 690", id).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d stored checks (%v), want 2", n, err)
	}

	// A customer without history is fair: neutral timeliness and utilization.
	fresh := e.do("POST", "/api/customers", map[string]any{"name": "Fresh", "email": "fresh@example.com"}).want(t, http.StatusCreated).data()
	got := e.do("POST", "/api/customers/"+str(fresh["id"])+"/credit-check", nil).want(t, http.StatusOK).data()
	if got["credit_score"] != 600.0 || got["credit_rating"] != "fair" || got["risk_assessment"] != "medium" || got["recommended_credit_limit"] != 0.0 {
		t.Errorf("fresh customer: %v", got)
	}
	e.do("POST", "/api/customers/cust_missing/credit-check", nil).wantError(t, http.StatusNotFound)
}

// A 30-day period starts mid-month (2024-05-31T12:00Z): that month is read
// from single orders, later months from the rollups, which every order
// write keeps current.
func TestAnalyticsPeriodBoundary(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	id := e.erpCustomer("Edge Co", "edge@example.com")
	line := func(product string, qty int) []any {
		return []any{map[string]any{"product_id": product, "product_name": product, "quantity": qty, "unit_price": 10}}
	}
	orders := map[string]map[string]any{
		"before":    {"order_date": "2024-05-31T06:00:00Z", "items": line("p1", 1)},
		"after":     {"order_date": "2024-05-31T18:00:00Z", "items": line("p2", 2), "paid_date": "2024-06-02T18:00:00Z"},
		"cancelled": {"order_date": "2024-05-31T20:00:00Z", "items": line("p9", 9), "status": "cancelled"},
		"june":      {"order_date": "2024-06-01T00:00:00Z", "items": line("p3", 3)},
		"mid-may":   {"order_date": "2024-05-15", "items": line("p4", 4)},
	}
	ids := map[string]string{}
	for name, o := range orders {
		o["customer_id"], o["order_number"] = id, name
		ids[name] = str(e.order(o)["id"])
	}
	a := e.do("GET", "/api/customers/"+id+"/analytics?period=30d", nil).want(t, http.StatusOK).data()
	jsonEqual(t, "order_history", a["order_history"], `[
		{"month": "2024-06", "orders": 1, "revenue": 30, "avg_order_value": 30},
		{"month": "2024-05", "orders": 1, "revenue": 20, "avg_order_value": 20}]`)
	jsonEqual(t, "top_products", a["top_products"], `[
		{"product_id": "p3", "product_name": "p3", "quantity_ordered": 3, "revenue": 30},
		{"product_id": "p2", "product_name": "p2", "quantity_ordered": 2, "revenue": 20}]`)
	jsonEqual(t, "total_revenue", a["financial_summary"].(map[string]any)["total_revenue"], `50`)
	jsonEqual(t, "avg_payment_days", a["financial_summary"].(map[string]any)["avg_payment_days"], `2`)

	a = e.do("GET", "/api/customers/"+id+"/analytics", nil).want(t, http.StatusOK).data()
	jsonEqual(t, "all-time history", a["order_history"], `[
		{"month": "2024-06", "orders": 1, "revenue": 30, "avg_order_value": 30},
		{"month": "2024-05", "orders": 3, "revenue": 70, "avg_order_value": 23.33}]`)

	// Writes refresh the rollups: un-cancel one order, cancel another,
	// and a product renamed on a later line shows its latest name.
	e.do("PATCH", "/api/v1/orders/"+ids["cancelled"], map[string]any{"status": "delivered"}).want(t, http.StatusOK)
	e.do("PATCH", "/api/v1/orders/"+ids["june"], map[string]any{"status": "returned"}).want(t, http.StatusOK)
	e.order(map[string]any{"customer_id": id, "order_number": "rename", "order_date": "2024-06-20",
		"items": []any{map[string]any{"product_id": "p4", "product_name": "p4 v2", "quantity": 1, "unit_price": 10}}})
	a = e.do("GET", "/api/customers/"+id+"/analytics", nil).want(t, http.StatusOK).data()
	jsonEqual(t, "history after writes", a["order_history"], `[
		{"month": "2024-06", "orders": 1, "revenue": 10, "avg_order_value": 10},
		{"month": "2024-05", "orders": 4, "revenue": 160, "avg_order_value": 40}]`)
	jsonEqual(t, "products after writes", a["top_products"], `[
		{"product_id": "p9", "product_name": "p9", "quantity_ordered": 9, "revenue": 90},
		{"product_id": "p4", "product_name": "p4 v2", "quantity_ordered": 5, "revenue": 50},
		{"product_id": "p2", "product_name": "p2", "quantity_ordered": 2, "revenue": 20},
		{"product_id": "p1", "product_name": "p1", "quantity_ordered": 1, "revenue": 10}]`)
}

// The bulk path (COPY, one refresh per customer) and single order writes
// (one refresh per order's month) leave the same totals and rollups.
func TestBulkOrdersMatchSingleWrites(t *testing.T) {
	t.Parallel()
	e := newEnvAt(t, now)
	bulk := e.erpCustomer("Bulk", "bulk@example.com")
	single := e.erpCustomer("Single", "single@example.com")
	orders := plantOrders(bulk, 80)
	if err := e.store.CreateOrders(t.Context(), e.org, orders); err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		body := map[string]any{"customer_id": single, "order_number": "S-" + o.OrderNumber, "status": o.Status,
			"order_date": o.OrderDate.Format(time.RFC3339), "total_amount": o.TotalAmount, "items": o.Items}
		if o.PaidDate != nil {
			body["paid_date"] = o.PaidDate.Format(time.RFC3339)
		}
		e.order(body)
	}
	for _, period := range []string{"all", "1y", "90d", "30d"} {
		a := e.do("GET", "/api/customers/"+bulk+"/analytics?period="+period, nil).want(t, http.StatusOK).data()
		b := e.do("GET", "/api/customers/"+single+"/analytics?period="+period, nil).want(t, http.StatusOK).data()
		delete(a, "customer")
		delete(b, "customer")
		if !reflect.DeepEqual(a, b) {
			t.Errorf("period %s: bulk %v\nsingle %v", period, a, b)
		}
	}
	bl, bo, bb := e.totals(bulk)
	if bo < 60 || bl <= 0 {
		t.Fatalf("bulk totals %v %v %v", bl, bo, bb)
	}
	e.wantTotals(single, bl, bo, bb)
	e.do("DELETE", "/api/v1/customers/"+bulk, nil).wantError(t, http.StatusConflict)
}
