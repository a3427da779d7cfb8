package customer

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Analytics is a customer's order analytics (seed 003). Overview is
// all-time; financial_summary.total_revenue, order_history and top_products
// cover the requested period. Every figure counts only orders that were not
// cancelled or returned.
type Analytics struct {
	Customer         AnalyticsCustomer `json:"customer"`
	Overview         Overview          `json:"overview"`
	FinancialSummary FinancialSummary  `json:"financial_summary"`
	OrderHistory     []MonthlyOrders   `json:"order_history"`
	TopProducts      []ProductSales    `json:"top_products"`
	CustomerSegment  string            `json:"customer_segment"`
	RiskScore        string            `json:"risk_score"`
}

// AnalyticsCustomer names the customer the analytics are about.
type AnalyticsCustomer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Overview is all-time.
type Overview struct {
	LifetimeValue      float64    `json:"lifetime_value"`
	TotalOrders        int        `json:"total_orders"`
	AvgOrderValue      float64    `json:"avg_order_value"`
	LastOrderDate      *time.Time `json:"last_order_date"`
	CustomerSince      *time.Time `json:"customer_since"`
	DaysSinceLastOrder *int       `json:"days_since_last_order"`
}

// FinancialSummary: total_revenue and avg_payment_days cover the period,
// the rest is current.
type FinancialSummary struct {
	TotalRevenue      float64 `json:"total_revenue"`
	CurrentBalance    float64 `json:"current_balance"`
	CreditLimit       float64 `json:"credit_limit"`
	CreditUtilization float64 `json:"credit_utilization"`
	// AvgPaymentDays is null when no order of the period was paid.
	AvgPaymentDays *float64 `json:"avg_payment_days"`
}

// MonthlyOrders is one calendar month (UTC) of order history.
type MonthlyOrders struct {
	Month         string  `json:"month"` // YYYY-MM
	Orders        int     `json:"orders"`
	Revenue       float64 `json:"revenue"`
	AvgOrderValue float64 `json:"avg_order_value"`
}

// ProductSales is one product's share of a customer's orders; revenue is
// the sum of quantity × unit price of its lines.
type ProductSales struct {
	ProductID       string  `json:"product_id"`
	ProductName     string  `json:"product_name"`
	QuantityOrdered int     `json:"quantity_ordered"`
	Revenue         float64 `json:"revenue"`
}

// Periods accepted by analytics.
var Periods = []string{"30d", "90d", "1y", "all"}

// PeriodStart is the first instant of a period ending at asOf; nil for
// "all". ok is false for an unknown period.
func PeriodStart(period string, asOf time.Time) (start *time.Time, ok bool) {
	var t time.Time
	switch period {
	case "30d":
		t = asOf.AddDate(0, 0, -30)
	case "90d":
		t = asOf.AddDate(0, 0, -90)
	case "1y":
		t = asOf.AddDate(-1, 0, 0)
	case "all":
		return nil, true
	default:
		return nil, false
	}
	return &t, true
}

// OrderStats are the aggregates of a customer's counted orders (not
// cancelled or returned) as of AsOf that segments, risk and credit scores
// are computed from. The store fills them in SQL.
type OrderStats struct {
	AsOf          time.Time
	TermsDays     int // payment terms in days, see TermsDays
	Orders        int
	LifetimeValue float64
	Balance       float64 // unpaid total
	CreditLimit   float64
	FirstOrder    *time.Time
	LastOrder     *time.Time
	PaidOrders    int
	// AvgDaysLate averages, over paid orders, the days paid after the due
	// date (order date + terms); early payment counts as 0. Nil when none.
	AvgDaysLate *float64
	// Overdue orders are unpaid past their due date.
	OverdueOrders int
	OverdueAmount float64
	OldestOverdue *time.Time // order date of the oldest overdue order
	Revenue12m    float64    // orders of the 365 days before AsOf
}

// TermsDays reads payment terms as days until payment is due: net_30,
// "Net 30" and net30 are 30; due_on_receipt, cod, cash, prepaid and
// immediate are 0; anything else (including no terms) is 30, the most
// common B2B default.
func TermsDays(terms string) int {
	t := strings.ToLower(strings.TrimSpace(terms))
	t = strings.NewReplacer("-", "_", " ", "_").Replace(t)
	switch t {
	case "due_on_receipt", "cod", "cash", "prepaid", "immediate":
		return 0
	}
	if rest, ok := strings.CutPrefix(t, "net"); ok {
		if n, err := strconv.Atoi(strings.TrimPrefix(rest, "_")); err == nil && n >= 0 && n <= 365 {
			return n
		}
	}
	return 30
}

// Utilization is the balance as a percentage of the credit limit, 0 when
// there is no limit.
func (s OrderStats) Utilization() float64 {
	if s.CreditLimit <= 0 {
		return 0
	}
	return Round2(s.Balance / s.CreditLimit * 100)
}

// DaysPastDue is how many whole days the oldest overdue order is past its
// due date; 0 when nothing is overdue.
func (s OrderStats) DaysPastDue() int {
	if s.OldestOverdue == nil {
		return 0
	}
	due := s.OldestOverdue.AddDate(0, 0, s.TermsDays)
	return max(0, int(s.AsOf.Sub(due).Hours()/24))
}

// Customer segments.
const (
	SegmentProspect  = "prospect"
	SegmentAtRisk    = "at_risk"
	SegmentHighValue = "high_value"
	SegmentNew       = "new"
	SegmentRegular   = "regular"
)

// Segment thresholds (in the customer's currency and days).
const (
	HighValueLifetime = 10000
	NewCustomerDays   = 90
	AtRiskDays        = 180
)

// Segment classifies a customer; the first rule that holds wins:
// prospect (no order yet), at_risk (last order AtRiskDays or more ago),
// high_value (lifetime value ≥ HighValueLifetime), new (first order less
// than NewCustomerDays ago), else regular.
func Segment(s OrderStats) string {
	switch {
	case s.Orders == 0 || s.LastOrder == nil:
		return SegmentProspect
	case daysBetween(*s.LastOrder, s.AsOf) >= AtRiskDays:
		return SegmentAtRisk
	case s.LifetimeValue >= HighValueLifetime:
		return SegmentHighValue
	case daysBetween(*s.FirstOrder, s.AsOf) < NewCustomerDays:
		return SegmentNew
	default:
		return SegmentRegular
	}
}

// Risk levels.
const (
	RiskLow    = "low"
	RiskMedium = "medium"
	RiskHigh   = "high"
)

// Risk rates the money at stake: high when credit utilization is 90% or
// more or an order is more than 60 days past due; medium when utilization
// is 60% or more or any order is past due; else low.
func Risk(s OrderStats) string {
	u := s.Utilization()
	switch {
	case u >= 90 || s.DaysPastDue() > 60:
		return RiskHigh
	case u >= 60 || s.OverdueOrders > 0:
		return RiskMedium
	default:
		return RiskLow
	}
}

// DaysSince is the number of whole days from t to asOf (never negative).
func DaysSince(t, asOf time.Time) int { return max(0, daysBetween(t, asOf)) }

func daysBetween(from, to time.Time) int { return int(math.Floor(to.Sub(from).Hours() / 24)) }

// Round2 rounds money and percentages to cents.
func Round2(x float64) float64 { return math.Round(x*100) / 100 }
