package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

const (
	orderColumns = `o.id, o.customer_id, o.order_number, o.status, o.order_date, o.ship_date,
		o.delivery_date, o.paid_date, o.currency, o.total_amount, o.items_count, o.shipping_address,
		coalesce(o.location_id, ''), o.created, o.updated`

	// The order's customer, locked; merged_into lets an order for a merged
	// customer land on the survivor.
	sqlLockOrderCustomer = `SELECT id, merged_into, currency, shipping_address FROM customers
		WHERE organization_id = $1 AND id = $2 FOR UPDATE`
	sqlLockCustomers = `SELECT id FROM customers
		WHERE organization_id = $1 AND id = ANY($2) AND merged_into IS NULL ORDER BY id FOR UPDATE`

	sqlInsertOrder = `INSERT INTO orders (organization_id, id, customer_id, order_number, status, order_date,
		ship_date, delivery_date, paid_date, currency, total_amount, items_count, shipping_address, location_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, ''))
		RETURNING created, updated`
	// One statement for all lines of an order.
	sqlInsertOrderItems = `INSERT INTO order_items (organization_id, order_id, line, product_id, product_name, quantity, unit_price)
		SELECT $1, $2, i.line, i.product_id, i.product_name, i.quantity, i.unit_price
		FROM unnest($3::text[], $4::text[], $5::int[], $6::numeric[])
			WITH ORDINALITY AS i(product_id, product_name, quantity, unit_price, line)`
	sqlUpdateOrder = `UPDATE orders SET status = $3, ship_date = $4, delivery_date = $5, paid_date = $6, updated = now()
		WHERE organization_id = $1 AND id = $2 RETURNING updated`

	sqlSelectOrder          = `SELECT ` + orderColumns + ` FROM orders o WHERE o.organization_id = $1 AND o.id = $2`
	sqlSelectOrderForUpdate = sqlSelectOrder + ` FOR UPDATE`
	sqlOrderCustomer        = `SELECT customer_id FROM orders WHERE organization_id = $1 AND id = $2`
	sqlOrderByNumber        = `SELECT id FROM orders WHERE organization_id = $1 AND order_number = $2`
	sqlSelectOrderItems     = `SELECT product_id, product_name, quantity, unit_price FROM order_items
		WHERE organization_id = $1 AND order_id = $2 ORDER BY line`
)

func scanOrder(row pgx.Row) (*customer.Order, error) {
	var o customer.Order
	err := row.Scan(&o.ID, &o.CustomerID, &o.OrderNumber, &o.Status, &o.OrderDate, &o.ShipDate,
		&o.DeliveryDate, &o.PaidDate, &o.Currency, &o.TotalAmount, &o.ItemsCount, &o.ShippingAddress,
		&o.LocationID, &o.Created, &o.Updated)
	if err != nil {
		return nil, err
	}
	// pgx returns times in the process's zone; the API speaks UTC.
	o.OrderDate, o.Created, o.Updated = o.OrderDate.UTC(), o.Created.UTC(), o.Updated.UTC()
	o.ShipDate, o.DeliveryDate, o.PaidDate = utc(o.ShipDate), utc(o.DeliveryDate), utc(o.PaidDate)
	o.Items = []customer.OrderItem{}
	return &o, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateOrder stores an order and its lines and recomputes the customer's
// totals in the same transaction. The customer's currency and shipping
// address are the order's defaults; an order in another currency than the
// customer's is refused, since totals add amounts up.
func (s *Store) CreateOrder(ctx context.Context, orgID string, o *customer.Order) error {
	o.ID = customer.NewID(customer.PrefixOrder)
	err := s.inTx(ctx, func(tx pgx.Tx) error { return insertOrder(ctx, tx, orgID, o) })
	if isUniqueViolation(err, "orders_number") {
		return s.orderNumberConflict(ctx, orgID, o.OrderNumber)
	}
	if err != nil {
		return err
	}
	o.Created, o.Updated = o.Created.UTC(), o.Updated.UTC()
	return nil
}

// errOrderNumberTaken stops the retries of CreateOrderFor.
var errOrderNumberTaken = errors.New("order number taken")

// CreateOrderFor stores an order whose customer is named by identifiers:
// the SPEC §6 engine matches or creates the customer (req) in the order's
// transaction, so the customer exists exactly when the order does. The
// engine's advisory locks on the identifiers serialize concurrent orders
// for one new identity: the first creates the customer, the others match it.
func (s *Store) CreateOrderFor(ctx context.Context, orgID string, o *customer.Order, req *dedupe.Request) (dedupe.Result, error) {
	o.ID = customer.NewID(customer.PrefixOrder)
	// An order number taken is final: retrying cannot help.
	res, err := retryTx(ctx, s, func(tx pgx.Tx) (dedupe.Result, error) {
		b := &pgx.Batch{}
		cand := queueMatchRead(b, orgID, req)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return dedupe.Result{}, interpretError(fmt.Errorf("load candidates: %w", err), nil)
		}
		wb := &pgx.Batch{}
		r, err := queueMatchWrite(wb, orgID, auditContext{source: req.Source, locationID: req.LocationID}, req, cand)
		if customer.ErrorCode(err) == customer.ENOTFOUND {
			return dedupe.Result{}, customer.Invalid(map[string]string{"location_id": "no such location"})
		}
		if err != nil {
			return dedupe.Result{}, err
		}
		if err := tx.SendBatch(ctx, wb).Close(); err != nil {
			return dedupe.Result{}, interpretError(fmt.Errorf("write order customer: %w", err), nil)
		}
		o.CustomerID = r.CustomerID
		if err := insertOrder(ctx, tx, orgID, o); err != nil {
			if isUniqueViolation(err, "orders_number") {
				return dedupe.Result{}, errOrderNumberTaken
			}
			return dedupe.Result{}, err
		}
		return r, nil
	})
	if errors.Is(err, errOrderNumberTaken) {
		return dedupe.Result{}, s.orderNumberConflict(ctx, orgID, o.OrderNumber)
	}
	if err != nil {
		return dedupe.Result{}, err
	}
	o.Created, o.Updated = o.Created.UTC(), o.Updated.UTC()
	return res, nil
}

// insertOrder writes an order for its (locked) customer: the order, its
// lines and the customer's recomputed totals.
func insertOrder(ctx context.Context, tx pgx.Tx, orgID string, o *customer.Order) error {
	if err := lockOrderCustomer(ctx, tx, orgID, o); err != nil {
		return err
	}
	err := tx.QueryRow(ctx, sqlInsertOrder, orgID, o.ID, o.CustomerID, o.OrderNumber, o.Status,
		o.OrderDate, o.ShipDate, o.DeliveryDate, o.PaidDate, o.Currency, o.TotalAmount, o.ItemsCount,
		o.ShippingAddress, o.LocationID).Scan(&o.Created, &o.Updated)
	if err != nil {
		return orderWriteError(err)
	}
	if err := insertOrderItems(ctx, tx, orgID, o); err != nil {
		return err
	}
	return refreshCustomers(ctx, tx, orgID, []string{o.CustomerID}, monthOf(o.OrderDate))
}

// lockOrderCustomer locks the order's customer (following one merge) and
// applies its defaults to o.
func lockOrderCustomer(ctx context.Context, tx pgx.Tx, orgID string, o *customer.Order) error {
	var id string
	var mergedInto *string
	var currency string
	var shipTo *customer.PostalAddress
	err := tx.QueryRow(ctx, sqlLockOrderCustomer, orgID, o.CustomerID).Scan(&id, &mergedInto, &currency, &shipTo)
	if err == nil && mergedInto != nil {
		o.CustomerID = *mergedInto
		err = tx.QueryRow(ctx, sqlLockOrderCustomer, orgID, o.CustomerID).Scan(&id, &mergedInto, &currency, &shipTo)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return customer.Invalid(map[string]string{"customer_id": "no such customer"})
	}
	if err != nil {
		return interpretError(fmt.Errorf("lock customer: %w", err), nil)
	}
	switch {
	case o.Currency == "":
		o.Currency = currency
	case currency != "" && o.Currency != currency:
		return customer.Invalid(map[string]string{"currency": "must be the customer's currency (" + currency + ")"})
	}
	if o.ShippingAddress == nil {
		o.ShippingAddress = shipTo
	}
	return nil
}

func insertOrderItems(ctx context.Context, tx pgx.Tx, orgID string, o *customer.Order) error {
	if len(o.Items) == 0 {
		return nil
	}
	n := len(o.Items)
	ids, names, qty, prices := make([]string, n), make([]string, n), make([]int32, n), make([]float64, n)
	for i, it := range o.Items {
		ids[i], names[i], qty[i], prices[i] = it.ProductID, it.ProductName, int32(it.Quantity), it.UnitPrice
	}
	if _, err := tx.Exec(ctx, sqlInsertOrderItems, orgID, o.ID, ids, names, qty, prices); err != nil {
		return interpretError(fmt.Errorf("insert order items: %w", err), nil)
	}
	return nil
}

// orderWriteError maps constraint violations of an order write.
func orderWriteError(err error) error {
	if isForeignKeyViolation(err) {
		return customer.Invalid(map[string]string{"location_id": "no such location"})
	}
	return interpretError(fmt.Errorf("insert order: %w", err), nil)
}

func (s *Store) orderNumberConflict(ctx context.Context, orgID, number string) error {
	details := map[string]string{"order_number": number}
	var id string
	if err := s.pool.QueryRow(ctx, sqlOrderByNumber, orgID, number).Scan(&id); err == nil {
		details["order_id"] = id
	}
	return &customer.Error{Code: customer.ECONFLICT, Message: "Order with this order_number already exists", Details: details}
}

// CreateOrders is the bulk path (benchmarks, test data): orders and lines
// go in with COPY (copyOrders, which order imports use in their chunk's
// transaction), and the totals of every customer involved are recomputed
// once. Callers validate and apply defaults; a taken
// order_number fails the whole call.
func (s *Store) CreateOrders(ctx context.Context, orgID string, orders []*customer.Order) error {
	ids := make([]string, 0, len(orders))
	for _, o := range orders {
		if o.ID == "" {
			o.ID = customer.NewID(customer.PrefixOrder)
		}
		ids = append(ids, o.CustomerID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Locks in id order, so concurrent bulk calls cannot deadlock.
		rows, err := tx.Query(ctx, sqlLockCustomers, orgID, ids)
		if err != nil {
			return interpretError(fmt.Errorf("lock customers: %w", err), nil)
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return interpretError(fmt.Errorf("lock customers: %w", err), nil)
		}
		if len(locked) != len(ids) {
			return customer.Invalid(map[string]string{"customer_id": "no such customer: " + firstMissing(ids, locked)})
		}
		if err := copyOrders(ctx, tx, orgID, "", orders); err != nil {
			return err
		}
		return refreshCustomers(ctx, tx, orgID, ids, allTime)
	})
	if isUniqueViolation(err, "orders_number") {
		return &customer.Error{Code: customer.ECONFLICT, Message: "Order with this order_number already exists"}
	}
	return err
}

// copyOrders inserts orders (ids set, customers locked by the caller) and
// their lines with COPY, recording the import that created them ("" for
// none). The caller refreshes the customers' totals.
func copyOrders(ctx context.Context, tx pgx.Tx, orgID, importID string, orders []*customer.Order) error {
	var imp *string
	if importID != "" {
		imp = &importID
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"orders"},
		[]string{"organization_id", "id", "customer_id", "order_number", "status", "order_date", "ship_date",
			"delivery_date", "paid_date", "currency", "total_amount", "items_count", "shipping_address", "location_id",
			"import_id"},
		pgx.CopyFromSlice(len(orders), func(i int) ([]any, error) {
			o := orders[i]
			var loc *string
			if o.LocationID != "" {
				loc = &o.LocationID
			}
			return []any{orgID, o.ID, o.CustomerID, o.OrderNumber, o.Status, o.OrderDate, o.ShipDate,
				o.DeliveryDate, o.PaidDate, o.Currency, o.TotalAmount, o.ItemsCount, o.ShippingAddress, loc, imp}, nil
		}))
	if err != nil {
		return orderWriteError(err)
	}
	// The lines are streamed from the orders: an import chunk may hold
	// tens of thousands of them.
	type lineRef struct{ order, line int32 }
	var refs []lineRef
	for oi, o := range orders {
		for li := range o.Items {
			refs = append(refs, lineRef{int32(oi), int32(li)})
		}
	}
	if len(refs) == 0 {
		return nil
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"order_items"},
		[]string{"organization_id", "order_id", "line", "product_id", "product_name", "quantity", "unit_price"},
		pgx.CopyFromSlice(len(refs), func(i int) ([]any, error) {
			o := orders[refs[i].order]
			it := &o.Items[refs[i].line]
			return []any{orgID, o.ID, refs[i].line + 1, it.ProductID, it.ProductName, int32(it.Quantity), it.UnitPrice}, nil
		}))
	if err != nil {
		return interpretError(fmt.Errorf("copy order items: %w", err), nil)
	}
	return nil
}

// firstMissing returns the first of want (sorted) not in got (sorted).
func firstMissing(want, got []string) string {
	for _, w := range want {
		if _, found := slices.BinarySearch(got, w); !found {
			return w
		}
	}
	return ""
}

// FindOrderByID returns an order with its lines.
func (s *Store) FindOrderByID(ctx context.Context, orgID, id string) (*customer.Order, error) {
	var o *customer.Order
	b := &pgx.Batch{}
	b.Queue(sqlSelectOrder, orgID, id).QueryRow(func(row pgx.Row) error {
		var err error
		o, err = scanOrder(row)
		return err
	})
	var items []customer.OrderItem
	b.Queue(sqlSelectOrderItems, orgID, id).Query(func(rows pgx.Rows) error {
		var err error
		items, err = pgx.CollectRows(rows, pgx.RowToStructByPos[customer.OrderItem])
		return err
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(err, customer.NotFound("Order", id))
	}
	if items != nil {
		o.Items = items
	}
	return o, nil
}

// UpdateOrder applies fn to the locked order and stores its status and
// dates, recomputing the customer's totals in the same transaction. The
// customer is locked before the order, as CreateOrder does.
func (s *Store) UpdateOrder(ctx context.Context, orgID, id string, fn func(o *customer.Order) error) (*customer.Order, error) {
	var o *customer.Order
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var customerID string
		if err := tx.QueryRow(ctx, sqlOrderCustomer, orgID, id).Scan(&customerID); err != nil {
			return interpretError(err, customer.NotFound("Order", id))
		}
		if err := lockCustomer(ctx, tx, orgID, customerID); err != nil {
			return err
		}
		var err error
		o, err = scanOrder(tx.QueryRow(ctx, sqlSelectOrderForUpdate, orgID, id))
		if err != nil {
			return interpretError(err, customer.NotFound("Order", id))
		}
		if o.CustomerID != customerID { // a merge moved the order since it was read
			if err := lockCustomer(ctx, tx, orgID, o.CustomerID); err != nil {
				return err
			}
		}
		if err := fn(o); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, sqlUpdateOrder, orgID, id, o.Status, o.ShipDate, o.DeliveryDate, o.PaidDate).Scan(&o.Updated); err != nil {
			return interpretError(fmt.Errorf("update order: %w", err), nil)
		}
		o.Updated = o.Updated.UTC()
		return refreshCustomers(ctx, tx, orgID, []string{o.CustomerID}, monthOf(o.OrderDate))
	})
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlSelectOrderItems, orgID, id)
	if err != nil {
		return nil, interpretError(fmt.Errorf("order items: %w", err), nil)
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByPos[customer.OrderItem])
	if err != nil {
		return nil, interpretError(fmt.Errorf("order items: %w", err), nil)
	}
	if items != nil {
		o.Items = items
	}
	return o, nil
}

// FindOrders returns one page of a customer's orders, newest first, and the total.
func (s *Store) FindOrders(ctx context.Context, orgID, customerID string, f customer.OrderFilter) ([]*customer.Order, customer.Page, error) {
	args := []any{orgID, customerID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	conds := []string{"o.organization_id = $1", "o.customer_id = $2"}
	if len(f.Status) > 0 {
		conds = append(conds, "o.status = ANY("+arg(f.Status)+")")
	}
	if f.DateFrom != nil {
		conds = append(conds, "o.order_date >= "+arg(*f.DateFrom))
	}
	if f.DateTo != nil {
		conds = append(conds, "o.order_date < "+arg(*f.DateTo))
	}
	where := strings.Join(conds, " AND ")
	n := len(args)
	query := `SELECT ` + orderColumns + ` FROM orders o WHERE ` + where +
		` ORDER BY o.order_date DESC, o.id DESC LIMIT $` + strconv.Itoa(n+1) + ` OFFSET $` + strconv.Itoa(n+2)

	var exists bool
	list := []*customer.Order{}
	var total int
	b := &pgx.Batch{}
	b.Queue(`SELECT EXISTS (`+sqlCustomerExists+`)`, orgID, customerID).QueryRow(func(row pgx.Row) error { return row.Scan(&exists) })
	b.Queue(query, append(args, f.Limit, (f.Page-1)*f.Limit)...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			o, err := scanOrder(rows)
			if err != nil {
				return err
			}
			list = append(list, o)
		}
		return rows.Err()
	})
	b.Queue(`SELECT count(*) FROM orders o WHERE `+where, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list orders: %w", err), nil)
	}
	if !exists {
		return nil, customer.Page{}, customer.NotFound("Customer", customerID)
	}
	return list, customer.NewPage(total, f.Page, f.Limit), nil
}
