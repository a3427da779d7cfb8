// Customers' order totals and monthly rollups, recomputed from their orders (analytics reads them).

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const (
	// Totals are recomputed from the orders, never adjusted by deltas, so
	// they cannot drift; the aggregate without GROUP BY always yields a row,
	// which resets a customer whose last counted order was cancelled.
	// customer_since moves back to the first order when history predates
	// the record (imported orders).
	sqlRecomputeCustomerTotals = `UPDATE customers c
		SET (total_orders, lifetime_value, current_balance, customer_since) = (
			SELECT count(*), coalesce(sum(o.total_amount), 0),
				coalesce(sum(o.total_amount) FILTER (WHERE o.paid_date IS NULL), 0),
				LEAST(c.customer_since, min(o.order_date))
			FROM orders o
			WHERE o.organization_id = c.organization_id AND o.customer_id = c.id AND ` + countedOrder + `),
			-- the totals are part of the customer: a sync (sort=updated) sees them change
			updated = now()
		WHERE c.organization_id = $1 AND c.id = ANY($2)`

	// The rollups of customers ($2) for orders dated in [$3, $4): deleted,
	// then rebuilt from the orders.
	sqlDeleteOrderMonths = `DELETE FROM customer_order_months
		WHERE organization_id = $1 AND customer_id = ANY($2) AND month >= ` + monthOfFrom + ` AND month < ` + monthOfTo
	sqlInsertOrderMonths = `INSERT INTO customer_order_months (organization_id, customer_id, month, orders,
			revenue, paid_orders, payment_days)
		SELECT o.organization_id, o.customer_id, ` + monthOfOrder + `, count(*), sum(o.total_amount),
			count(o.paid_date), coalesce(sum(` + paymentDays + `), 0)
		FROM orders o
		WHERE o.organization_id = $1 AND o.customer_id = ANY($2) AND o.order_date >= $3 AND o.order_date < $4
			AND ` + countedOrder + `
		GROUP BY 1, 2, 3`
	sqlDeleteProductMonths = `DELETE FROM customer_product_months
		WHERE organization_id = $1 AND customer_id = ANY($2) AND month >= ` + monthOfFrom + ` AND month < ` + monthOfTo
	sqlInsertProductMonths = `INSERT INTO customer_product_months (organization_id, customer_id, month, product_id,
			product_name, quantity, revenue)
		SELECT o.organization_id, o.customer_id, ` + monthOfOrder + `, i.product_id,
			(array_agg(i.product_name ORDER BY o.order_date DESC, o.id DESC, i.line))[1],
			sum(i.quantity), sum(i.quantity * i.unit_price)
		FROM orders o
		JOIN order_items i ON i.organization_id = o.organization_id AND i.order_id = o.id
		WHERE o.organization_id = $1 AND o.customer_id = ANY($2) AND o.order_date >= $3 AND o.order_date < $4
			AND ` + countedOrder + `
		GROUP BY 1, 2, 3, 4`
)

// countedOrder is the one definition of an order that counts toward lifetime
// value, order totals, balances and analytics (SPEC §13).
const countedOrder = `o.status NOT IN ('cancelled', 'returned')`

// paymentDays is an order's days from order to payment (never negative:
// paid the same day it was placed).
const paymentDays = `greatest(0, date_part('epoch', o.paid_date - o.order_date) / 86400)`

// The first day of the UTC calendar month of an order, and of the range
// bounds $3 and $4 (infinite bounds stay infinite).
const (
	monthOfOrder = `date_trunc('month', o.order_date AT TIME ZONE 'UTC')::date`
	monthOfFrom  = `date_trunc('month', $3::timestamptz AT TIME ZONE 'UTC')::date`
	monthOfTo    = `date_trunc('month', $4::timestamptz AT TIME ZONE 'UTC')::date`
)

// timeRange is a half-open range of order dates.
type timeRange struct{ from, to pgtype.Timestamptz }

// allTime covers every order date.
var allTime = timeRange{
	from: pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true},
	to:   pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true},
}

// monthOf is the UTC calendar month holding t, the unit of the rollups.
func monthOf(t time.Time) timeRange {
	y, m, _ := t.UTC().Date()
	start := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return timeRange{from: pgtype.Timestamptz{Time: start, Valid: true}, to: pgtype.Timestamptz{Time: start.AddDate(0, 1, 0), Valid: true}}
}

// refreshCustomers recomputes, from their orders, the totals of customers
// and their monthly rollups for the orders dated in r. Callers hold the
// customers' row locks, so no two writers refresh one customer at once.
func refreshCustomers(ctx context.Context, tx pgx.Tx, orgID string, customerIDs []string, r timeRange) error {
	b := &pgx.Batch{}
	queueRefreshCustomers(b, orgID, customerIDs, r)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return interpretError(fmt.Errorf("refresh customer totals: %w", err), nil)
	}
	return nil
}

// queueRefreshCustomers queues the statements of refreshCustomers.
func queueRefreshCustomers(b *pgx.Batch, orgID string, customerIDs []string, r timeRange) {
	b.Queue(sqlRecomputeCustomerTotals, orgID, customerIDs)
	for _, q := range []string{sqlDeleteOrderMonths, sqlInsertOrderMonths, sqlDeleteProductMonths, sqlInsertProductMonths} {
		b.Queue(q, orgID, customerIDs, r.from, r.to)
	}
}
