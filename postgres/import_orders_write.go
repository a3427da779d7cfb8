// Building an order chunk's orders and copying them in, a page of orders at a time.

package postgres

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// ordersFlush is how many built orders a chunk holds before copying them.
const ordersFlush = 1000

// finalID follows the workspace's merges from id to the surviving customer.
func finalID(w *dedupe.Workspace, id string) string {
	for range len(w.Merges()) + 1 {
		next := ""
		for _, mg := range w.Merges() {
			if mg.From == id {
				next = mg.Into
			}
		}
		if next == "" {
			return id
		}
		id = next
	}
	return id
}

// build makes the order to insert for o with its lines and shipping
// address (read with them: a summary holding it for every order of a chunk
// was half its size), on its customer as it ends up.
func (oc *orderChunk) build(w *dedupe.Workspace, o *importOrder, items []customer.OrderItem, shipTo *customer.PostalAddress) *customer.Order {
	ord := &customer.Order{ID: customer.NewID(customer.PrefixOrder), OrderNumber: o.number,
		CustomerID: finalID(w, o.customerID), Status: o.status, OrderDate: *o.orderDate,
		ShipDate: o.shipDate, DeliveryDate: o.delivDate, PaidDate: o.paidDate, Currency: o.currency,
		Items: items, ShippingAddress: shipTo, LocationID: o.location}
	var sum float64
	for _, it := range items {
		ord.ItemsCount += it.Quantity
		sum += float64(it.Quantity) * it.UnitPrice
	}
	if o.total != nil {
		ord.TotalAmount = *o.total
	} else {
		ord.TotalAmount = math.Round(sum*100) / 100
	}
	if c := w.Customer(ord.CustomerID); c != nil {
		if ord.Currency == "" {
			ord.Currency = c.Currency
		}
		if ord.ShippingAddress == nil {
			ord.ShippingAddress = c.ShippingAddress
		}
	}
	return ord
}

// write inserts the chunk's orders and lines, reading the rows again
// grouped by order and copying a page of orders at a time, and refreshes
// the totals and rollups of their customers (locked: candidates or created
// here).
func (oc *orderChunk) write(ctx context.Context, tx pgx.Tx, in *chunkInput, chunk int, w *dedupe.Workspace) error {
	if oc.counts.created == 0 {
		return nil
	}
	var (
		built    []*customer.Order
		cur      *importOrder
		items    []customer.OrderItem
		shipTo   *customer.PostalAddress // the first the order's rows give
		ids      = map[string]bool{}
		from, to time.Time
	)
	done := func() {
		if cur == nil {
			return
		}
		o := oc.build(w, cur, items, shipTo)
		built, items, shipTo = append(built, o), nil, nil
		ids[o.CustomerID] = true
		if from.IsZero() || o.OrderDate.Before(from) {
			from = o.OrderDate
		}
		if o.OrderDate.After(to) {
			to = o.OrderDate
		}
	}
	copyBuilt := func(n int) error {
		if len(built) < n || len(built) == 0 {
			return nil
		}
		if err := copyOrders(ctx, tx, in.orgID, in.importID, built); err != nil {
			return err
		}
		built = built[:0]
		return nil
	}
	err := in.pages(ctx, tx, chunk, true, func(rows []customer.ImportRow, _ []bool) error {
		for i := range rows {
			r := &rows[i]
			o := oc.byNumber[r.OrderKey]
			if o.state != orderOK {
				continue
			}
			if o != cur {
				done()
				cur = o
			}
			if l := r.Record.Order; l != nil {
				if l.Item != nil {
					items = append(items, *l.Item)
				}
				if shipTo == nil {
					shipTo = l.ShippingAddress
				}
			}
		}
		// The order at the end of the page may go on in the next one.
		return copyBuilt(ordersFlush)
	})
	if err != nil {
		return err
	}
	done()
	if err := copyBuilt(1); err != nil {
		return err
	}
	return refreshCustomers(ctx, tx, in.orgID, slices.Sorted(mapKeys(ids)), timeRange{from: monthOf(from).from, to: monthOf(to).to})
}
