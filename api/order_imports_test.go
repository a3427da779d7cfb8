package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gocarina/gocsv"
)

// shopifyOrders is a Shopify-like orders export: one row per line item,
// order-level columns only on an order's first row (the email on every
// row of some orders, on the first only of others), an order's rows not
// always adjacent, emails and phones in varied spellings.
const shopifyOrders = `Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Currency,Subtotal,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Name,Shipping Street,Shipping Address1,Shipping City,Shipping Zip,Shipping Country,Phone,Cancelled at,Vendor
#1001,NORA@Example.COM,paid,2024-01-15 10:05:00 -0500,fulfilled,2024-01-16 09:00:00 -0500,USD,60.50,60.50,2024-01-15 10:00:00 -0500,2,Widget,10.00,W-1,Nora Haddad,"1 Main St, Apt 2",1 Main St,Springfield,12345,United States,,,Acme
#1001,nora@example.com,,,,,,,,,1,Gadget,25.50,G-1,,,,,,,,,Acme
#1002,omar@example.com,pending,,unfulfilled,,USD,,,2024-02-01 08:00:00 +0000,2,Widget,10.00,W-1,Omar Ali,,,,,,,,Acme
#1001,,,,,,,,,,3,Cable,5.00,C-1,,,,,,,,,Acme
#1003,,paid,2024-03-02T12:00:00Z,fulfilled,,USD,,45.00,2024-03-01T12:00:00Z,1,Gadget,25.50,G-1,Sam Stone,,,,,,(415) 555-0100,,
#1003,,,,,,,,,,,Sticker,,,,,,,,,,,
#2001,,paid,,,,USD,,10.00,2024-03-05,1,Widget,10.00,W-1,No Body,,,,,,,,
#1004,Nora@example.com,refunded,2024-04-01,fulfilled,,USD,,99.00,2024-04-01,1,Lamp,99.00,L-1,Nora Haddad,,,,,,,,
,lost@example.com,paid,,,,USD,,10.00,2024-04-02,1,Widget,10.00,W-1,Lost Row,,,,,,,,
#2002,bad-date@example.com,paid,,,,USD,,10.00,2024-13-45,1,Widget,10.00,W-1,Bad Date,,,,,,,,
#2003,bad-qty@example.com,paid,,,,USD,,10.00,2024-04-03,two,Widget,10.00,W-1,Bad Qty,,,,,,,,
#2003,,,,,,,,,,1,Gadget,25.50,G-1,,,,,,,,,
#1005,,,,,,,,,2024-05-05,1,Widget,12.00,W-1,Pia Long,,,,,,+1 415 555 0199,,
#1006,omar@example.com,voided,,,,USD,,5.00,2024-05-06,,,,,,,,,,,,,
`

func orderImport(e *queueEnv, query, file string) map[string]any {
	e.t.Helper()
	im := e.upload("/api/v1/imports?kind=orders"+query, "orders.csv", "", []byte(file)).want(e.t, http.StatusAccepted).data()
	return e.waitImport(str(im["id"]))
}

func (e *env) customerByEmail(email string) map[string]any {
	e.t.Helper()
	return e.do("GET", "/api/v1/customers/lookup?email="+url.QueryEscape(email), nil).want(e.t, http.StatusOK).data()
}

func TestImportOrdersShopify(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 2, pageRows: 2})
	nora := e.createCustomer(map[string]any{"email": "nora@example.com", "first_name": "Nora", "last_name": "Haddad"})
	sam := e.createCustomer(map[string]any{"phone": "+14155550100", "first_name": "Sam", "last_name": "Stone"})

	done := orderImport(e, "&default_region=US", shopifyOrders)
	c := counts(done)
	if done["status"] != "completed" || c["rows"] != 14 || c["orders_created"] != 6 || c["orders_invalid"] != 3 ||
		c["orders_skipped"] != 0 || done["chunks"].(float64) < 3 {
		t.Fatalf("import %v", done)
	}
	// Rows: #1001 ×3, #1002, #1003 ×2, #1004, #1005, #1006 imported (9);
	// #2001, the row without order number, #2002, #2003 ×2 invalid (5)...
	if c["invalid"] != 5 || c["processed"] != 9 || c["created"]+c["updated"]+c["unchanged"]+c["merged_in_file"]+c["invalid"] != 14 {
		t.Fatalf("counts %v", c)
	}
	// ...so Omar and Pia are new; the invalid orders created no one.
	if c["created"] != 2 {
		t.Fatalf("counts %v", c)
	}
	if n := e.count("SELECT count(*) FROM customers WHERE merged_into IS NULL"); n != 4 {
		t.Fatalf("%d customers, want 4", n)
	}
	if n := e.count("SELECT count(*) FROM customers WHERE email IN ('bad-date@example.com', 'bad-qty@example.com', 'lost@example.com')"); n != 0 {
		t.Fatalf("customers of invalid orders were created")
	}

	// Nora: #1001 (three lines, two chunks apart in the file, paid) counts;
	// #1004 was refunded (returned) and does not.
	e.wantTotals(str(nora["id"]), 60.5, 1, 0)
	orders := e.do("GET", "/api/customers/"+str(nora["id"])+"/orders", nil).want(t, http.StatusOK).list()
	if len(orders) != 2 || orders[0]["order_number"] != "#1004" || orders[0]["status"] != "returned" ||
		orders[1]["order_number"] != "#1001" || orders[1]["status"] != "shipped" || orders[1]["items_count"] != 6.0 {
		t.Fatalf("Nora's orders %v", orders)
	}
	o := e.do("GET", "/api/v1/orders/"+str(orders[1]["id"]), nil).want(t, http.StatusOK).data()
	jsonEqual(t, "#1001 items", o["items"], `[
		{"product_id": "W-1", "product_name": "Widget", "quantity": 2, "unit_price": 10},
		{"product_id": "G-1", "product_name": "Gadget", "quantity": 1, "unit_price": 25.5},
		{"product_id": "C-1", "product_name": "Cable", "quantity": 3, "unit_price": 5}]`)
	jsonEqual(t, "#1001 shipping address", o["shipping_address"],
		`{"line1": "1 Main St", "city": "Springfield", "state": null, "postal_code": "12345", "country": "US"}`)
	if o["order_date"] != "2024-01-15T15:00:00Z" || o["paid_date"] != "2024-01-15T15:05:00Z" ||
		o["ship_date"] != "2024-01-16T14:00:00Z" || o["currency"] != "USD" || o["total_amount"] != 60.5 {
		t.Fatalf("#1001 %v", o)
	}
	a := e.do("GET", "/api/customers/"+str(nora["id"])+"/analytics?period=all", nil).want(t, http.StatusOK).data()
	ov := a["overview"].(map[string]any)
	if ov["lifetime_value"] != 60.5 || ov["total_orders"] != 1.0 || ov["avg_order_value"] != 60.5 ||
		ov["last_order_date"] != "2024-01-15T15:00:00Z" || ov["customer_since"] != "2024-01-15T15:00:00Z" {
		t.Fatalf("overview %v", ov)
	}
	jsonEqual(t, "order_history", a["order_history"], `[{"month": "2024-01", "orders": 1, "revenue": 60.5, "avg_order_value": 60.5}]`)
	jsonEqual(t, "top_products", a["top_products"], `[
		{"product_id": "G-1", "product_name": "Gadget", "quantity_ordered": 1, "revenue": 25.5},
		{"product_id": "W-1", "product_name": "Widget", "quantity_ordered": 2, "revenue": 20},
		{"product_id": "C-1", "product_name": "Cable", "quantity_ordered": 3, "revenue": 15}]`)

	// Omar is new (source import): #1002 pending, its total the sum of its
	// line; #1006 voided (cancelled) has no lines and does not count.
	omar := e.customerByEmail("omar@example.com")
	if omar["first_name"] != "Omar" || omar["last_name"] != "Ali" || omar["source"] != "import" {
		t.Fatalf("Omar %v", omar)
	}
	e.wantTotals(str(omar["id"]), 20, 1, 20)
	// Sam is matched by a phone in another format; #1003's second line has
	// no SKU (the name is its product id), no price and quantity 1.
	e.wantTotals(str(sam["id"]), 45, 1, 0)
	samOrders := e.do("GET", "/api/customers/"+str(sam["id"])+"/orders", nil).want(t, http.StatusOK).list()
	so := e.do("GET", "/api/v1/orders/"+str(samOrders[0]["id"]), nil).want(t, http.StatusOK).data()
	jsonEqual(t, "#1003 items", so["items"], `[
		{"product_id": "G-1", "product_name": "Gadget", "quantity": 1, "unit_price": 25.5},
		{"product_id": "Sticker", "product_name": "Sticker", "quantity": 1, "unit_price": 0}]`)
	// Pia: new, by phone only; no status columns → the dates decide (pending).
	pia := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550199", nil).want(t, http.StatusOK).data()
	if pia["first_name"] != "Pia" {
		t.Fatalf("Pia %v", pia)
	}
	e.wantTotals(str(pia["id"]), 12, 1, 12)

	// Row problems with spreadsheet row numbers: every row of an invalid
	// order is an error (so the error CSV holds whole orders).
	errs := e.do("GET", "/api/v1/imports/"+str(done["id"])+"/errors?limit=100", nil).want(t, http.StatusOK).list()
	byRow := map[int][]string{}
	for _, p := range errs {
		n := int(p["row"].(float64))
		byRow[n] = append(byRow[n], str(p["severity"])+" "+str(p["column"])+": "+str(p["reason"]))
	}
	for row, want := range map[int][]string{
		8:  {"error : order not imported: no valid email, phone or customer id"},
		10: {"error Name: no order number"},
		11: {"warning Created at: invalid date dropped", "error : order not imported: no valid order date"},
		12: {"warning Lineitem quantity: invalid quantity", `error : order not imported: a line could not be read on row "12"`},
		13: {`error : order not imported: a line could not be read on row "12"`},
	} {
		if len(byRow[row]) != len(want) {
			t.Errorf("row %d: %q, want %q", row, byRow[row], want)
			continue
		}
		for i, w := range want {
			if !strings.HasPrefix(byRow[row][i], w) {
				t.Errorf("row %d: %q, want %q", row, byRow[row], want)
			}
		}
	}
	if len(byRow) != 5 {
		t.Errorf("problems %v", byRow)
	}
	// Reasons group in error_summary (values are quoted at the end).
	fresh := e.do("GET", "/api/v1/imports/"+str(done["id"]), nil).want(t, http.StatusOK).data()
	if sum, _ := fresh["error_summary"].(map[string]any); sum["error: order not imported: a line could not be read on row"] != 2.0 ||
		sum["error: order not imported: no valid email, phone or customer id on any of its rows"] != 1.0 {
		t.Errorf("error_summary %v", fresh["error_summary"])
	}

	// Importing the file again creates no order and no customer.
	again := orderImport(e, "&default_region=US", shopifyOrders)
	c = counts(again)
	if c["orders_created"] != 0 || c["orders_skipped"] != 6 || c["orders_invalid"] != 3 || c["created"] != 0 ||
		c["unchanged"] != 9 || c["invalid"] != 5 {
		t.Fatalf("re-import counts %v", c)
	}
	if n := e.count("SELECT count(*) FROM orders WHERE import_id = $1", done["id"]); n != 6 {
		t.Fatalf("%d orders of the first import after re-import, want 6", n)
	}
	if n := e.count("SELECT count(*) FROM orders"); n != 6 {
		t.Fatalf("%d orders after re-import, want 6", n)
	}
	e.wantTotals(str(nora["id"]), 60.5, 1, 0)
	skipped := e.do("GET", "/api/v1/imports/"+str(again["id"])+"/errors?severity=warning&limit=100", nil).want(t, http.StatusOK)
	// Nine rows of existing orders, and the two warnings found while reading.
	if skipped.meta()["total"] != float64(11) || !strings.HasPrefix(str(skipped.list()[0]["reason"]), "order already exists, skipped") {
		t.Fatalf("re-import warnings %s", skipped.Raw)
	}
}

func TestImportOrdersOnePerRowAndLocations(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	loc := e.createLocation(map[string]any{"name": "Riyadh Park", "code": "RUH-01", "default_region": "SA"})
	e.do("POST", "/api/customers", map[string]any{"name": "Sara", "email": "sar@example.com", "currency": "SAR"}).want(t, http.StatusCreated)
	// One row per order, generic headers, statuses in export spellings,
	// amounts with symbols and separators, day-first dates.
	file := "Order Number;Order Date;Order Status;Total Amount;Currency;Customer Email;Customer Phone;Customer Name;Store;Paid Date\n" +
		"A-1;15/01/2024;Completed;\"1.234,50\";SAR;sar@example.com;;Sara;ruh-01;16/01/2024\n" +
		"A-2;2024-01-20 14:30;on-hold;USD 20;USD;sar@example.com;;;;\n" + // the customer's currency is SAR
		"A-3;2024-01-21;CANCELED;$15.00;;;050 123 4567;Nadia Saleh;Riyadh Park;\n" +
		"A-4;2024-01-22;Shipped;10;;;0501234567;;Nowhere;2024-01-01\n" + // paid before ordered: dropped
		"A-5;2099-01-01;pending;10;;x@example.com;;;;\n"
	done := orderImport(e, "&location_id="+str(loc["id"]), file)
	c := counts(done)
	if c["orders_created"] != 3 || c["orders_invalid"] != 2 || c["invalid"] != 2 || c["created"] != 1 || c["warnings"] != 1 {
		t.Fatalf("counts %v", c)
	}
	sara := e.customerByEmail("sar@example.com")
	e.wantTotals(str(sara["id"]), 1234.5, 1, 0)
	nadia := e.do("GET", "/api/v1/customers/lookup?phone=%2B966501234567", nil).want(t, http.StatusOK).data()
	// A-3 cancelled counts for nothing; A-4 shipped, unpaid (its paid date came before the order).
	e.wantTotals(str(nadia["id"]), 10, 1, 10)
	list := e.do("GET", "/api/customers/"+str(nadia["id"])+"/orders", nil).want(t, http.StatusOK).list()
	statuses := []string{}
	for _, o := range list {
		full := e.do("GET", "/api/v1/orders/"+str(o["id"]), nil).want(t, http.StatusOK).data()
		statuses = append(statuses, str(o["order_number"])+":"+str(o["status"])+":"+str(full["location_id"]))
	}
	if want := []string{"A-4:shipped:" + str(loc["id"]), "A-3:cancelled:" + str(loc["id"])}; !slices.Equal(statuses, want) {
		t.Fatalf("Nadia's orders %v, want %v", statuses, want)
	}
	errs := e.do("GET", "/api/v1/imports/"+str(done["id"])+"/errors?limit=100", nil).want(t, http.StatusOK).list()
	var got []string
	for _, p := range errs {
		got = append(got, fmt.Sprintf("%v %v %v", p["row"], p["severity"], p["reason"]))
	}
	for _, want := range []string{
		`3 error order not imported: its currency is not the customer's (SAR): "USD"`,
		`5 warning unknown location dropped: "Nowhere"`,
		`5 warning before the order date, dropped: "2024-01-01"`,
		`6 warning invalid date dropped: "2099-01-01"`,
		`6 error order not imported: no valid order date on any of its rows`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing problem %q in %q", want, got)
		}
	}
}

// An order's values come from the first of its rows that has them, in file
// order, wherever its rows are and however the chunk reads them.
func TestImportOrdersFirstValueWins(t *testing.T) {
	t.Parallel()
	file := "Order Number,Order Date,Email,SKU,Quantity,Unit Price,Shipping Address1,Shipping City,Shipping Country\n" +
		"B-1,2024-02-01,ana@example.com,P1,1,10,,,\n" +
		"B-2,2024-02-02,ben@example.com,P2,1,5,9 Other Rd,Springfield,US\n" +
		"B-1,,,P2,2,3,1 First St,Springfield,US\n" +
		"B-1,,,P3,1,4,2 Second St,Shelbyville,US\n"
	for _, o := range []queueOpts{{}, {pageRows: 1}} {
		e := newQueueEnv(t, o)
		if c := counts(orderImport(e, "", file)); c["orders_created"] != 2 || c["invalid"] != 0 {
			t.Fatalf("pages of %d rows: counts %v", o.pageRows, c)
		}
		ana := e.customerByEmail("ana@example.com")
		list := e.do("GET", "/api/customers/"+str(ana["id"])+"/orders", nil).want(t, http.StatusOK).list()
		if len(list) != 1 {
			t.Fatalf("Ana's orders %v", list)
		}
		order := e.do("GET", "/api/v1/orders/"+str(list[0]["id"]), nil).want(t, http.StatusOK).data()
		jsonEqual(t, "B-1 shipping address", order["shipping_address"],
			`{"line1": "1 First St", "city": "Springfield", "state": null, "postal_code": null, "country": "US"}`)
		if order["total_amount"] != 20.0 || order["items_count"] != 4.0 {
			t.Errorf("B-1 %v", order)
		}
	}
}

func TestImportOrdersDryRun(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 3, pageRows: 2})
	e.createCustomer(map[string]any{"email": "nora@example.com", "first_name": "Nora", "last_name": "Haddad"})
	done := orderImport(e, "&dry_run=true&default_region=US", shopifyOrders)
	c := counts(done)
	if done["status"] != "completed" || c["orders_created"] != 6 || c["orders_invalid"] != 3 || c["created"] != 3 || c["invalid"] != 5 {
		t.Fatalf("dry run %v", done)
	}
	if samples, _ := done["samples"].(map[string]any); fmt.Sprint(samples["order_create"]) != "[2 4 6 9 14]" {
		t.Fatalf("samples %v", done["samples"])
	}
	if n := e.count("SELECT count(*) FROM orders"); n != 0 {
		t.Fatalf("dry run wrote %d orders", n)
	}
	if n := e.count("SELECT count(*) FROM customers"); n != 1 {
		t.Fatalf("dry run wrote customers: %d", n)
	}
	if n := e.count("SELECT count(*) FROM import_errors WHERE severity = 'error'"); n != 5 {
		t.Fatalf("dry run reported %d errors, want 5", n)
	}
	// Preview shows what each row says about its order.
	prev := e.upload("/api/v1/imports/preview?kind=orders&default_region=US", "", "text/csv", []byte(shopifyOrders)).want(t, http.StatusOK).data()
	rows := prev["rows"].([]any)
	r0 := rows[0].(map[string]any)
	jsonEqual(t, "preview order", r0["order"], `{"status": "shipped", "order_date": "2024-01-15T15:00:00Z",
		"paid_date": "2024-01-15T15:05:00Z", "ship_date": "2024-01-16T14:00:00Z", "currency": "USD", "total_amount": 60.5,
		"shipping_address": {"line1": "1 Main St", "city": "Springfield", "state": null, "postal_code": "12345", "country": "US"},
		"item": {"product_id": "W-1", "product_name": "Widget", "quantity": 2, "unit_price": 10}}`)
	if r0["order_number"] != "#1001" || r0["email"] != "nora@example.com" {
		t.Fatalf("preview row %v", r0)
	}
}

// orderRow is one generated order line.
type orderRow struct {
	Number   string `csv:"Order Number"`
	Date     string `csv:"Order Date"`
	Status   string `csv:"Status"`
	Email    string `csv:"Email"`
	Phone    string `csv:"Phone"`
	Name     string `csv:"Customer Name"`
	SKU      string `csv:"SKU"`
	Quantity string `csv:"Quantity"`
	Price    string `csv:"Unit Price"`
	Paid     string `csv:"Paid Date"`
	Street   string `csv:"Shipping Address1"`
	City     string `csv:"Shipping City"`
	Country  string `csv:"Shipping Country"`
}

// ordersFile makes order lines whose orders span the file and whose
// customers repeat in varied spellings; some orders exist already.
func ordersFile(rng *rand.Rand, orders int) []byte {
	var out []orderRow
	for o := range orders {
		n := 1 + rng.IntN(4)
		cust := rng.IntN(orders / 4)
		num := fmt.Sprintf("SO-%d", o)
		date := fmt.Sprintf("2023-%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(28))
		for l := range n {
			r := orderRow{Number: num, SKU: fmt.Sprintf("P%d", rng.IntN(20)), Quantity: fmt.Sprint(1 + rng.IntN(5)),
				Price: fmt.Sprintf("%d.%02d", rng.IntN(100), rng.IntN(100))}
			if l == 0 {
				r.Date, r.Status = date, []string{"paid", "Completed", "cancelled", "pending", ""}[rng.IntN(5)]
				if rng.IntN(2) == 0 {
					r.Paid = date
				}
				r.Name = fmt.Sprintf("Cust %d", cust)
			}
			if l == 0 || rng.IntN(2) == 0 {
				switch rng.IntN(3) {
				case 0:
					r.Email = fmt.Sprintf("c%d@example.com", cust)
				case 1:
					r.Email = fmt.Sprintf("C%d@Example.com", cust)
				default:
					r.Phone = fmt.Sprintf("(415) 555-%04d", cust)
				}
			}
			// Any line may carry a shipping address; the order's first does.
			if rng.IntN(3) == 0 {
				r.Street, r.City, r.Country = fmt.Sprintf("%d Main St", rng.IntN(1000)), "Springfield", "US"
			}
			out = append(out, r)
		}
	}
	// Lines of an order are not always adjacent.
	for range len(out) / 10 {
		i, j := rng.IntN(len(out)), rng.IntN(len(out))
		out[i], out[j] = out[j], out[i]
	}
	b, err := gocsv.MarshalBytes(&out)
	if err != nil {
		panic(err)
	}
	return b
}

// A chunked order import ends exactly like processing the file in one chunk.
func TestImportOrdersChunkingEqualsSequential(t *testing.T) {
	t.Parallel()
	file := ordersFile(rand.New(rand.NewPCG(3, 5)), 200)
	var states []string
	// Chunks of 7 rows read 3 rows at a time (an order's rows span pages)
	// against one chunk read in one page.
	for _, o := range []queueOpts{{chunkRows: 7, pageRows: 3}, {chunkRows: 1 << 30}} {
		e := newQueueEnv(t, o)
		for i := range 10 {
			e.createCustomer(map[string]any{"email": fmt.Sprintf("c%d@example.com", i*3), "phone": fmt.Sprintf("+1415555%04d", i*3+1)})
		}
		done := orderImport(e, "", string(file))
		if done["status"] != "completed" || counts(done)["orders_created"] == 0 || (o.chunkRows == 7 && done["chunks"].(float64) < 10) {
			t.Fatalf("import %v", done)
		}
		states = append(states, orderState(t, e.env)+fmt.Sprint(counts(done)))
	}
	if states[0] != states[1] {
		t.Fatalf("chunked and sequential order imports differ:\n%s\n---\n%s", head(states[0]), head(states[1]))
	}
}

// orderState renders customers with their totals and orders, independent of ids.
func orderState(t *testing.T, e *env) string {
	t.Helper()
	rows, err := e.store.Pool().Query(context.Background(), `
		SELECT c.email || '|' || c.phone || '|' || c.first_name || '|' || c.total_orders || '|' || c.lifetime_value
			|| '|' || c.current_balance || '|' || coalesce((SELECT string_agg(o.order_number || ':' || o.status || ':' ||
				o.total_amount || ':' || o.items_count || ':' || o.order_date || ':' || coalesce(o.shipping_address::text, '')
				|| '[' || coalesce((SELECT string_agg(
					i.line || '=' || i.product_id || 'x' || i.quantity || '@' || i.unit_price, ',' ORDER BY i.line)
					FROM order_items i WHERE i.organization_id = o.organization_id AND i.order_id = o.id), '') || ']',
				' ' ORDER BY o.order_number)
				FROM orders o WHERE o.organization_id = c.organization_id AND o.customer_id = c.id), '')
			|| '|' || coalesce((SELECT string_agg(m.month || ':' || m.orders || ':' || m.revenue, ' ' ORDER BY m.month)
				FROM customer_order_months m WHERE m.organization_id = c.organization_id AND m.customer_id = c.id), '')
		FROM customers c WHERE c.merged_into IS NULL AND c.organization_id = $1`, e.org)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Two imports of one export merged at the same time: every order once.
func TestImportOrdersConcurrentImports(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 2, noWorker: true})
	e.createCustomer(map[string]any{"email": "nora@example.com", "first_name": "Nora", "last_name": "Haddad"})
	var ids []string
	for range 2 {
		im := e.upload("/api/v1/imports?kind=orders&default_region=US", "orders.csv", "", []byte(shopifyOrders)).want(t, http.StatusAccepted).data()
		ids = append(ids, str(im["id"]))
	}
	e.startWorker(0)
	created, skipped := 0, 0
	for _, id := range ids {
		done := e.waitImport(id)
		c := counts(done)
		if done["status"] != "completed" || c["orders_invalid"] != 3 {
			t.Fatalf("import %v", done)
		}
		created, skipped = created+c["orders_created"], skipped+c["orders_skipped"]
	}
	if created != 6 || skipped != 6 {
		t.Fatalf("orders created %d, skipped %d; want 6 and 6", created, skipped)
	}
	if n := e.count("SELECT count(*) FROM orders"); n != 6 {
		t.Fatalf("%d orders, want 6", n)
	}
	if n := e.count("SELECT count(*) FROM customers WHERE merged_into IS NULL"); n != 4 {
		t.Fatalf("%d customers, want 4", n)
	}
	omar := e.customerByEmail("omar@example.com")
	e.wantTotals(str(omar["id"]), 20, 1, 20)
}
