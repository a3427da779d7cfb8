package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/linkitworks/customers/customer"
)

const (
	sqlSelectCustomerFacts = `SELECT id, name, payment_terms, credit_limit, current_balance, lifetime_value,
			total_orders, customer_since, merged_into
		FROM customers WHERE organization_id = $1 AND id = $2`

	// Two probes of orders_customer_date, each stopping at the first
	// counted order from its end.
	sqlFirstLastOrder = `SELECT
		(SELECT o.order_date FROM orders o WHERE o.organization_id = $1 AND o.customer_id = $2 AND ` + countedOrder + `
			ORDER BY o.order_date, o.id LIMIT 1),
		(SELECT o.order_date FROM orders o WHERE o.organization_id = $1 AND o.customer_id = $2 AND ` + countedOrder + `
			ORDER BY o.order_date DESC, o.id DESC LIMIT 1)`

	// Unpaid counted orders placed before $3 (orders_unpaid index).
	sqlOverdueOrders = `SELECT count(*), coalesce(sum(o.total_amount), 0), min(o.order_date)
		FROM orders o
		WHERE o.organization_id = $1 AND o.customer_id = $2 AND o.paid_date IS NULL AND o.order_date < $3
			AND ` + countedOrder

	// A period from $3 is the rollup's whole months from $4 (the first
	// month start at or after $3) plus the orders of [$3, $4), read directly.
	sqlPeriodMonths = `SELECT m.month, m.orders, m.revenue, m.paid_orders, m.payment_days
		FROM customer_order_months m
		WHERE m.organization_id = $1 AND m.customer_id = $2 AND m.month >= ` + monthOfTo + `
		UNION ALL
		SELECT ` + monthOfOrder + `, count(*), sum(o.total_amount), count(o.paid_date), coalesce(sum(` + paymentDays + `), 0)
		FROM orders o
		WHERE o.organization_id = $1 AND o.customer_id = $2 AND o.order_date >= $3 AND o.order_date < $4
			AND ` + countedOrder + `
		GROUP BY 1
		ORDER BY 1 DESC`

	sqlPeriodTopProducts = `SELECT p.product_id, (array_agg(p.product_name ORDER BY p.month DESC))[1],
			sum(p.quantity), sum(p.revenue) AS revenue
		FROM (
			SELECT m.product_id, m.product_name, m.month, m.quantity, m.revenue
			FROM customer_product_months m
			WHERE m.organization_id = $1 AND m.customer_id = $2 AND m.month >= ` + monthOfTo + `
			UNION ALL
			SELECT i.product_id, i.product_name, ` + monthOfOrder + `, i.quantity, i.quantity * i.unit_price
			FROM orders o
			JOIN order_items i ON i.organization_id = o.organization_id AND i.order_id = o.id
			WHERE o.organization_id = $1 AND o.customer_id = $2 AND o.order_date >= $3 AND o.order_date < $4
				AND ` + countedOrder + `
		) p
		GROUP BY p.product_id ORDER BY revenue DESC, p.product_id LIMIT 10`

	// The credit model's figures in one pass over the customer's counted
	// orders: $3 overdue cutoff (as-of minus terms), $4 terms in days, $5
	// start of the last 365 days.
	sqlCreditStats = `SELECT count(*), coalesce(sum(o.total_amount), 0),
			coalesce(sum(o.total_amount) FILTER (WHERE o.paid_date IS NULL), 0),
			min(o.order_date), max(o.order_date),
			count(*) FILTER (WHERE o.paid_date IS NOT NULL),
			avg(greatest(0, date_part('epoch', o.paid_date - o.order_date) / 86400 - $4))
				FILTER (WHERE o.paid_date IS NOT NULL),
			count(*) FILTER (WHERE o.paid_date IS NULL AND o.order_date < $3),
			coalesce(sum(o.total_amount) FILTER (WHERE o.paid_date IS NULL AND o.order_date < $3), 0),
			min(o.order_date) FILTER (WHERE o.paid_date IS NULL AND o.order_date < $3),
			coalesce(sum(o.total_amount) FILTER (WHERE o.order_date >= $5), 0)
		FROM orders o
		WHERE o.organization_id = $1 AND o.customer_id = $2 AND ` + countedOrder

	sqlInsertCreditCheck = `INSERT INTO credit_checks (organization_id, id, customer_id, checked, credit_score,
		credit_rating, recommended_credit_limit, current_credit_limit, risk_assessment, factors)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
)

// customerFacts are the customer fields the reports need beyond its orders.
type customerFacts struct {
	id, name, paymentTerms              string
	creditLimit, balance, lifetimeValue float64
	totalOrders                         int
	customerSince                       *time.Time
}

// CustomerAnalytics computes seed 003's analytics as of asOf for the period
// from since (nil: all time), and the stats segments and risk are rated
// from. It reads the customer row (all-time totals) and the monthly
// rollups, touching single orders only for the period's first, partial
// month and for unpaid ones; all in one snapshot.
func (s *Store) CustomerAnalytics(ctx context.Context, orgID, customerID string, asOf time.Time, since *time.Time) (*customer.Analytics, customer.OrderStats, error) {
	a := &customer.Analytics{OrderHistory: []customer.MonthlyOrders{}, TopProducts: []customer.ProductSales{}}
	var stats customer.OrderStats
	err := s.inSnapshot(ctx, func(tx pgx.Tx) error {
		f, err := findCustomerFacts(ctx, tx, orgID, customerID)
		if err != nil {
			return err
		}
		stats = customer.OrderStats{AsOf: asOf, TermsDays: customer.TermsDays(f.paymentTerms), Orders: f.totalOrders,
			LifetimeValue: f.lifetimeValue, Balance: f.balance, CreditLimit: f.creditLimit}
		period := periodRange(since)
		var periodRevenue, paymentDays float64
		var paidOrders int
		b := &pgx.Batch{}
		b.Queue(sqlFirstLastOrder, orgID, customerID).QueryRow(func(row pgx.Row) error {
			return row.Scan(&stats.FirstOrder, &stats.LastOrder)
		})
		b.Queue(sqlOverdueOrders, orgID, customerID, asOf.AddDate(0, 0, -stats.TermsDays)).QueryRow(func(row pgx.Row) error {
			return row.Scan(&stats.OverdueOrders, &stats.OverdueAmount, &stats.OldestOverdue)
		})
		b.Queue(sqlPeriodMonths, orgID, customerID, period.from, period.to).Query(func(rows pgx.Rows) error {
			var month time.Time
			var m customer.MonthlyOrders
			var paid int
			var days float64
			_, err := pgx.ForEachRow(rows, []any{&month, &m.Orders, &m.Revenue, &paid, &days}, func() error {
				m.Month = month.Format("2006-01")
				m.AvgOrderValue = customer.Round2(m.Revenue / float64(m.Orders))
				a.OrderHistory = append(a.OrderHistory, m)
				periodRevenue += m.Revenue
				paidOrders += paid
				paymentDays += days
				return nil
			})
			return err
		})
		b.Queue(sqlPeriodTopProducts, orgID, customerID, period.from, period.to).Query(func(rows pgx.Rows) error {
			var p customer.ProductSales
			_, err := pgx.ForEachRow(rows, []any{&p.ProductID, &p.ProductName, &p.QuantityOrdered, &p.Revenue}, func() error {
				a.TopProducts = append(a.TopProducts, p)
				return nil
			})
			return err
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return interpretError(fmt.Errorf("analytics: %w", err), nil)
		}
		stats.FirstOrder, stats.LastOrder, stats.OldestOverdue = utc(stats.FirstOrder), utc(stats.LastOrder), utc(stats.OldestOverdue)

		a.Customer = customer.AnalyticsCustomer{ID: f.id, Name: f.name}
		a.Overview = customer.Overview{LifetimeValue: f.lifetimeValue, TotalOrders: f.totalOrders,
			LastOrderDate: stats.LastOrder, CustomerSince: utc(f.customerSince)}
		if f.totalOrders > 0 {
			a.Overview.AvgOrderValue = customer.Round2(f.lifetimeValue / float64(f.totalOrders))
		}
		if stats.LastOrder != nil {
			d := customer.DaysSince(*stats.LastOrder, asOf)
			a.Overview.DaysSinceLastOrder = &d
		}
		a.FinancialSummary = customer.FinancialSummary{TotalRevenue: customer.Round2(periodRevenue),
			CurrentBalance: f.balance, CreditLimit: f.creditLimit, CreditUtilization: stats.Utilization()}
		if paidOrders > 0 {
			d := math.Round(paymentDays/float64(paidOrders)*10) / 10
			a.FinancialSummary.AvgPaymentDays = &d
		}
		return nil
	})
	if err != nil {
		return nil, customer.OrderStats{}, err
	}
	return a, stats, nil
}

// periodRange turns a period start into the bounds sqlPeriodMonths and
// sqlPeriodTopProducts take: the start and the first month start at or
// after it (both -infinity for all time: every rollup month, no single
// orders).
func periodRange(since *time.Time) timeRange {
	if since == nil {
		return timeRange{from: allTime.from, to: allTime.from}
	}
	month := monthOf(*since)
	to := month.to
	if month.from.Time.Equal(*since) {
		to = month.from // a period starting on a month boundary is whole months
	}
	return timeRange{from: pgtype.Timestamptz{Time: *since, Valid: true}, to: to}
}

// CreditStats returns the order aggregates the credit model scores.
func (s *Store) CreditStats(ctx context.Context, orgID, customerID string, asOf time.Time) (customer.OrderStats, error) {
	var stats customer.OrderStats
	err := s.inSnapshot(ctx, func(tx pgx.Tx) error {
		f, err := findCustomerFacts(ctx, tx, orgID, customerID)
		if err != nil {
			return err
		}
		stats = customer.OrderStats{AsOf: asOf, TermsDays: customer.TermsDays(f.paymentTerms), CreditLimit: f.creditLimit}
		err = tx.QueryRow(ctx, sqlCreditStats, orgID, customerID, asOf.AddDate(0, 0, -stats.TermsDays), stats.TermsDays, asOf.AddDate(-1, 0, 0)).
			Scan(&stats.Orders, &stats.LifetimeValue, &stats.Balance, &stats.FirstOrder, &stats.LastOrder,
				&stats.PaidOrders, &stats.AvgDaysLate, &stats.OverdueOrders, &stats.OverdueAmount, &stats.OldestOverdue,
				&stats.Revenue12m)
		if err != nil {
			return interpretError(fmt.Errorf("credit stats: %w", err), nil)
		}
		stats.FirstOrder, stats.LastOrder, stats.OldestOverdue = utc(stats.FirstOrder), utc(stats.LastOrder), utc(stats.OldestOverdue)
		return nil
	})
	return stats, err
}

// SaveCreditCheck records a credit check.
func (s *Store) SaveCreditCheck(ctx context.Context, orgID string, c *customer.CreditCheck) error {
	c.ID = customer.NewID(customer.PrefixCreditCheck)
	c.LastChecked = c.LastChecked.Truncate(time.Microsecond) // what PostgreSQL keeps
	factors, err := json.Marshal(c.Factors)
	if err != nil {
		return fmt.Errorf("credit factors: %w", err)
	}
	_, err = s.pool.Exec(ctx, sqlInsertCreditCheck, orgID, c.ID, c.CustomerID, c.LastChecked, c.CreditScore,
		c.CreditRating, c.RecommendedCreditLimit, c.CurrentCreditLimit, c.RiskAssessment, factors)
	if isForeignKeyViolation(err) {
		return customer.NotFound("Customer", c.CustomerID) // deleted meanwhile
	}
	return interpretError(err, nil)
}

func findCustomerFacts(ctx context.Context, tx pgx.Tx, orgID, customerID string) (*customerFacts, error) {
	var f customerFacts
	var mergedInto *string
	err := tx.QueryRow(ctx, sqlSelectCustomerFacts, orgID, customerID).
		Scan(&f.id, &f.name, &f.paymentTerms, &f.creditLimit, &f.balance, &f.lifetimeValue, &f.totalOrders,
			&f.customerSince, &mergedInto)
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Customer", customerID))
	}
	if mergedInto != nil {
		return nil, movedOrErased(customerID, *mergedInto)
	}
	return &f, nil
}

// inSnapshot runs fn in a read-only repeatable-read transaction, so every
// statement of a report sees the same orders.
func (s *Store) inSnapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return interpretError(fmt.Errorf("begin: %w", err), nil)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only: nothing to keep
	if err := fn(tx); err != nil {
		return err
	}
	return interpretError(tx.Commit(ctx), nil)
}
