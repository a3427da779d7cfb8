package importer

import (
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

func TestParseMoney(t *testing.T) {
	for in, want := range map[string]float64{
		"12": 12, "12.5": 12.5, "12.345": 12.35, "$1,234.50": 1234.5, "1.234,50 €": 1234.5, "SAR 99": 99,
		"1 234,50": 1234.5, "1,234": 1234, "1,5": 1.5, "1'234.50": 1234.5, "1,234,567": 1234567, "12.": 12,
		"0": 0, " USD 20 ": 20, "1.234.567": 1234567,
	} {
		if got, ok := parseMoney(in); !ok || got != want {
			t.Errorf("parseMoney(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-5", "$-5", "abc", "1e5", "1,2,3.4.5x", "1000000000000", "NaN", "Inf", "1..2"} {
		if got, ok := parseMoney(in); ok {
			t.Errorf("parseMoney(%q) = %v, want refused", in, got)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	for in, want := range map[string]int{"1": 1, " 3 ": 3, "2.0": 2, "1000000": 1000000} {
		if got, ok := parseQuantity(in); !ok || got != want {
			t.Errorf("parseQuantity(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"0", "-1", "1.5", "two", "", "1000001", "1e9", "NaN"} {
		if got, ok := parseQuantity(in); ok {
			t.Errorf("parseQuantity(%q) = %v, want refused", in, got)
		}
	}
}

func TestParseMoment(t *testing.T) {
	now := time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"2024-01-15 10:00:00 -0500": "2024-01-15T15:00:00Z", // Shopify "Created at"
		"2024-01-15T10:00:00+03:00": "2024-01-15T07:00:00Z",
		"2024-01-15":                "2024-01-15T00:00:00Z",
		"2024-01-15 14:30":          "2024-01-15T14:30:00Z",
		"2024-01-15T14:30:05":       "2024-01-15T14:30:05Z",
		"15/01/2024":                "2024-01-15T00:00:00Z",
		"01/15/2024 2:05 PM":        "2024-01-15T14:05:00Z",
		"15.01.2024 10:30":          "2024-01-15T10:30:00Z",
		"Jan 15, 2024":              "2024-01-15T00:00:00Z",
		"15 Jan 2024 10:30:00":      "2024-01-15T10:30:00Z",
		"2024-07-01":                "2024-07-01T00:00:00Z", // within a day ahead
	} {
		got, ok := parseMoment(in, now, false)
		if !ok || got.Format(time.RFC3339) != want {
			t.Errorf("parseMoment(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"2024-13-45", "2024-07-02", "1899-12-31", "yesterday", "10:30", "2024-01-15 25:00", "05/06/2024 x:y"} {
		if got, ok := parseMoment(in, now, false); ok {
			t.Errorf("parseMoment(%q) = %v, want refused", in, got)
		}
	}
}

func TestOrderStatus(t *testing.T) {
	for _, c := range []struct {
		status, financial, fulfillment, cancelled string
		want, bad                                 string
	}{
		{"Completed", "", "", "", "delivered", ""},
		{"on-hold", "", "", "", "pending", ""},
		{"CANCELED", "", "", "", "cancelled", ""},
		{"partially_fulfilled", "", "", "", "processing", ""},
		{"In Transit", "", "", "", "shipped", ""},
		{"Refunded", "", "", "", "returned", ""},
		{"lost in space", "", "", "", "", "status"},
		{"", "paid", "fulfilled", "", "shipped", ""},
		{"", "paid", "", "", "processing", ""},
		{"", "paid", "unfulfilled", "", "processing", ""},
		{"", "pending", "unfulfilled", "", "pending", ""},
		{"", "authorized", "partial", "", "processing", ""},
		{"", "refunded", "fulfilled", "", "returned", ""},
		{"", "voided", "", "", "cancelled", ""},
		{"", "paid", "fulfilled", "2024-01-02 10:00:00 -0500", "cancelled", ""},
		{"", "", "restocked", "", "returned", ""},
		{"", "", "", "", "", ""},
		{"", "weird", "", "", "", "financial_status"},
		{"", "paid", "weird", "", "", "fulfillment_status"},
	} {
		f := map[string]string{}
		for k, v := range map[string]string{"status": c.status, "financial_status": c.financial,
			"fulfillment_status": c.fulfillment, "cancelled_date": c.cancelled} {
			if v != "" {
				f[k] = v
			}
		}
		got, bad := orderStatus(f)
		if got != c.want || bad != c.bad {
			t.Errorf("orderStatus(%v) = %q, %q; want %q, %q", f, got, bad, c.want, c.bad)
		}
	}
}

// orderRows reads a CSV as an orders file and normalizes every row.
func orderRows(t *testing.T, file string) ([]customer.ImportRow, [][]customer.ImportProblem, []bool) {
	t.Helper()
	rd, err := Open(strings.NewReader(file), Options{Kind: customer.ImportOrders})
	if err != nil {
		t.Fatal(err)
	}
	n := NewNormalizer(rd.Detected(), "US", dedupe.NewPhoneNormalizer(0))
	n.Kind = customer.ImportOrders
	var rows []customer.ImportRow
	var probs [][]customer.ImportProblem
	var oks []bool
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r, p, ok := n.Normalize(row)
		rows, probs, oks = append(rows, r), append(probs, p), append(oks, ok)
	}
	return rows, probs, oks
}

func TestNormalizeOrderRows(t *testing.T) {
	file := "Name,Email,Phone,Customer ID,Billing Name,Created at,Total,Currency,Lineitem sku,Lineitem name,Lineitem quantity,Lineitem price,Store,Tags\n" +
		"#1,A@Example.com,,,Ann Lee,2024-01-15 10:00:00 -0500,$30.00,usd,W-1,Widget,3,10,Main,vip\n" +
		"#1,,,,,,,,,Gadget,,,,\n" + // a continuation line: no identifier, product name as id
		",b@example.com,,,,2024-01-15,,,,,,,,\n" + // no order number
		",,,,,,,,,,,,,\n" + // all empty: not returned by the reader
		"#2,,,,,,,,,,,,,\n" + // nothing but the number: staged, the order decides
		"#3,,(415) 555-0100,C-9,,not a date,-5,EURO,W-1,,0,x,,\n" +
		",,,,,,,,,,,,,\n"
	rows, probs, oks := orderRows(t, file)
	if len(rows) != 5 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	l := r.Record.Order
	if !oks[0] || r.OrderKey != "#1" || r.Email != "a@example.com" || r.Record.Fields["first_name"] != "Ann" ||
		r.Record.Fields["last_name"] != "Lee" || r.Record.Fields["source"] != "import" || r.Record.Attributes != nil ||
		l.OrderDate.Format(time.RFC3339) != "2024-01-15T15:00:00Z" || *l.Total != 30 || l.Currency != "USD" ||
		l.Location != "Main" || *l.Item != (customer.OrderItem{ProductID: "W-1", ProductName: "Widget", Quantity: 3, UnitPrice: 10}) ||
		len(probs[0]) != 0 || len(r.Raw) != 14 || r.Record.Warned {
		t.Fatalf("row 2 = %+v %+v %v", r, l, probs[0])
	}
	if r := rows[1]; !oks[1] || r.OrderKey != "#1" || r.EmailKey != "" ||
		*r.Record.Order.Item != (customer.OrderItem{ProductID: "Gadget", ProductName: "Gadget", Quantity: 1}) {
		t.Fatalf("row 3 = %+v", r)
	}
	if oks[2] || probs[2][0].Reason != "no order number" || probs[2][0].Column != "Name" || probs[2][0].Row != 4 {
		t.Fatalf("row 4 = %v", probs[2])
	}
	if r := rows[3]; !oks[3] || r.OrderKey != "#2" || r.Record.Order != nil || r.Num != 6 {
		t.Fatalf("row 6 = %+v", r)
	}
	r = rows[4]
	l = r.Record.Order
	if !oks[4] || r.Phone != "+14155550100" || r.External != "import:C-9" || l.OrderDate != nil || l.Total != nil ||
		l.Currency != "" || l.Item != nil || !l.BadLine || !r.Record.Warned {
		t.Fatalf("row 7 = %+v %+v", r, l)
	}
	var reasons []string
	for _, p := range probs[4] {
		reasons = append(reasons, p.Column+": "+p.Reason)
	}
	want := []string{`Created at: invalid date dropped: "not a date"`, `Total: invalid amount dropped: "-5"`,
		`Currency: not an ISO 4217 currency code, dropped: "EURO"`, `Lineitem quantity: invalid quantity: "0"`}
	for _, w := range want {
		if !strings.Contains(strings.Join(reasons, "\n"), w) {
			t.Errorf("row 7 problems %q lack %q", reasons, w)
		}
	}
	// A shipping city and country without a street are kept, as the orders
	// API keeps them; no shipping column at all is no address.
	rows, _, _ = orderRows(t, "Order,Email,Shipping City,Shipping Country\n#5,d@example.com,Lyon,France\n#6,e@example.com,,\n")
	if o := rows[0].Record.Order; o == nil || o.ShippingAddress == nil ||
		*o.ShippingAddress != (customer.PostalAddress{City: "Lyon", Country: "FR"}) || rows[1].Record.Order != nil {
		t.Fatalf("shipping address lines %+v, %+v", rows[0].Record.Order, rows[1].Record.Order)
	}
	rows, probs, oks = orderRows(t, "Order,Email\n"+strings.Repeat("x", 101)+",c@example.com\n,\n,bad\n")
	if oks[0] || probs[0][0].Reason != "order number longer than 100 characters" {
		t.Fatalf("long number %v", probs[0])
	}
	if len(rows) != 2 || oks[1] || probs[1][len(probs[1])-1].Reason != "no order number and no email, phone or customer id (invalid email)" {
		t.Fatalf("no number, bad email %v", probs[1])
	}
}

func FuzzOrderValues(f *testing.F) {
	for _, s := range []string{"12.50", "$1,234.50", "1.234,50 €", "2024-01-15 10:00:00 -0500", "01/15/2024 2:05 PM", "-0", "٣"} {
		f.Add(s)
	}
	now := time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if m, ok := parseMoney(v); ok && (m < 0 || m >= 1e12 || math.IsNaN(m) || math.Round(m*100)/100 != m) {
			t.Fatalf("parseMoney(%q) = %v", v, m)
		}
		if q, ok := parseQuantity(v); ok && (q < 1 || q > 1_000_000) {
			t.Fatalf("parseQuantity(%q) = %v", v, q)
		}
		if d, ok := parseMoment(v, now, false); ok && (d.Location() != time.UTC || d.Year() < 1900 || d.After(now.Add(24*time.Hour))) {
			t.Fatalf("parseMoment(%q) = %v", v, d)
		}
		if s, ok := NormalizeOrderStatus(v); ok && !contains(customer.OrderStatuses, s) {
			t.Fatalf("status %q → %q", v, s)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
