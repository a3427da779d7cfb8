package api

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
)

// orderInput is the body of POST /api/v1/orders (SPEC §13).
type orderInput struct {
	CustomerID      string                  `json:"customer_id"`
	Customer        *upsertInput            `json:"customer"` // identifiers, when customer_id is absent
	OrderNumber     string                  `json:"order_number"`
	Status          string                  `json:"status"`
	OrderDate       string                  `json:"order_date"`
	ShipDate        string                  `json:"ship_date"`
	DeliveryDate    string                  `json:"delivery_date"`
	PaidDate        string                  `json:"paid_date"`
	Currency        string                  `json:"currency"`
	TotalAmount     *float64                `json:"total_amount"`
	Items           []orderItemInput        `json:"items"`
	ShippingAddress *customer.PostalAddress `json:"shipping_address"`
	LocationID      string                  `json:"location_id"`
}

type orderItemInput struct {
	ProductID   string  `json:"product_id"`
	ProductName string  `json:"product_name"`
	Quantity    int     `json:"quantity"`
	UnitPrice   float64 `json:"unit_price"`
}

// maxOrderItems bounds one order's lines.
const maxOrderItems = 1000

// order validates in (all but the customer, see resolveCustomer) into o.
// An absent total_amount is the sum of the lines; one of them is required.
func (in orderInput) order(p problems, o *customer.Order, now time.Time) {
	o.OrderNumber = p.text("order_number", in.OrderNumber, 1, customer.MaxOrderNumberLen)
	o.Status = p.enum("status", in.Status, customer.OrderStatuses, customer.OrderPending)
	o.OrderDate = now
	if d := p.moment("order_date", in.OrderDate); d != nil {
		o.OrderDate = *d
	}
	// A day of slack for clients in zones ahead of UTC sending dates.
	if o.OrderDate.After(now.Add(24 * time.Hour)) {
		p.add("order_date", "must not be in the future")
	}
	o.Currency = p.currency("currency", in.Currency)
	o.ShippingAddress = p.address("shipping_address", in.ShippingAddress)
	o.LocationID = p.text("location_id", in.LocationID, 0, customer.MaxLocationRefLen)
	if len(in.Items) > maxOrderItems {
		p.add("items", "must hold at most "+strconv.Itoa(maxOrderItems)+" lines")
	}
	o.Items = make([]customer.OrderItem, len(in.Items))
	var sum float64
	for i, it := range in.Items {
		prefix := "items[" + strconv.Itoa(i) + "]."
		o.Items[i] = customer.OrderItem{
			ProductID:   p.text(prefix+"product_id", it.ProductID, 1, customer.MaxProductIDLen),
			ProductName: p.text(prefix+"product_name", it.ProductName, 0, customer.MaxProductNameLen),
			Quantity:    it.Quantity,
			UnitPrice:   p.money(prefix+"unit_price", it.UnitPrice),
		}
		if it.Quantity < 1 || it.Quantity > 1_000_000 {
			p.add(prefix+"quantity", "must be an integer from 1 to 1000000")
		}
		o.ItemsCount += it.Quantity
		sum += float64(it.Quantity) * o.Items[i].UnitPrice
	}
	switch {
	case in.TotalAmount != nil:
		o.TotalAmount = p.money("total_amount", *in.TotalAmount)
	case len(in.Items) == 0:
		p.add("total_amount", "is required when there are no items")
	default:
		o.TotalAmount = p.money("total_amount", math.Round(sum*100)/100)
	}
	ship, deliver, paid := p.moment("ship_date", in.ShipDate), p.moment("delivery_date", in.DeliveryDate), p.moment("paid_date", in.PaidDate)
	o.ShipDate, o.DeliveryDate, o.PaidDate = ship, deliver, paid
	orderDates(p, o)
}

// orderDates checks the order of events by UTC day (a paid_date sent as a
// date is fine on the day of an order placed at noon): nothing ships,
// arrives or is paid before the order, and nothing arrives before it ships.
func orderDates(p problems, o *customer.Order) {
	for field, d := range map[string]*time.Time{"ship_date": o.ShipDate, "delivery_date": o.DeliveryDate, "paid_date": o.PaidDate} {
		if d != nil && day(*d).Before(day(o.OrderDate)) {
			p.add(field, "must not be before order_date")
		}
	}
	if o.ShipDate != nil && o.DeliveryDate != nil && day(*o.DeliveryDate).Before(day(*o.ShipDate)) {
		p.add("delivery_date", "must not be before ship_date")
	}
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// orderPatch is the body of PATCH /api/v1/orders/{id}: what happens to an
// order after it was placed. Other order fields are history and fixed.
type orderPatch struct {
	Status       string `json:"status"`
	ShipDate     string `json:"ship_date"`
	DeliveryDate string `json:"delivery_date"`
	PaidDate     string `json:"paid_date"`
}

// fixedOrderFields cannot be patched; naming them is a 422 rather than a
// silent no-op.
var fixedOrderFields = []string{"id", "customer_id", "customer", "order_number", "order_date", "currency", "total_amount",
	"items", "items_count", "shipping_address", "location_id", "created", "updated"}

func orderPatchOf(o *customer.Order) orderPatch {
	format := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	return orderPatch{Status: o.Status, ShipDate: format(o.ShipDate), DeliveryDate: format(o.DeliveryDate), PaidDate: format(o.PaidDate)}
}

func (in orderPatch) apply(o *customer.Order) error {
	p := problems{}
	o.Status = p.enum("status", in.Status, customer.OrderStatuses, "")
	if o.Status == "" {
		p.add("status", "is required")
	}
	o.ShipDate, o.DeliveryDate, o.PaidDate = p.moment("ship_date", in.ShipDate), p.moment("delivery_date", in.DeliveryDate), p.moment("paid_date", in.PaidDate)
	orderDates(p, o)
	return p.err()
}

func fixedFieldProblems(patch map[string]any) error {
	p := problems{}
	for k := range patch {
		if slices.Contains(fixedOrderFields, k) {
			p.add(k, "cannot be changed; only status, ship_date, delivery_date and paid_date can")
		}
	}
	return p.err()
}

// moment parses a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time.
func (p problems) moment(field, v string) *time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return &d
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		p.add(field, "must be a date (YYYY-MM-DD) or an RFC 3339 time")
		return nil
	}
	t = t.UTC()
	return &t
}

// maxMoney is the first amount a numeric(14,2) column cannot hold.
const maxMoney = 1e12

// money checks an amount of money: not negative, within the columns' range.
func (p problems) money(field string, v float64) float64 {
	switch {
	case v < 0:
		p.add(field, "must not be negative")
	case v >= maxMoney || math.IsNaN(v):
		p.add(field, "must be less than 1000000000000")
	}
	return v
}
