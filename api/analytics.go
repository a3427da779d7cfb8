package api

import (
	"net/http"
	"strings"

	"github.com/linkitworks/customers/customer"
)

// handleCustomerAnalytics answers seed 003's analytics for period 30d, 90d,
// 1y or all (default), computed from orders as of the server's clock.
func (s *Server) handleCustomerAnalytics(w http.ResponseWriter, r *http.Request) error {
	period := strings.TrimSpace(r.URL.Query().Get("period"))
	if period == "" {
		period = "all"
	}
	now := s.now()
	since, ok := customer.PeriodStart(strings.ToLower(period), now)
	if !ok {
		return customer.Invalid(map[string]string{"period": "must be one of " + strings.Join(customer.Periods, ", ")})
	}
	a, stats, err := s.store.CustomerAnalytics(r.Context(), org(r).ID, r.PathValue("id"), now, since)
	if err != nil {
		return err
	}
	a.CustomerSegment, a.RiskScore = customer.Segment(stats), customer.Risk(stats)
	writeData(w, http.StatusOK, a)
	return nil
}

// handleCreditCheck scores the customer's order history with the
// documented model (customer.ScoreCredit) and records the check. The body,
// if any, is ignored: the check takes no input.
func (s *Server) handleCreditCheck(w http.ResponseWriter, r *http.Request) error {
	o, id := org(r), r.PathValue("id")
	stats, err := s.store.CreditStats(r.Context(), o.ID, id, s.now())
	if err != nil {
		return err
	}
	c := customer.ScoreCredit(stats)
	c.CustomerID = id
	if err := s.store.SaveCreditCheck(r.Context(), o.ID, &c); err != nil {
		return err
	}
	writeData(w, http.StatusOK, c)
	return nil
}
