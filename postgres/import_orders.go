package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// Order imports (kind=orders). The plan puts every row of an order in one
// chunk; the chunk groups its rows by order number and handles each order
// as a whole: either all its rows are applied (their customers matched or
// created by the engine, in file order, and the order inserted for the
// customer of its first row with an identifier), or none is (the order
// already exists: a warning on each row, counted unchanged; the order is
// invalid: an error on each row, counted invalid). An invalid order's rows
// therefore come back together in the error CSV, ready to fix and upload
// again.

const (
	sqlExistingOrderNumbers = `SELECT order_number FROM orders WHERE organization_id = $1 AND order_number = ANY($2)`
	sqlLocationRefs         = `SELECT id, lower(code), lower(name) FROM locations
		WHERE organization_id = $1 AND (id = ANY($2) OR lower(code) = ANY($3) OR lower(name) = ANY($3))`
	sqlInsertChunkProblems = `INSERT INTO import_errors (organization_id, import_id, row_num, seq, severity, column_name, reason, raw)
		SELECT $1, $2, r, s, sv, c, rs, coalesce((SELECT raw FROM import_rows
				WHERE organization_id = $1 AND import_id = $2 AND row_num = r), '{}')
		FROM unnest($3::int[], $4::smallint[], $5::text[], $6::text[], $7::text[]) AS u(r, s, sv, c, rs)
		ON CONFLICT DO NOTHING`
)

// chunkProblemSeq numbers problems found while merging after those found
// while reading (a row has at most a few hundred of those).
const chunkProblemSeq = 10000

// Order states in a chunk.
const (
	orderOK      = iota
	orderExists  // the order number is taken: skipped
	orderInvalid // the order cannot be imported: its rows are errors
)

// importOrder is one order of a chunk, gathered from its rows.
type importOrder struct {
	number string
	rows   []int // indexes of its rows in the chunk, in file order
	state  int
	reason string // why invalid

	status                                   string
	orderDate, paidDate, shipDate, delivDate *time.Time
	paidRow, shipRow, delivRow, locRow       int
	currency                                 string
	total                                    *float64
	location                                 string
	shipTo                                   *customer.PostalAddress
	items                                    []customer.OrderItem
	identified                               bool   // some row names a customer
	decided                                  bool   // its first identified row was reached
	customerID                               string // the customer of that row
}

// orderChunk is the order side of merging one chunk of an order import.
type orderChunk struct {
	opts     customer.ImportOptions
	rows     []customer.ImportRow
	orders   []*importOrder
	byNumber map[string]*importOrder

	existing  map[string]bool
	locations []locationRef

	problems []chunkProblem
	seq      map[int]int  // row number → problems added
	warned   map[int]bool // rows counted as warned (while reading or here)
	invalid  int          // rows that became errors here
	warnings int          // change of the rows-with-warnings count
	counts   struct{ created, skipped, invalid int }
	deferred []int // applied rows without identifiers: classified at the end
	built    []*customer.Order
}

type chunkProblem struct {
	row                      int
	seq                      int
	severity, column, reason string
}

type locationRef struct{ id, code, name string }

func newOrderChunk(opts customer.ImportOptions, rows []customer.ImportRow) *orderChunk {
	oc := &orderChunk{opts: opts, rows: rows, byNumber: map[string]*importOrder{}, existing: map[string]bool{},
		seq: map[int]int{}, warned: map[int]bool{}}
	for i := range rows {
		r := &rows[i]
		if r.Record.Warned {
			oc.warned[r.Num] = true
		}
		o := oc.byNumber[r.OrderKey]
		if o == nil {
			o = &importOrder{number: r.OrderKey}
			oc.byNumber[r.OrderKey] = o
			oc.orders = append(oc.orders, o)
		}
		o.rows = append(o.rows, i)
	}
	return oc
}

// queueReads adds the chunk's lookups to the candidates batch: which order
// numbers exist, and the locations rows name.
func (oc *orderChunk) queueReads(b *pgx.Batch, orgID string) {
	numbers := make([]string, 0, len(oc.orders))
	for _, o := range oc.orders {
		numbers = append(numbers, o.number)
	}
	b.Queue(sqlExistingOrderNumbers, orgID, numbers).Query(func(rows pgx.Rows) error {
		var n string
		_, err := pgx.ForEachRow(rows, []any{&n}, func() error {
			oc.existing[n] = true
			return nil
		})
		return err
	})
	var ids, lowered []string
	for i := range oc.rows {
		if l := oc.line(i); l != nil && l.Location != "" && !slices.Contains(ids, l.Location) {
			ids, lowered = append(ids, l.Location), append(lowered, strings.ToLower(l.Location))
		}
	}
	if len(ids) > 0 {
		b.Queue(sqlLocationRefs, orgID, ids, lowered).Query(func(rows pgx.Rows) error {
			var l locationRef
			_, err := pgx.ForEachRow(rows, []any{&l.id, &l.code, &l.name}, func() error {
				oc.locations = append(oc.locations, l)
				return nil
			})
			return err
		})
	}
}

func (oc *orderChunk) line(i int) *customer.ImportOrderLine { return oc.rows[i].Record.Order }

func hasIdentifier(r *customer.ImportRow) bool {
	return r.EmailKey != "" || r.PhoneKey != "" || r.External != ""
}

// problem records a problem found while merging.
func (oc *orderChunk) problem(i int, severity, column, reason string) {
	num := oc.rows[i].Num
	oc.problems = append(oc.problems, chunkProblem{row: num, seq: chunkProblemSeq + oc.seq[num],
		severity: severity, column: column, reason: reason})
	oc.seq[num]++
	if severity == customer.SeverityWarning && !oc.warned[num] {
		oc.warned[num] = true
		oc.warnings++
	}
}

// resolveLocation finds a location by id, else code, else unique name.
func (oc *orderChunk) resolveLocation(v string) (string, bool) {
	low := strings.ToLower(v)
	for _, l := range oc.locations {
		if l.id == v {
			return l.id, true
		}
	}
	for _, l := range oc.locations {
		if l.code != "" && l.code == low {
			return l.id, true
		}
	}
	found := ""
	for _, l := range oc.locations {
		if l.name == low {
			if found != "" {
				return "", false // two locations of that name
			}
			found = l.id
		}
	}
	return found, found != ""
}

// gather collects each order's values from its rows (the first row with a
// value gives it) and decides what can be decided before matching.
func (oc *orderChunk) gather() {
	for _, o := range oc.orders {
		if oc.existing[o.number] {
			o.state = orderExists
			for _, i := range o.rows {
				oc.rows[i].Record.Order = nil
			}
			continue
		}
		var badLine []int
		for _, i := range o.rows {
			r := &oc.rows[i]
			if hasIdentifier(r) {
				o.identified = true
			}
			l := r.Record.Order
			if l == nil {
				continue
			}
			if o.status == "" {
				o.status = l.Status
			}
			if o.orderDate == nil {
				o.orderDate = l.OrderDate
			}
			if o.paidDate == nil && l.PaidDate != nil {
				o.paidDate, o.paidRow = l.PaidDate, i
			}
			if o.shipDate == nil && l.ShipDate != nil {
				o.shipDate, o.shipRow = l.ShipDate, i
			}
			if o.delivDate == nil && l.DeliveryDate != nil {
				o.delivDate, o.delivRow = l.DeliveryDate, i
			}
			if o.currency == "" {
				o.currency = l.Currency
			}
			if o.total == nil {
				o.total = l.Total
			}
			if o.location == "" && l.Location != "" {
				o.location, o.locRow = l.Location, i
			}
			if o.shipTo == nil {
				o.shipTo = l.ShippingAddress
			}
			if l.Item != nil {
				o.items = append(o.items, *l.Item)
			}
			if l.BadLine {
				badLine = append(badLine, r.Num)
			}
			// Gathered into the order: the line is not read again (a big
			// group's lines were a quarter of its chunk's memory).
			r.Record.Order = nil
		}
		switch {
		case !o.identified:
			o.state, o.reason = orderInvalid, "order not imported: no valid email, phone or customer id on any of its rows"
		case len(badLine) > 0:
			o.state, o.reason = orderInvalid, fmt.Sprintf("order not imported: a line could not be read on row %q", joinInts(badLine))
		case o.orderDate == nil:
			o.state, o.reason = orderInvalid, "order not imported: no valid order date on any of its rows"
		case o.total == nil && len(o.items) == 0:
			o.state, o.reason = orderInvalid, "order not imported: no total and no lines"
		}
		if o.state != orderOK {
			continue
		}
		// Events before the order are dropped (POST /api/v1/orders refuses them).
		day := dayOf(*o.orderDate)
		for _, d := range []struct {
			at     **time.Time
			row    int
			column string
		}{{&o.shipDate, o.shipRow, "ship_date"}, {&o.delivDate, o.delivRow, "delivery_date"}, {&o.paidDate, o.paidRow, "paid_date"}} {
			if *d.at != nil && dayOf(**d.at).Before(day) {
				oc.problem(d.row, customer.SeverityWarning, d.column, fmt.Sprintf("before the order date, dropped: %q", (*d.at).Format(time.DateOnly)))
				*d.at = nil
			}
		}
		if o.shipDate != nil && o.delivDate != nil && dayOf(*o.delivDate).Before(dayOf(*o.shipDate)) {
			oc.problem(o.delivRow, customer.SeverityWarning, "delivery_date", fmt.Sprintf("before the ship date, dropped: %q", o.delivDate.Format(time.DateOnly)))
			o.delivDate = nil
		}
		if o.location != "" {
			id, ok := oc.resolveLocation(o.location)
			if !ok {
				oc.problem(o.locRow, customer.SeverityWarning, "location_id", fmt.Sprintf("unknown location dropped: %q", o.location))
			}
			o.location = id
		}
		if o.location == "" {
			o.location = oc.opts.LocationID
		}
		if o.status == "" {
			o.status = statusFromDates(o)
		}
	}
}

// statusFromDates is the status of an order whose rows name none.
func statusFromDates(o *importOrder) string {
	switch {
	case o.delivDate != nil:
		return customer.OrderDelivered
	case o.shipDate != nil:
		return customer.OrderShipped
	case o.paidDate != nil:
		return customer.OrderProcessing
	}
	return customer.OrderPending
}

func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// peek is the customer the engine will match for in (nil: it will create one).
func peek(w *dedupe.Workspace, in *dedupe.Incoming, opts dedupe.Options) *customer.Customer {
	priority := opts.Priority
	if len(priority) == 0 {
		priority = dedupe.DefaultPriority
	}
	keys := in.Keys()
	for _, kind := range priority {
		for _, k := range keys {
			if k.Kind == kind && w.Owner(k) != "" {
				return w.Customer(w.Owner(k))
			}
		}
	}
	return nil
}

// apply merges the chunk's rows in file order: rows of orders that can be
// imported go through the engine like customer rows; the others are
// counted and reported.
func (oc *orderChunk) apply(m *chunkMerge, w *dedupe.Workspace) error {
	oc.gather()
	orderOf := make([]*importOrder, len(oc.rows))
	for _, o := range oc.orders {
		for _, i := range o.rows {
			orderOf[i] = o
		}
	}
	for i := range oc.rows {
		r, o := &oc.rows[i], orderOf[i]
		if o.state == orderOK && !o.decided && hasIdentifier(r) {
			o.decided = true
			ids := incomingKeys(r)
			if c := peek(w, &ids, m.dopts); c != nil && c.Currency != "" && o.currency != "" && c.Currency != o.currency {
				o.state, o.reason = orderInvalid, fmt.Sprintf("order not imported: its currency is not the customer's (%s): %q", c.Currency, o.currency)
			}
		}
		switch o.state {
		case orderExists:
			oc.problem(i, customer.SeverityWarning, "", fmt.Sprintf("order already exists, skipped: %q", o.number))
			m.counts.Processed++
			m.counts.Unchanged++
			m.sample("unchanged", r.Num)
			continue
		case orderInvalid:
			continue // reported once the state is final (see below)
		}
		if !hasIdentifier(r) {
			oc.deferred = append(oc.deferred, i)
			continue
		}
		id, err := m.apply(w, r, incoming(r))
		if err != nil {
			return fmt.Errorf("row %d: %w", r.Num, err)
		}
		if o.customerID == "" {
			o.customerID = id
		} else if id != o.customerID {
			oc.problem(i, customer.SeverityWarning, "", fmt.Sprintf("customer differs from the order's first row; the order is %q's", o.customerID))
		}
	}
	for _, i := range oc.deferred {
		o := orderOf[i]
		if o.state != orderOK {
			continue // the order turned out invalid after this row was read
		}
		m.counts.Processed++
		if w.IsCreated(finalID(w, o.customerID)) {
			m.counts.MergedInFile++
			m.sample("merge_in_file", oc.rows[i].Num)
		} else {
			m.counts.Unchanged++
			m.sample("unchanged", oc.rows[i].Num)
		}
	}
	for _, o := range oc.orders {
		switch o.state {
		case orderExists:
			oc.counts.skipped++
			m.sample("order_skipped", oc.rows[o.rows[0]].Num)
		case orderInvalid:
			oc.counts.invalid++
			m.sample("order_invalid", oc.rows[o.rows[0]].Num)
			for _, i := range o.rows {
				oc.problem(i, customer.SeverityError, "", o.reason)
				oc.invalid++
				if oc.warned[oc.rows[i].Num] {
					oc.warnings-- // the row is no longer imported
				}
			}
		default:
			oc.counts.created++
			m.sample("order_create", oc.rows[o.rows[0]].Num)
			oc.built = append(oc.built, oc.build(w, o))
		}
	}
	return nil
}

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

// build makes the order to insert for o, on its customer as it ends up.
func (oc *orderChunk) build(w *dedupe.Workspace, o *importOrder) *customer.Order {
	ord := &customer.Order{ID: customer.NewID(customer.PrefixOrder), OrderNumber: o.number,
		CustomerID: finalID(w, o.customerID), Status: o.status, OrderDate: *o.orderDate,
		ShipDate: o.shipDate, DeliveryDate: o.delivDate, PaidDate: o.paidDate, Currency: o.currency,
		Items: o.items, ShippingAddress: o.shipTo, LocationID: o.location}
	var sum float64
	for _, it := range o.items {
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

// queueChunkProblems writes problems found while merging to the import's report.
func queueChunkProblems(b *pgx.Batch, orgID, importID string, problems []chunkProblem) {
	if len(problems) == 0 {
		return
	}
	n := len(problems)
	rows, seqs := make([]int32, n), make([]int16, n)
	sev, cols, reasons := make([]string, n), make([]string, n), make([]string, n)
	for i, p := range problems {
		rows[i], seqs[i], sev[i], cols[i], reasons[i] = int32(p.row), int16(p.seq), p.severity, p.column, p.reason
	}
	b.Queue(sqlInsertChunkProblems, orgID, importID, rows, seqs, sev, cols, reasons)
}

// write inserts the chunk's orders and lines and refreshes the totals and
// rollups of their customers (locked: candidates or created here).
func (oc *orderChunk) write(ctx context.Context, tx pgx.Tx, orgID, importID string) error {
	if len(oc.built) == 0 {
		return nil
	}
	if err := copyOrders(ctx, tx, orgID, importID, oc.built); err != nil {
		return err
	}
	ids := make([]string, 0, len(oc.built))
	from, to := oc.built[0].OrderDate, oc.built[0].OrderDate
	for _, o := range oc.built {
		ids = append(ids, o.CustomerID)
		if o.OrderDate.Before(from) {
			from = o.OrderDate
		}
		if o.OrderDate.After(to) {
			to = o.OrderDate
		}
	}
	slices.Sort(ids)
	return refreshCustomers(ctx, tx, orgID, slices.Compact(ids), timeRange{from: monthOf(from).from, to: monthOf(to).to})
}
