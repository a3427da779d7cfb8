package customer_test

import (
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
)

var asOf = time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) *time.Time {
	t := asOf.AddDate(0, 0, -n)
	return &t
}

func ptr[T any](v T) *T { return &v }

func TestTermsDays(t *testing.T) {
	t.Parallel()
	for terms, want := range map[string]int{
		"net_30": 30, "net_15": 15, "Net 45": 45, "net60": 60, "NET-7": 7, "net_0": 0,
		"due_on_receipt": 0, "COD": 0, "prepaid": 0, "": 30, "monthly": 30, "net_1000": 30, "net_x": 30,
	} {
		if got := customer.TermsDays(terms); got != want {
			t.Errorf("TermsDays(%q) = %d, want %d", terms, got, want)
		}
	}
}

func TestPeriodStart(t *testing.T) {
	t.Parallel()
	for period, want := range map[string]*time.Time{
		"30d": daysAgo(30), "90d": daysAgo(90), "1y": ptr(time.Date(2023, 6, 30, 12, 0, 0, 0, time.UTC)), "all": nil,
	} {
		got, ok := customer.PeriodStart(period, asOf)
		if !ok || (got == nil) != (want == nil) || (got != nil && !got.Equal(*want)) {
			t.Errorf("PeriodStart(%q) = %v, %v; want %v", period, got, ok, want)
		}
	}
	if _, ok := customer.PeriodStart("7d", asOf); ok {
		t.Error("7d accepted")
	}
}

func TestSegment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		stats customer.OrderStats
		want  string
	}{
		{"no orders", customer.OrderStats{}, customer.SegmentProspect},
		{"quiet for 180 days, even if high value", customer.OrderStats{Orders: 50, LifetimeValue: 50000, FirstOrder: daysAgo(900), LastOrder: daysAgo(180)}, customer.SegmentAtRisk},
		{"quiet for 179 days", customer.OrderStats{Orders: 2, LifetimeValue: 100, FirstOrder: daysAgo(400), LastOrder: daysAgo(179)}, customer.SegmentRegular},
		{"high value", customer.OrderStats{Orders: 3, LifetimeValue: 10000, FirstOrder: daysAgo(30), LastOrder: daysAgo(1)}, customer.SegmentHighValue},
		{"new", customer.OrderStats{Orders: 1, LifetimeValue: 9999.99, FirstOrder: daysAgo(89), LastOrder: daysAgo(89)}, customer.SegmentNew},
		{"regular at 90 days", customer.OrderStats{Orders: 1, LifetimeValue: 10, FirstOrder: daysAgo(90), LastOrder: daysAgo(90)}, customer.SegmentRegular},
	} {
		tc.stats.AsOf = asOf
		if got := customer.Segment(tc.stats); got != tc.want {
			t.Errorf("%s: Segment = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRisk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		stats customer.OrderStats
		want  string
	}{
		{"nothing owed", customer.OrderStats{CreditLimit: 1000}, customer.RiskLow},
		{"no limit, balance, not due", customer.OrderStats{Balance: 5000}, customer.RiskLow},
		{"59.99% used", customer.OrderStats{CreditLimit: 10000, Balance: 5999}, customer.RiskLow},
		{"60% used", customer.OrderStats{CreditLimit: 10000, Balance: 6000}, customer.RiskMedium},
		{"90% used", customer.OrderStats{CreditLimit: 10000, Balance: 9000}, customer.RiskHigh},
		{"past due", customer.OrderStats{TermsDays: 30, OverdueOrders: 1, OverdueAmount: 10, OldestOverdue: daysAgo(40)}, customer.RiskMedium},
		{"60 days past due", customer.OrderStats{TermsDays: 30, OverdueOrders: 1, OverdueAmount: 10, OldestOverdue: daysAgo(90)}, customer.RiskMedium},
		{"61 days past due", customer.OrderStats{TermsDays: 30, OverdueOrders: 1, OverdueAmount: 10, OldestOverdue: daysAgo(91)}, customer.RiskHigh},
	} {
		tc.stats.AsOf = asOf
		if got := customer.Risk(tc.stats); got != tc.want {
			t.Errorf("%s: Risk = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestScoreCredit(t *testing.T) {
	t.Parallel()
	best := customer.OrderStats{AsOf: asOf, TermsDays: 30, Orders: 80, LifetimeValue: 120000, CreditLimit: 20000,
		FirstOrder: daysAgo(1000), LastOrder: daysAgo(3), PaidOrders: 80, AvgDaysLate: ptr(0.0), Revenue12m: 60000}
	c := customer.ScoreCredit(best)
	if c.CreditScore != 850 || c.CreditRating != customer.RatingExcellent || c.RiskAssessment != customer.RiskLow || c.RecommendedCreditLimit != 15000 {
		t.Errorf("best customer: %+v", c)
	}
	worst := customer.OrderStats{AsOf: asOf, TermsDays: 30, Orders: 0, CreditLimit: 1000, Balance: 5000,
		PaidOrders: 3, AvgDaysLate: ptr(90.0), OverdueOrders: 3, OverdueAmount: 5000, OldestOverdue: daysAgo(200)}
	c = customer.ScoreCredit(worst)
	if c.CreditScore != 300 || c.CreditRating != customer.RatingPoor || c.RiskAssessment != customer.RiskHigh || c.RecommendedCreditLimit != 0 {
		t.Errorf("worst customer: %+v", c)
	}
	for score, rating := range map[int]string{750: "excellent", 749: "good", 670: "good", 669: "fair", 580: "fair", 579: "poor"} {
		// history length moves the score one point per 15 days.
		base := customer.OrderStats{AsOf: asOf, CreditLimit: 1000, PaidOrders: 1, AvgDaysLate: ptr(0.0), Orders: 0}
		base.AvgDaysLate = ptr(float64(200-(score-300-150-100)) / 5)
		if score-300-150-100 > 200 {
			base.AvgDaysLate = ptr(0.0)
			base.Orders = score - 300 - 150 - 100 - 200
		}
		c := customer.ScoreCredit(base)
		if c.CreditScore != score || c.CreditRating != rating {
			t.Errorf("score %d: got %d %s, want %s (%+v)", score, c.CreditScore, c.CreditRating, rating, c.Factors)
		}
	}
	oneOld := customer.OrderStats{AsOf: asOf, Orders: 1, FirstOrder: daysAgo(900), LastOrder: daysAgo(900)}
	if c := customer.ScoreCredit(oneOld); c.Factors.HistoryLength != 0 {
		t.Errorf("a single old order earned history points: %+v", c.Factors)
	}
	if a, b := customer.ScoreCredit(best), customer.ScoreCredit(best); a != b {
		t.Error("ScoreCredit is not deterministic")
	}
}
