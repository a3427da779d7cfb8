package postgres

import (
	"context"
	"fmt"
	"maps"
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
//
// A chunk holds every line of its customers, and one customer may have
// hundreds of thousands (walk-in sales all on the store's phone), so an
// order chunk does not hold its rows: it reads them three times, a page at
// a time (chunkInput.pages: a chunk of one page is read once) — to gather
// each order's values, to apply the rows in file order, and grouped by
// order to build and copy the orders. What it keeps is a summary per order
// and 8 bytes a row.

const (
	sqlExistingOrderNumbers = `SELECT order_number FROM orders WHERE organization_id = $1 AND order_number = ANY($2)`
	sqlLocationRefs         = `SELECT id, lower(code), lower(name) FROM locations
		WHERE organization_id = $1 AND (id = ANY($2) OR lower(code) = ANY($3) OR lower(name) = ANY($3))`
)

// Problems a merge may find on a row of an order, each with its own
// sequence number after chunkProblemSeq (no per-row counter to keep: a
// re-uploaded export warns on every row).
const (
	problemShipDate = iota
	problemDeliveryDate
	problemPaidDate
	problemLocation
	problemRow     // the order exists, or the row names another customer
	problemInvalid // the order cannot be imported
)

// Order states in a chunk.
const (
	orderOK      = iota
	orderExists  // the order number is taken: skipped
	orderInvalid // the order cannot be imported: its rows are errors
)

// orderRow is a row of an order: its number, and whether it got a warning
// while read.
type orderRow struct {
	num    int32
	warned bool
}

// importOrder is one order of a chunk, gathered from its rows.
type importOrder struct {
	number string
	rows   []orderRow // in file order
	state  int
	reason string // why invalid

	status                                   string
	orderDate, paidDate, shipDate, delivDate *time.Time
	paidRow, shipRow, delivRow, locRow       orderRow
	currency                                 string
	total                                    *float64
	location                                 string
	lines                                    int     // rows with a line
	badLines                                 []int   // rows whose line could not be read
	warnedHere                               []int32 // rows warned while merged
	identified                               bool    // some row names a customer
	decided                                  bool    // its first identified row was reached
	customerID                               string
}

// orderChunk is the order side of merging one chunk of an order import.
type orderChunk struct {
	opts     customer.ImportOptions
	orders   []*importOrder
	byNumber map[string]*importOrder

	locNames  map[string]bool // locations named by rows, as written
	locations []locationRef

	problems []chunkProblem
	invalid  int // rows that became errors here
	warnings int // change of the rows-with-warnings count
	counts   struct{ created, skipped, invalid int }
	deferred []deferredRow // applied rows without identifiers: classified at the end
}

type deferredRow struct {
	num   int
	order *importOrder
}

type locationRef struct{ id, code, name string }

func newOrderChunk(opts customer.ImportOptions) *orderChunk {
	return &orderChunk{opts: opts, byNumber: map[string]*importOrder{}, locNames: map[string]bool{}}
}

// runOrderChunk merges one chunk of an order import (see above).
func runOrderChunk(ctx context.Context, tx pgx.Tx, in *chunkInput, chunk int, probeAll bool) (*ChunkOutcome, error) {
	orgID, importID, opts := in.orgID, in.importID, in.opts
	oc := newOrderChunk(opts)
	cand, err := in.candidates(ctx, tx, chunk, probeAll, nil, oc.gather)
	if err != nil {
		return nil, err
	}
	cb := &pgx.Batch{}
	oc.queueReads(cb, orgID)
	if err := tx.SendBatch(ctx, cb).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("load orders of chunk %d: %w", chunk, err), nil)
	}
	oc.decide()
	m := newChunkMerge(opts, in.settings, cand)
	m.columns = customer.FieldColumns(in.headers, in.mapping)
	w, err := cand.workspace(m.dopts.CanonicalEmails)
	if err != nil {
		return nil, err
	}
	err = in.pages(ctx, tx, chunk, false, func(rows []customer.ImportRow, _ []bool) error {
		for i := range rows {
			if err := oc.apply(m, w, &rows[i]); err != nil {
				return err
			}
		}
		return flushProblems(ctx, tx, orgID, importID, &oc.problems, problemsFlush)
	})
	if err != nil {
		return nil, err
	}
	if err := oc.finish(ctx, tx, orgID, importID, m, w); err != nil {
		return nil, err
	}

	wb := &pgx.Batch{}
	if !opts.DryRun {
		m.queueWrites(wb, orgID, importID, w)
	}
	// Problems are the import's report, written in a dry run too.
	queueChunkProblems(wb, orgID, importID, oc.problems)
	m.queueProblems(wb, orgID, importID)
	m.counts.Invalid += oc.invalid
	m.counts.Warnings += oc.warnings
	m.counts.OrdersCreated, m.counts.OrdersSkipped, m.counts.OrdersInvalid = oc.counts.created, oc.counts.skipped, oc.counts.invalid
	out, err := queueChunkDone(ctx, tx, wb, in, chunk, m)
	if err != nil {
		return nil, err
	}
	if !opts.DryRun {
		if err := oc.write(ctx, tx, in, chunk, w); err != nil {
			return nil, fmt.Errorf("write orders of chunk %d: %w", chunk, err)
		}
	}
	return out, nil
}

// queueReads queues the chunk's lookups: which order numbers exist, and
// the locations rows name.
func (oc *orderChunk) queueReads(b *pgx.Batch, orgID string) {
	numbers := make([]string, 0, len(oc.orders))
	for _, o := range oc.orders {
		numbers = append(numbers, o.number)
	}
	b.Queue(sqlExistingOrderNumbers, orgID, numbers).Query(func(rows pgx.Rows) error {
		var n string
		_, err := pgx.ForEachRow(rows, []any{&n}, func() error {
			if o := oc.byNumber[n]; o != nil {
				o.state = orderExists
			}
			return nil
		})
		return err
	})
	if len(oc.locNames) > 0 {
		names := slices.Collect(maps.Keys(oc.locNames))
		lowered := make([]string, len(names))
		for i, l := range names {
			lowered[i] = strings.ToLower(l)
		}
		b.Queue(sqlLocationRefs, orgID, names, lowered).Query(func(rows pgx.Rows) error {
			var l locationRef
			_, err := pgx.ForEachRow(rows, []any{&l.id, &l.code, &l.name}, func() error {
				oc.locations = append(oc.locations, l)
				return nil
			})
			return err
		})
	}
}

func hasIdentifier(r *customer.ImportRow) bool {
	return r.EmailKey != "" || r.PhoneKey != "" || r.External != ""
}

// problem records a problem found while merging on row r of order o.
func (oc *orderChunk) problem(o *importOrder, r orderRow, kind int, severity, column, reason string) {
	oc.problems = append(oc.problems, chunkProblem{row: int(r.num), seq: chunkProblemSeq + kind,
		severity: severity, column: column, reason: reason})
	if severity == customer.SeverityWarning && !o.warned(r) {
		oc.warnings++
		if o.state == orderOK { // it may still turn invalid (finish)
			o.warnedHere = append(o.warnedHere, r.num)
		}
	}
}

// warned reports whether row r of o has a warning (from reading or here).
func (o *importOrder) warned(r orderRow) bool {
	return r.warned || slices.Contains(o.warnedHere, r.num)
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

// gather adds a row to its order: the first row with a value gives it.
func (oc *orderChunk) gather(r *customer.ImportRow) {
	o := oc.byNumber[r.OrderKey]
	if o == nil {
		o = &importOrder{number: r.OrderKey}
		oc.byNumber[r.OrderKey] = o
		oc.orders = append(oc.orders, o)
	}
	row := orderRow{num: int32(r.Num), warned: r.Record.Warned}
	o.rows = append(o.rows, row)
	if hasIdentifier(r) {
		o.identified = true
	}
	l := r.Record.Order
	if l == nil {
		return
	}
	if o.status == "" {
		o.status = l.Status
	}
	if o.orderDate == nil {
		o.orderDate = l.OrderDate
	}
	if o.paidDate == nil && l.PaidDate != nil {
		o.paidDate, o.paidRow = l.PaidDate, row
	}
	if o.shipDate == nil && l.ShipDate != nil {
		o.shipDate, o.shipRow = l.ShipDate, row
	}
	if o.delivDate == nil && l.DeliveryDate != nil {
		o.delivDate, o.delivRow = l.DeliveryDate, row
	}
	if o.currency == "" {
		o.currency = l.Currency
	}
	if o.total == nil {
		o.total = l.Total
	}
	if o.location == "" && l.Location != "" {
		o.location, o.locRow = l.Location, row
		oc.locNames[l.Location] = true
	}
	if l.Item != nil {
		o.lines++
	}
	if l.BadLine {
		o.badLines = append(o.badLines, r.Num)
	}
}

// decide settles what can be settled before matching, once the orders are
// gathered and the existing order numbers and locations read.
func (oc *orderChunk) decide() {
	for _, o := range oc.orders {
		switch {
		case o.state == orderExists:
			// Skipped whole: the first row names it in the samples.
			o.rows = []orderRow{o.rows[0]}
		case !o.identified:
			o.state, o.reason = orderInvalid, "order not imported: no valid email, phone or customer id on any of its rows"
		case len(o.badLines) > 0:
			o.state, o.reason = orderInvalid, fmt.Sprintf("order not imported: a line could not be read on row %q", joinInts(o.badLines))
		case o.orderDate == nil:
			o.state, o.reason = orderInvalid, "order not imported: no valid order date on any of its rows"
		case o.total == nil && o.lines == 0:
			o.state, o.reason = orderInvalid, "order not imported: no total and no lines"
		}
		if o.state != orderOK {
			continue
		}
		// Events before the order are dropped (POST /api/v1/orders refuses them).
		day := dayOf(*o.orderDate)
		for _, d := range []struct {
			at     **time.Time
			row    orderRow
			column string
			kind   int
		}{{&o.shipDate, o.shipRow, "ship_date", problemShipDate}, {&o.delivDate, o.delivRow, "delivery_date", problemDeliveryDate},
			{&o.paidDate, o.paidRow, "paid_date", problemPaidDate}} {
			if *d.at != nil && dayOf(**d.at).Before(day) {
				oc.problem(o, d.row, d.kind, customer.SeverityWarning, d.column, fmt.Sprintf("before the order date, dropped: %q", (*d.at).Format(time.DateOnly)))
				*d.at = nil
			}
		}
		if o.shipDate != nil && o.delivDate != nil && dayOf(*o.delivDate).Before(dayOf(*o.shipDate)) {
			oc.problem(o, o.delivRow, problemDeliveryDate, customer.SeverityWarning, "delivery_date", fmt.Sprintf("before the ship date, dropped: %q", o.delivDate.Format(time.DateOnly)))
			o.delivDate = nil
		}
		if o.location != "" {
			id, ok := oc.resolveLocation(o.location)
			if !ok {
				oc.problem(o, o.locRow, problemLocation, customer.SeverityWarning, "location_id", fmt.Sprintf("unknown location dropped: %q", o.location))
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

// apply merges one row, in file order: rows of orders that can be
// imported go through the engine like customer rows; the others are
// counted and reported.
func (oc *orderChunk) apply(m *chunkMerge, w *dedupe.Workspace, r *customer.ImportRow) error {
	o := oc.byNumber[r.OrderKey]
	row := orderRow{num: int32(r.Num), warned: r.Record.Warned}
	if o.state == orderOK && !o.decided && hasIdentifier(r) {
		o.decided = true
		if c := w.Customer(w.Match(incoming(r), m.dopts)); c != nil && c.Currency != "" && o.currency != "" && c.Currency != o.currency {
			o.state, o.reason = orderInvalid, fmt.Sprintf("order not imported: its currency is not the customer's (%s): %q", c.Currency, o.currency)
		}
	}
	switch o.state {
	case orderExists:
		oc.problem(o, row, problemRow, customer.SeverityWarning, "", fmt.Sprintf("order already exists, skipped: %q", o.number))
		m.counts.Processed++
		m.counts.Unchanged++
		m.sample("unchanged", r.Num)
		return nil
	case orderInvalid:
		return nil // reported once the state is final (finish)
	}
	if !hasIdentifier(r) {
		oc.deferred = append(oc.deferred, deferredRow{num: r.Num, order: o})
		return nil
	}
	id, err := m.apply(w, r, incoming(r))
	if err != nil {
		return fmt.Errorf("row %d: %w", r.Num, err)
	}
	if id == "" { // refused (only shared identifiers): like a row without any
		oc.deferred = append(oc.deferred, deferredRow{num: r.Num, order: o})
		return nil
	}
	if o.customerID == "" {
		o.customerID = id
	} else if id != o.customerID {
		oc.problem(o, row, problemRow, customer.SeverityWarning, "", fmt.Sprintf("customer differs from the order's first row; the order is %q's", o.customerID))
	}
	return nil
}

// finish classifies the rows without identifiers and counts and reports
// each order once every row is applied.
func (oc *orderChunk) finish(ctx context.Context, tx pgx.Tx, orgID, importID string, m *chunkMerge, w *dedupe.Workspace) error {
	for _, d := range oc.deferred {
		if d.order.state != orderOK {
			continue // the order turned out invalid after this row was read
		}
		m.counts.Processed++
		if w.IsCreated(finalID(w, d.order.customerID)) {
			m.counts.MergedInFile++
			m.sample("merge_in_file", d.num)
		} else {
			m.counts.Unchanged++
			m.sample("unchanged", d.num)
		}
	}
	oc.deferred = nil
	for _, o := range oc.orders {
		first := int(o.rows[0].num)
		switch o.state {
		case orderExists:
			oc.counts.skipped++
			m.sample("order_skipped", first)
		case orderInvalid:
			oc.counts.invalid++
			m.sample("order_invalid", first)
			for _, r := range o.rows {
				oc.problem(o, r, problemInvalid, customer.SeverityError, "", o.reason)
				oc.invalid++
				if o.warned(r) {
					oc.warnings-- // the row is no longer imported
				}
			}
			if err := flushProblems(ctx, tx, orgID, importID, &oc.problems, problemsFlush); err != nil {
				return err
			}
		default:
			oc.counts.created++
			m.sample("order_create", first)
		}
		o.rows = nil
	}
	return nil
}
