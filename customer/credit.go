package customer

import (
	"math"
	"time"
)

// CreditCheck is the result of a credit check (seed 003), kept for history.
type CreditCheck struct {
	ID                     string        `json:"-"`
	CustomerID             string        `json:"customer_id"`
	CreditScore            int           `json:"credit_score"`
	CreditRating           string        `json:"credit_rating"`
	RecommendedCreditLimit float64       `json:"recommended_credit_limit"`
	CurrentCreditLimit     float64       `json:"current_credit_limit"`
	RiskAssessment         string        `json:"risk_assessment"`
	LastChecked            time.Time     `json:"last_checked"`
	Factors                CreditFactors `json:"factors"`
}

// CreditFactors are the points each part of the model contributed; the
// score is 300 plus their sum.
type CreditFactors struct {
	PaymentTimeliness int `json:"payment_timeliness"` // 0–200
	OverdueBalance    int `json:"overdue_balance"`    // 0–150
	CreditUtilization int `json:"credit_utilization"` // 0–100
	HistoryLength     int `json:"history_length"`     // 0–50
	OrderVolume       int `json:"order_volume"`       // 0–50
}

// Credit ratings.
const (
	RatingExcellent = "excellent"
	RatingGood      = "good"
	RatingFair      = "fair"
	RatingPoor      = "poor"
)

// ScoreCredit is the credit model: deterministic, from order history only,
// so the same history always gives the same answer. docs/api.md documents it.
//
//	payment timeliness 0–200: 200 − 5 × average days paid late (after
//	    order date + terms); 100 when nothing was paid yet
//	overdue balance    0–150: 150 × (1 − overdue ÷ max(credit limit,
//	    balance)), minus one point per day the oldest overdue order is
//	    past due (at most 75)
//	credit utilization 0–100: 100 × (1 − utilization); 50 without a limit
//	history length     0–50:  one point per 15 days from the first order
//	    to the last
//	order volume       0–50:  one point per order
//
// score = 300 + points (300–850); rating excellent ≥ 750, good ≥ 670,
// fair ≥ 580, else poor; risk low (excellent, good), medium (fair), high
// (poor). The recommended limit is the average monthly revenue of the last
// 12 months × 3 (excellent), 2 (good), 1 (fair) or 0 (poor), rounded to
// 100; without orders in that year it is the current limit (0 when poor).
func ScoreCredit(s OrderStats) CreditCheck {
	var f CreditFactors
	f.PaymentTimeliness = 100
	if s.AvgDaysLate != nil {
		f.PaymentTimeliness = clamp(int(math.Round(200-5*(*s.AvgDaysLate))), 0, 200)
	}
	f.OverdueBalance = 150
	if exposure := max(s.CreditLimit, s.Balance); s.OverdueAmount > 0 && exposure > 0 {
		share := math.Min(1, s.OverdueAmount/exposure)
		f.OverdueBalance = clamp(int(math.Round(150*(1-share)))-min(75, s.DaysPastDue()), 0, 150)
	}
	f.CreditUtilization = 50
	if s.CreditLimit > 0 {
		f.CreditUtilization = clamp(int(math.Round(100*(1-math.Min(s.Utilization(), 100)/100))), 0, 100)
	}
	if s.FirstOrder != nil && s.LastOrder != nil {
		// The span of repeated ordering, not the age of one old order.
		f.HistoryLength = clamp(DaysSince(*s.FirstOrder, *s.LastOrder)/15, 0, 50)
	}
	f.OrderVolume = clamp(s.Orders, 0, 50)

	score := 300 + f.PaymentTimeliness + f.OverdueBalance + f.CreditUtilization + f.HistoryLength + f.OrderVolume
	c := CreditCheck{CreditScore: score, CurrentCreditLimit: s.CreditLimit, LastChecked: s.AsOf, Factors: f}
	var multiplier float64
	switch {
	case score >= 750:
		c.CreditRating, c.RiskAssessment, multiplier = RatingExcellent, RiskLow, 3
	case score >= 670:
		c.CreditRating, c.RiskAssessment, multiplier = RatingGood, RiskLow, 2
	case score >= 580:
		c.CreditRating, c.RiskAssessment, multiplier = RatingFair, RiskMedium, 1
	default:
		c.CreditRating, c.RiskAssessment, multiplier = RatingPoor, RiskHigh, 0
	}
	switch {
	case s.Revenue12m > 0:
		c.RecommendedCreditLimit = math.Round(s.Revenue12m/12*multiplier/100) * 100
	case multiplier > 0:
		c.RecommendedCreditLimit = s.CreditLimit
	}
	return c
}

func clamp(v, lo, hi int) int { return min(hi, max(lo, v)) }
