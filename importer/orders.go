package importer

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/currency"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// Order imports (Kind orders): one row per order line. Rows with the same
// order number form one order; a row brings its customer's identifiers and
// names, order-level values and at most one line. Checks that need the
// whole order (a customer identifier on some row, an order date, a total)
// happen when the order's rows are merged, since an order's rows may be
// anywhere in the file.

// normalizeOrder is Normalize for order rows. A row is an error only when
// it belongs to no order (no order number) or cannot be read; a row of an
// order without any customer identifier is staged: another row of the same
// order may name the customer (Shopify writes the email on every line but
// other exports only on the first).
func (n *Normalizer) normalizeOrder(row Row) (out customer.ImportRow, problems []customer.ImportProblem, ok bool) {
	out.Num = row.Num
	if problems, ok = startRow(row); !ok {
		return out, problems, false
	}
	problem := func(sev, field, reason string) {
		problems = append(problems, customer.ImportProblem{Row: row.Num, Seq: len(problems), Severity: sev,
			Column: n.column(field), Reason: reason, Raw: row.Raw})
	}
	warn := func(field, reason string) { problem(customer.SeverityWarning, field, reason) }
	f := row.Fields
	idWarnings, badIDs := n.identifiers(row, f["customer_external_id"], "", &out)
	number := strings.TrimSpace(f["order_number"])
	switch {
	case number == "":
		reason := "no order number"
		if out.EmailKey == "" && out.PhoneKey == "" && out.External == "" {
			reason = "no order number and no email, phone or customer id"
			if len(badIDs) > 0 {
				reason += " (invalid " + strings.Join(badIDs, " and ") + ")"
			}
		}
		problem(customer.SeverityError, "order_number", reason)
		return out, problems, false
	case utf8.RuneCountInString(number) > customer.MaxOrderNumberLen:
		problem(customer.SeverityError, "order_number", fmt.Sprintf("order number longer than %d characters", customer.MaxOrderNumberLen))
		return out, problems, false
	}
	out.OrderKey = number
	out.Raw = row.Raw
	for _, w := range idWarnings {
		w.Seq = len(problems)
		problems = append(problems, w)
	}

	rec := customer.ImportRecord{Fields: map[string]string{}}
	for _, field := range []string{"first_name", "last_name", "name"} {
		v := dedupe.NormalizeName(f[field])
		if v == "" {
			continue
		}
		if limit := textLimits[field]; utf8.RuneCountInString(v) > limit {
			warn(field, fmt.Sprintf("longer than %d characters, dropped", limit))
			continue
		}
		rec.Fields[field] = v
	}
	if rec.Fields["first_name"] == "" && rec.Fields["last_name"] == "" && rec.Fields["name"] != "" {
		rec.Fields["first_name"], rec.Fields["last_name"] = dedupe.SplitName(rec.Fields["name"])
	}
	rec.Fields["source"] = n.Source

	line := &customer.ImportOrderLine{}
	if st, bad := orderStatus(f); bad != "" {
		warn(bad, fmt.Sprintf("unknown order status dropped: %q", clip(f[bad])))
	} else {
		line.Status = st
	}
	now := time.Now()
	for field, dst := range map[string]**time.Time{"order_date": &line.OrderDate, "paid_date": &line.PaidDate,
		"ship_date": &line.ShipDate, "delivery_date": &line.DeliveryDate} {
		v := f[field]
		if v == "" {
			continue
		}
		if t, ok := parseMoment(v, now, n.DayFirst); ok {
			*dst = &t
		} else {
			warn(field, fmt.Sprintf("invalid date dropped: %q", clip(v)))
		}
	}
	if v := f["currency"]; v != "" {
		c := strings.ToUpper(strings.TrimSpace(v))
		if _, err := currency.ParseISO(c); err != nil || len(c) != 3 {
			warn("currency", fmt.Sprintf("not an ISO 4217 currency code, dropped: %q", clip(v)))
		} else {
			line.Currency = c
		}
	}
	if v := f["total_amount"]; v != "" {
		if t, ok := parseMoney(v); ok {
			line.Total = &t
		} else {
			warn("total_amount", fmt.Sprintf("invalid amount dropped: %q", clip(v)))
		}
	}
	if v := strings.TrimSpace(f["location_id"]); v != "" {
		if utf8.RuneCountInString(v) > customer.MaxLocationRefLen {
			warn("location_id", fmt.Sprintf("longer than %d characters, dropped", customer.MaxLocationRefLen))
		} else {
			line.Location = v
		}
	}
	line.ShippingAddress = shippingAddress(f)
	line.Item, line.BadLine = n.orderItem(f, warn)
	if *line != (customer.ImportOrderLine{}) {
		rec.Order = line
	}
	rec.Warned = len(problems) > 0
	out.Record = rec
	return out, problems, true
}

// orderItem reads a row's line: a product (its id, else its name as id),
// the quantity (1 when absent) and the unit price (0 when absent). A line
// that cannot be read gets a warning and bad is true: its order will not be
// imported (a total computed without the line would be wrong).
func (n *Normalizer) orderItem(f map[string]string, warn func(field, reason string)) (it *customer.OrderItem, bad bool) {
	id, name := strings.TrimSpace(f["product_id"]), strings.TrimSpace(f["product_name"])
	qty, price := f["quantity"], f["unit_price"]
	if id == "" && name == "" && qty == "" && price == "" {
		return nil, false
	}
	name = cut(name, customer.MaxProductNameLen)
	if id == "" {
		id = name
	}
	id = cut(id, customer.MaxProductIDLen)
	if id == "" {
		warn("product_id", "line without product id or name")
		return nil, true
	}
	it = &customer.OrderItem{ProductID: id, ProductName: name, Quantity: 1}
	if qty != "" {
		q, ok := parseQuantity(qty)
		if !ok {
			warn("quantity", fmt.Sprintf("invalid quantity: %q", clip(qty)))
			return nil, true
		}
		it.Quantity = q
	}
	if price != "" {
		p, ok := parseMoney(price)
		if !ok {
			warn("unit_price", fmt.Sprintf("invalid unit price: %q", clip(price)))
			return nil, true
		}
		it.UnitPrice = p
	}
	return it, false
}

// shippingAddress reads the order's shipping address columns (nil when all
// are empty; like the orders API, a city and country without a street are
// an address). Countries become ISO alpha-2 codes when recognized.
func shippingAddress(f map[string]string) *customer.PostalAddress {
	a := &customer.PostalAddress{Line1: f["shipping_address_line1"], Line2: f["shipping_address_line2"], City: f["shipping_address_city"],
		State: f["shipping_address_state"], PostalCode: f["shipping_address_postal_code"]}
	if c := strings.TrimSpace(f["shipping_address_country"]); c != "" {
		if code, ok := dedupe.NormalizeCountry(c); ok {
			c = code
		}
		a.Country = c
	}
	for _, s := range []*string{&a.Line1, &a.Line2, &a.City, &a.State, &a.PostalCode, &a.Country} {
		*s = cut(*s, customer.MaxAddressLineLen)
	}
	if *a == (customer.PostalAddress{}) {
		return nil
	}
	return a
}

// orderStatuses maps status spellings of common exports (Shopify, WooCommerce,
// spreadsheets), folded to lowercase words, to order statuses.
var orderStatuses = map[string]string{
	"pending": customer.OrderPending, "open": customer.OrderPending, "new": customer.OrderPending,
	"placed": customer.OrderPending, "unpaid": customer.OrderPending, "awaiting payment": customer.OrderPending,
	"pending payment": customer.OrderPending, "on hold": customer.OrderPending, "authorized": customer.OrderPending,
	"draft":      customer.OrderPending,
	"processing": customer.OrderProcessing, "in progress": customer.OrderProcessing, "paid": customer.OrderProcessing,
	"confirmed": customer.OrderProcessing, "accepted": customer.OrderProcessing, "partially paid": customer.OrderProcessing,
	"partially fulfilled": customer.OrderProcessing, "partial": customer.OrderProcessing,
	"awaiting shipment": customer.OrderProcessing, "awaiting fulfillment": customer.OrderProcessing,
	"shipped": customer.OrderShipped, "fulfilled": customer.OrderShipped, "sent": customer.OrderShipped,
	"dispatched": customer.OrderShipped, "in transit": customer.OrderShipped, "out for delivery": customer.OrderShipped,
	"delivered": customer.OrderDelivered, "completed": customer.OrderDelivered, "complete": customer.OrderDelivered,
	"closed": customer.OrderDelivered, "received": customer.OrderDelivered, "picked up": customer.OrderDelivered,
	"cancelled": customer.OrderCancelled, "canceled": customer.OrderCancelled, "voided": customer.OrderCancelled,
	"void": customer.OrderCancelled, "failed": customer.OrderCancelled, "declined": customer.OrderCancelled,
	"expired": customer.OrderCancelled, "rejected": customer.OrderCancelled,
	"returned": customer.OrderReturned, "refunded": customer.OrderReturned, "restocked": customer.OrderReturned,
}

// NormalizeOrderStatus maps a status as exports write it ("Completed",
// "on-hold", "CANCELED", "partially_fulfilled") to an order status.
func NormalizeOrderStatus(v string) (string, bool) {
	s, ok := orderStatuses[statusWords(v)]
	return s, ok
}

func statusWords(v string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(v), func(r rune) bool {
		return r == ' ' || r == '_' || r == '-' || r == '\t'
	}), " ")
}

// orderStatus derives a row's order status: the status column when there
// is one; else a cancellation date means cancelled; else Shopify's
// financial and fulfillment statuses (refunded → returned, voided →
// cancelled, fulfilled → shipped, partially fulfilled → processing, paid →
// processing, pending/authorized → pending). "" when the row says nothing
// (the order's dates decide later). bad names the field holding an
// unknown value.
func orderStatus(f map[string]string) (status, bad string) {
	if v := f["status"]; v != "" {
		if s, ok := NormalizeOrderStatus(v); ok {
			return s, ""
		}
		return "", "status"
	}
	if f["cancelled_date"] != "" {
		return customer.OrderCancelled, ""
	}
	fin, ful := statusWords(f["financial_status"]), statusWords(f["fulfillment_status"])
	switch fin {
	case "refunded":
		return customer.OrderReturned, ""
	case "voided", "void", "expired":
		return customer.OrderCancelled, ""
	}
	switch ful {
	case "":
	case "fulfilled", "shipped":
		return customer.OrderShipped, ""
	case "delivered":
		return customer.OrderDelivered, ""
	case "partial", "partially fulfilled", "partially shipped":
		return customer.OrderProcessing, ""
	case "restocked", "returned":
		return customer.OrderReturned, ""
	case "unfulfilled", "unshipped", "pending", "scheduled", "on hold":
	default:
		return "", "fulfillment_status"
	}
	switch fin {
	case "":
		if ful != "" {
			return customer.OrderPending, ""
		}
		return "", ""
	case "paid", "partially paid", "partially refunded":
		return customer.OrderProcessing, ""
	case "pending", "authorized", "unpaid":
		return customer.OrderPending, ""
	}
	return "", "financial_status"
}
